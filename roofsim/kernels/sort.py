"""sort: `rows` x `cols` sorted along cols (torch.sort / argsort: values and int64 indices).

Work counted (documented conventions; calibration times the real kernels):
- CUDA-core FLOPs: SORT_FLOPS_PER_ELEMENT_LEVEL = 1 comparison per element per level, log2(cols)
  levels (a comparison sort's n log2 n; radix sorts do passes over key bits instead, which the
  calibrated kind parameters and residual absorb);
- bytes: every element's key read and written, with its int64 index (SORT_INDEX_BYTES).
PyTorch sorts a short row (up to 4096 elements) with one bitonic kernel in shared memory and a
long one with cub's radix sort, a chain of launches (roofsim.perfmodel.launches_per_call: 21 for
int64 keys): the time jumps there, which calibration measures (kernels/sort.yaml) and the
residual carries; without a profile, the roofline pays a launch floor per launch.
MoE routing sorts tokens x top_k expert ids (int64) in one row.
"""

from __future__ import annotations

import numpy as np

from ._common import element_bytes, param, result, rows_of

SORT_FLOPS_PER_ELEMENT_LEVEL = 1.0
SORT_INDEX_BYTES = 8.0


def sort_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    rows, cols = (param(params, p, n_rows, "sort") for p in ("rows", "cols"))
    e = element_bytes(dtype, n_rows)
    numel = rows * cols
    levels = np.log2(np.maximum(cols, 2.0))
    moved = numel * (e + SORT_INDEX_BYTES)
    return result(n_rows, flops_cuda=SORT_FLOPS_PER_ELEMENT_LEVEL * numel * levels,
                  bytes_read=moved, bytes_written=moved)


FORMULAS = {"sort": sort_work}


# ---- torch runner for calibration (roofsim.calibration.runners) ----------------------------
def sort_runner(params, dtype, device):
    """torch.sort along the last dim of x[rows, cols]: random integer keys below cols (expert
    ids, as MoE routing sorts them) for integer dtypes, normal values otherwise."""
    import torch
    from ..calibration.inputs import randint, randn, torch_dtype
    rows, cols = int(params["rows"]), int(params["cols"])
    if not torch_dtype(dtype).is_floating_point:
        return (lambda x: torch.sort(x, dim=-1)), lambda: (
            randint(max(cols, 2), (rows, cols), device).to(torch_dtype(dtype)),)
    return (lambda x: torch.sort(x, dim=-1)), lambda: (randn((rows, cols), dtype, device),)


RUNNERS = {"sort": sort_runner}
