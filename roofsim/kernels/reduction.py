"""reduction: `rows` x `cols` reduced along cols to `rows` values (sum, mean, max, top-k scan);
`stride` 1: over an outer dim (the rows' values lie `rows` elements apart), else along each
contiguous row.

CUDA-core FLOPs: REDUCTION_FLOPS_PER_ELEMENT = 1 per input element. Reads rows x cols, writes rows.
"""

from __future__ import annotations

from ._common import element_bytes, param, result, rows_of

REDUCTION_FLOPS_PER_ELEMENT = 1.0


def reduction_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    rows, cols = (param(params, p, n_rows, "reduction") for p in ("rows", "cols"))
    e = element_bytes(dtype, n_rows)
    return result(n_rows, flops_cuda=REDUCTION_FLOPS_PER_ELEMENT * rows * cols,
                  bytes_read=rows * cols * e, bytes_written=rows * e)


FORMULAS = {"reduction": reduction_work}


# ---- torch runner for calibration (roofsim.calibration.runners) ----------------------------
def reduction_runner(params, dtype, device):
    """torch.sum along the last dim of x[rows, cols]; with stride = 1 (an outer reduction,
    roofsim.kernels._common.REDUCTION_LAYOUTS), along the first dim of x[cols, rows]."""
    import torch
    from ..calibration.inputs import randn
    rows, cols = int(params["rows"]), int(params["cols"])
    if int(params.get("stride", 0) or 0) >= 1:
        return (lambda x: torch.sum(x, dim=0)), lambda: (randn((cols, rows), dtype, device),)
    return (lambda x: torch.sum(x, dim=-1)), lambda: (randn((rows, cols), dtype, device),)


RUNNERS = {"reduction": reduction_runner}
