"""Matrix-product kinds: gemm, linear, grouped_gemm.

gemm          A[m,k] @ B[k,n], `batch` independent products (bmm). Both operands are
              activations: weight_bytes = 0. FLOPs 2*batch*m*n*k.
linear        F.linear: `m` rows (times `batch`, default 1) of `k` input features to `n` output
              features; the weight [n,k] (+ bias [n] when bias = 1) is read once per launch and is
              the record's weight_bytes. Matrix FLOPs 2*batch*m*n*k; the bias add is one CUDA-core
              FLOP per output element (fused in the GEMM epilogue, but not tensor-core work).
grouped_gemm  MoE experts as one grouped launch: `batch` experts, each a linear of `m` tokens
              (the per-expert token count), k -> n; all `batch` experts' weights are read.

Matrix FLOPs are tensor-core work for bf16/fp16/fp8 and CUDA-core work for fp32.
"""

from __future__ import annotations

from ._common import element_bytes, matmul_split, param, result, rows_of


def gemm_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    m, n, k = (param(params, p, n_rows, "gemm") for p in ("m", "n", "k"))
    b = param(params, "batch", n_rows, "gemm", 1.0)
    e = element_bytes(dtype, n_rows)
    tensor, cuda = matmul_split(2.0 * b * m * n * k, dtype, n_rows)
    return result(n_rows, flops_tensor=tensor, flops_cuda=cuda,
                  bytes_read=b * (m * k + k * n) * e, bytes_written=b * m * n * e)


def _linear(params, dtype, kind: str) -> dict:
    n_rows = rows_of(params, dtype)
    m, n, k = (param(params, p, n_rows, kind) for p in ("m", "n", "k"))
    b = param(params, "batch", n_rows, kind, 1.0)
    bias = param(params, "bias", n_rows, kind, 0.0)
    e = element_bytes(dtype, n_rows)
    tensor, cuda = matmul_split(2.0 * b * m * n * k, dtype, n_rows)
    if kind == "grouped_gemm":
        # batch = experts: each expert has its own weight, tokens m per expert.
        weights = b * (n * k + bias * n) * e
    else:
        weights = (n * k + bias * n) * e
    return result(n_rows, flops_tensor=tensor, flops_cuda=cuda + b * m * n * bias,
                  bytes_read=b * m * k * e + weights, bytes_written=b * m * n * e,
                  weight_bytes=weights)


def linear_work(params, dtype) -> dict:
    return _linear(params, dtype, "linear")


def grouped_gemm_work(params, dtype) -> dict:
    return _linear(params, dtype, "grouped_gemm")


FORMULAS = {"gemm": gemm_work, "linear": linear_work, "grouped_gemm": grouped_gemm_work}


# ---- torch runners for calibration (roofsim.calibration.runners) ---------------------------
def gemm_runner(params, dtype, device):
    """A[batch,m,k] @ B[batch,k,n] (mm when batch is 1), random operands."""
    import torch
    from ..calibration.inputs import randn
    m, n, k, b = (int(params.get(p, d)) for p, d in (("m", 0), ("n", 0), ("k", 0), ("batch", 1)))
    scale = k ** -0.5
    if b == 1:
        return torch.mm, lambda: (randn((m, k), dtype, device), randn((k, n), dtype, device, scale))
    return torch.bmm, lambda: (randn((b, m, k), dtype, device),
                               randn((b, k, n), dtype, device, scale))


def linear_runner(params, dtype, device):
    """F.linear(x[batch*m, k], W[n, k], bias[n] or None), random operands."""
    import torch.nn.functional as F
    from ..calibration.inputs import randn
    m, n, k = (int(params[p]) for p in ("m", "n", "k"))
    rows = m * int(params.get("batch", 1))
    bias = int(params.get("bias", 0))

    def make():
        x, w = randn((rows, k), dtype, device), randn((n, k), dtype, device, k ** -0.5)
        return (x, w, randn((n,), dtype, device)) if bias else (x, w)
    return F.linear, make


def grouped_gemm_runner(params, dtype, device):
    """MoE experts as the transformers reference runs them (integrations/moe.py, grouped_mm):
    x[batch*m, k] sorted by expert, weights stored [experts, n, k] and passed transposed,
    offsets (int32 cumulative rows) giving m rows to each of `batch` experts."""
    import torch
    from ..calibration.inputs import randn
    grouped_mm = getattr(torch.nn.functional, "grouped_mm", None) or torch._grouped_mm
    m, n, k = (int(params[p]) for p in ("m", "n", "k"))
    experts = int(params.get("batch", 1))
    offs = torch.arange(1, experts + 1, device=device, dtype=torch.int32) * m

    def fn(x, w):
        return grouped_mm(x, w.transpose(-2, -1), offs=offs)
    return fn, lambda: (randn((experts * m, k), dtype, device),
                        randn((experts, n, k), dtype, device, k ** -0.5))


RUNNERS = {"gemm": gemm_runner, "linear": linear_runner, "grouped_gemm": grouped_gemm_runner}
