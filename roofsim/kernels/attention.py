"""attention: scaled dot-product attention as one fused (flash-style) kernel.

Parameters: batch, heads, seq_q, seq_kv, head_dim, causal (0/1; with seq_q < seq_kv the queries
are the last seq_q positions, as in decode and chunked prefill); head_dim_v, the value head size
where it is not head_dim (multi-head latent attention: queries and keys of 192, values of 128).

FLOPs: QK^T is 2 * seq_q * seq_kv * head_dim and PV 2 * seq_q * seq_kv * head_dim_v per
(batch, head) -> tensor-core work (CUDA-core for fp32). With causal = 1 only the visible (query, key) pairs count.
CUDA-core FLOPs per visible score element: ATTENTION_CUDA_FLOPS_PER_SCORE = 1 (scale by
1/sqrt(d)) + 5 (softmax: max, subtract, exp, sum, divide; see softmax.py) = 6.

Bytes (flash): scores stay on chip. Q (head_dim) is read once and O (head_dim_v) written once; K
(head_dim) and V (head_dim_v) are streamed from memory once per query tile of FLASH_Q_TILE rows (FlashAttention-2's forward block size), only
over the visible keys when causal. The fp32 log-sum-exp per query row is written too.

The "normal" (unfused) variant is composed by the workload from gemm + softmax + gemm records
(scores written to and read back from memory); `normal_attention_parts` gives their shapes.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ._common import element_bytes, matmul_split, param, result, rows_of
from .softmax import SOFTMAX_FLOPS_PER_ELEMENT

FLASH_Q_TILE = 128
ATTENTION_CUDA_FLOPS_PER_SCORE = 1.0 + SOFTMAX_FLOPS_PER_ELEMENT
LSE_BYTES = 4  # fp32 log-sum-exp per query row
KEY_MASK_BYTES = 1  # a boolean key mask (bias = 2): one byte per key and sequence


def visible_pairs(seq_q, seq_kv, causal) -> np.ndarray:
    """(query, key) pairs a query attends to: all, or the causal triangle when causal = 1
    (queries are the last seq_q positions of seq_kv)."""
    seq_q = np.asarray(seq_q, dtype=np.float64)
    seq_kv = np.asarray(seq_kv, dtype=np.float64)
    full = seq_q * seq_kv
    tri = seq_q * (seq_kv - seq_q) + seq_q * (seq_q + 1) / 2
    return np.where(np.asarray(causal) > 0, np.minimum(tri, full), full)


def kv_stream_rows(seq_q, seq_kv, causal) -> np.ndarray:
    """Key rows (of K, and as many of V) streamed per (batch, head): all seq_kv for each query
    tile of FLASH_Q_TILE rows, or on average the visible fraction when causal."""
    seq_q = np.asarray(seq_q, dtype=np.float64)
    q_tiles = np.ceil(seq_q / FLASH_Q_TILE)
    pairs = visible_pairs(seq_q, seq_kv, causal)
    visible = q_tiles * np.where(seq_q > 0, pairs / np.maximum(seq_q, 1), 0.0)
    return np.where(np.asarray(causal) > 0, visible, q_tiles * np.asarray(seq_kv, dtype=np.float64))


def value_head_dim(params, n_rows: int, head_dim) -> np.ndarray:
    """The value head size of each row: head_dim_v where given (not NaN), else head_dim."""
    raw = params.get("head_dim_v")
    if raw is None:
        return np.asarray(head_dim, dtype=np.float64) * np.ones(n_rows)
    given = np.asarray(raw, dtype=np.float64) * np.ones(n_rows)
    filled = np.where(np.isnan(given), head_dim, given)
    return param({"head_dim_v": filled}, "head_dim_v", n_rows, "attention")


def attention_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    sq, skv, d = (param(params, p, n_rows, "attention") for p in ("seq_q", "seq_kv", "head_dim"))
    dv = value_head_dim(params, n_rows, d)
    b = param(params, "batch", n_rows, "attention", 1.0)
    h = param(params, "heads", n_rows, "attention", 1.0)
    causal = param(params, "causal", n_rows, "attention", 0.0)
    if np.any((causal > 0) & (sq > skv)):
        raise UserError("kind 'attention': causal = 1 needs seq_q <= seq_kv (the queries are the "
                        "last seq_q of the seq_kv positions)")
    e = element_bytes(dtype, n_rows)
    bh = b * h
    pairs = visible_pairs(sq, skv, causal)
    tensor, cuda = matmul_split(2.0 * bh * pairs * (d + dv), dtype, n_rows)
    bytes_read = bh * (sq * d + kv_stream_rows(sq, skv, causal) * (d + dv)) * e
    bytes_written = bh * sq * (dv * e + LSE_BYTES)
    # bias = 1: an additive mask of seq_q x seq_kv per (batch, head) is read and added to
    # every score (SAM's decomposed relative position), as roofsim.capture counts it;
    # bias = 2: a boolean key mask of seq_kv per sequence, shared by the heads and queries
    # (transformers' padding / static-cache mask), read once per sequence and applied to every
    # score.
    flag = param(params, "bias", n_rows, "attention", 0.0)
    bias = flag > 0
    mask_bytes = np.where(flag >= 2, b * skv * KEY_MASK_BYTES, bh * sq * skv * e)
    bytes_read = bytes_read + np.where(bias, mask_bytes, 0.0)
    cuda = cuda + np.where(bias, bh * sq * skv, 0.0)
    return result(n_rows, flops_tensor=tensor,
                  flops_cuda=cuda + ATTENTION_CUDA_FLOPS_PER_SCORE * bh * pairs,
                  bytes_read=bytes_read, bytes_written=bytes_written)


def normal_attention_parts(batch, heads, seq_q, seq_kv, head_dim, causal=0) -> dict:
    """Shapes of the unfused variant: scores = Q @ K^T (gemm, batch*heads products of
    seq_q x head_dim x seq_kv), softmax over (batch*heads*seq_q) rows of seq_kv, then
    out = P @ V (gemm, seq_q x seq_kv x head_dim). Returned as shape-parameter dicts."""
    bh = np.asarray(batch, dtype=np.float64) * heads
    return {
        "scores": {"batch": bh, "m": seq_q, "n": seq_kv, "k": head_dim},
        "softmax": {"rows": bh * seq_q, "cols": seq_kv},
        "context": {"batch": bh, "m": seq_q, "n": head_dim, "k": seq_kv},
    }


FORMULAS = {"attention": attention_work}


# ---- torch runner for calibration (roofsim.calibration.runners) ----------------------------
def attention_runner(params, dtype, device):
    """F.scaled_dot_product_attention on q[b,h,seq_q,d], k[b,h,seq_kv,d], v[b,h,seq_kv,d_v]
    (d_v = head_dim_v where given, else d; torch's default backend choice). Causal with seq_q < seq_kv masks bottom-right (queries are the last
    positions, as the formula assumes); one causal query sees every key, so it runs unmasked."""
    import torch.nn.functional as F
    from ..calibration.inputs import randn
    b, h, sq, skv, d = (int(params.get(p, 1)) for p in ("batch", "heads", "seq_q", "seq_kv",
                                                         "head_dim"))
    dv = params.get("head_dim_v")
    dv = d if dv is None or dv != dv else int(dv)          # absent or NaN: the same as d
    causal = int(params.get("causal", 0)) > 0 and sq > 1
    kwargs = {}
    if causal and sq == skv:
        kwargs["is_causal"] = True
    elif causal:
        from torch.nn.attention.bias import causal_lower_right
        kwargs["attn_mask"] = causal_lower_right(sq, skv)

    def qkv():
        return (randn((b, h, sq, d), dtype, device), randn((b, h, skv, d), dtype, device),
                randn((b, h, skv, dv), dtype, device))

    bias = int(params.get("bias", 0))
    if not bias or "attn_mask" in kwargs:
        def fn(q, k, v):
            return F.scaled_dot_product_attention(q, k, v, **kwargs)
        return fn, qkv

    def masked(q, k, v, mask):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)

    if bias >= 2:
        # A boolean key mask per sequence shared by heads and queries, as transformers passes
        # a static cache's (its last quarter: positions not yet written).
        def make():
            import torch
            mask = torch.ones((b, 1, 1, skv), dtype=torch.bool, device=device)
            mask[..., skv - skv // 4:] = False
            return qkv() + (mask,)
    else:
        # An additive float mask per (batch, head), as SAM's relative-position bias is passed.
        def make():
            return qkv() + (randn((b, h, sq, skv), dtype, device),)
    return masked, make


RUNNERS = {"attention": attention_runner}
