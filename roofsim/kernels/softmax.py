"""softmax over `rows` x `cols` (along cols).

CUDA-core FLOPs per element: SOFTMAX_FLOPS_PER_ELEMENT = 5 (running max 1, subtract 1, exp 1,
sum 1, divide 1). Reads the input once and writes the output once (one-pass fused kernel).
"""

from __future__ import annotations

from ._common import element_bytes, param, result, rows_of

SOFTMAX_FLOPS_PER_ELEMENT = 5.0


def softmax_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    rows, cols = (param(params, p, n_rows, "softmax") for p in ("rows", "cols"))
    e = element_bytes(dtype, n_rows)
    numel = rows * cols
    return result(n_rows, flops_cuda=SOFTMAX_FLOPS_PER_ELEMENT * numel,
                  bytes_read=numel * e, bytes_written=numel * e)


FORMULAS = {"softmax": softmax_work}


# ---- torch runner for calibration (roofsim.calibration.runners) ----------------------------
def softmax_runner(params, dtype, device):
    """torch.softmax along the last dim of x[rows, cols]."""
    import torch
    from ..calibration.inputs import randn
    rows, cols = int(params["rows"]), int(params["cols"])
    return (lambda x: torch.softmax(x, dim=-1)), lambda: (randn((rows, cols), dtype, device),)


RUNNERS = {"softmax": softmax_runner}
