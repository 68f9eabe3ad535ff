"""conv2d: `batch` images of `c_in` x `h` x `w` (input spatial size), `c_out` filters of
`kernel` x `kernel`, `stride`, `padding` (default 1 and 0), `bias` 0/1.

Output size ho = floor((h + 2 padding - kernel) / stride) + 1 (same for wo).
FLOPs: 2 * batch * c_out * ho * wo * c_in * kernel^2 (implicit GEMM: tensor-core work on
bf16/fp16); bias adds one CUDA-core FLOP per output element. Bytes: input read once, weights
(+ bias) read once (weight_bytes), output written once.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ._common import element_bytes, matmul_split, param, result, rows_of


def conv_output_size(size, kernel, stride, padding) -> np.ndarray:
    return np.floor((np.asarray(size) + 2 * np.asarray(padding) - kernel) / stride) + 1


def conv2d_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    c_in, c_out, h, w, k = (param(params, p, n_rows, "conv2d")
                            for p in ("c_in", "c_out", "h", "w", "kernel"))
    b = param(params, "batch", n_rows, "conv2d", 1.0)
    stride = param(params, "stride", n_rows, "conv2d", 1.0)
    pad = param(params, "padding", n_rows, "conv2d", 0.0)
    bias = param(params, "bias", n_rows, "conv2d", 0.0)
    if np.any(stride < 1) or np.any(k < 1):
        raise UserError("kind 'conv2d': stride and kernel must be at least 1")
    e = element_bytes(dtype, n_rows)
    ho = conv_output_size(h, k, stride, pad)
    wo = conv_output_size(w, k, stride, pad)
    if np.any(ho < 1) or np.any(wo < 1):
        raise UserError("kind 'conv2d': the kernel is larger than the padded input "
                        "(h + 2 padding and w + 2 padding must be >= kernel)")
    out = b * c_out * ho * wo
    tensor, cuda = matmul_split(2.0 * out * c_in * k * k, dtype, n_rows)
    weights = (c_out * c_in * k * k + bias * c_out) * e
    return result(n_rows, flops_tensor=tensor, flops_cuda=cuda + bias * out,
                  bytes_read=b * c_in * h * w * e + weights, bytes_written=out * e,
                  weight_bytes=weights)


FORMULAS = {"conv2d": conv2d_work}


# ---- torch runner for calibration (roofsim.calibration.runners) ----------------------------
def conv2d_runner(params, dtype, device):
    """F.conv2d on x[batch, c_in, h, w] (NCHW, contiguous) with W[c_out, c_in, kernel, kernel]."""
    import torch.nn.functional as F
    from ..calibration.inputs import randn
    b = int(params.get("batch", 1))
    c_in, c_out, h, w, k = (int(params[p]) for p in ("c_in", "c_out", "h", "w", "kernel"))
    stride, pad = int(params.get("stride", 1)), int(params.get("padding", 0))
    bias = int(params.get("bias", 0))

    def fn(x, weight, *b_):
        return F.conv2d(x, weight, b_[0] if b_ else None, stride=stride, padding=pad)

    def make():
        x = randn((b, c_in, h, w), dtype, device)
        weight = randn((c_out, c_in, k, k), dtype, device, (c_in * k * k) ** -0.5)
        return (x, weight, randn((c_out,), dtype, device)) if bias else (x, weight)
    return fn, make


RUNNERS = {"conv2d": conv2d_runner}
