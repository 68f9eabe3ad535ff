"""Normalizations over `rows` x `cols` (normalized along cols), with an affine weight of `cols`
(LayerNorm: weight and bias; RMSNorm: weight only), read once as weight_bytes.

CUDA-core FLOPs per element (a fused multiply-add in elementwise work counts as one FLOP; these
are the counts behind the specification's per-layer "Theoretical" column):
- layernorm: LAYERNORM_FLOPS_PER_ELEMENT = 5 (sum for the mean 1, subtract mean 1, square and
  accumulate 1, multiply by rstd 1, affine scale-and-shift 1). LayerNorm2d (channels-first, as
  in SAM's neck) is the same kind with rows = pixels, cols = channels.
- rmsnorm: RMSNORM_FLOPS_PER_ELEMENT = 3 (square and accumulate 1, multiply by rstd 1, weight 1).
The per-row rsqrt is negligible and not counted. Input read once, output written once.
"""

from __future__ import annotations

from ._common import element_bytes, param, result, rows_of

LAYERNORM_FLOPS_PER_ELEMENT = 5.0
RMSNORM_FLOPS_PER_ELEMENT = 3.0


def _norm(params, dtype, kind: str, per_element: float, affine_vectors: int) -> dict:
    n_rows = rows_of(params, dtype)
    rows, cols = (param(params, p, n_rows, kind) for p in ("rows", "cols"))
    e = element_bytes(dtype, n_rows)
    numel = rows * cols
    weights = affine_vectors * cols * e
    return result(n_rows, flops_cuda=per_element * numel, bytes_read=numel * e + weights,
                  bytes_written=numel * e, weight_bytes=weights)


def layernorm_work(params, dtype) -> dict:
    return _norm(params, dtype, "layernorm", LAYERNORM_FLOPS_PER_ELEMENT, 2)


def rmsnorm_work(params, dtype) -> dict:
    return _norm(params, dtype, "rmsnorm", RMSNORM_FLOPS_PER_ELEMENT, 1)


FORMULAS = {"layernorm": layernorm_work, "rmsnorm": rmsnorm_work}


# ---- torch runners for calibration (roofsim.calibration.runners) ---------------------------
def layernorm_runner(params, dtype, device):
    """F.layer_norm over the last dim of x[rows, cols], affine weight and bias."""
    import torch.nn.functional as F
    from ..calibration.inputs import randn
    rows, cols = int(params["rows"]), int(params["cols"])

    def fn(x, w, b):
        return F.layer_norm(x, (cols,), w, b, 1e-6)
    return fn, lambda: (randn((rows, cols), dtype, device), randn((cols,), dtype, device),
                        randn((cols,), dtype, device))


def rmsnorm_runner(params, dtype, device):
    """F.rms_norm over the last dim of x[rows, cols], affine weight."""
    import torch.nn.functional as F
    from ..calibration.inputs import randn
    rows, cols = int(params["rows"]), int(params["cols"])

    def fn(x, w):
        return F.rms_norm(x, (cols,), w, 1e-6)
    return fn, lambda: (randn((rows, cols), dtype, device), randn((cols,), dtype, device))


RUNNERS = {"layernorm": layernorm_runner, "rmsnorm": rmsnorm_runner}
