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

import numpy as np

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
