"""embedding: `rows` token ids looked up in a table of width `cols`.

No FLOPs. Reads the int64 ids and the `rows` x `cols` looked-up parameters (weight_bytes: only
the rows touched are read), writes rows x cols.
"""

from __future__ import annotations

from ._common import INDEX_BYTES, element_bytes, param, result, rows_of


def embedding_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    rows, cols = (param(params, p, n_rows, "embedding") for p in ("rows", "cols"))
    e = element_bytes(dtype, n_rows)
    weights = rows * cols * e
    return result(n_rows, bytes_read=rows * INDEX_BYTES + weights, bytes_written=rows * cols * e,
                  weight_bytes=weights)


FORMULAS = {"embedding": embedding_work}


# ---- torch runner for calibration (roofsim.calibration.runners) ----------------------------
# Table height for timing: DeepSeek-OCR's vocabulary (the formula does not depend on it).
RUNNER_VOCAB = 129280


def embedding_runner(params, dtype, device):
    """F.embedding of `rows` random token ids into one table [RUNNER_VOCAB, cols]; the ids
    rotate, the table is shared (its rows are drawn at random, so mostly cold anyway)."""
    import torch.nn.functional as F
    from ..calibration.inputs import randint, randn
    rows, cols = int(params["rows"]), int(params["cols"])
    table = randn((RUNNER_VOCAB, cols), dtype, device)

    def fn(ids):
        return F.embedding(ids, table)
    return fn, lambda: (randint(RUNNER_VOCAB, (rows,), device),)


RUNNERS = {"embedding": embedding_runner}
