"""Attention in two variants, as records.

flash:  one fused `attention` record (scores stay on chip; K/V re-read per 128-query tile, see
        roofsim.kernels.attention). An additive bias (SAM's relative position) is read by the
        fused kernel and added on chip (1 CUDA-core FLOP per score).
normal: three records: `gemm` scores = Q K^T (written to memory), `softmax` (reads the scores,
        applies the 1/sqrt(d) scale, the bias or causal mask, writes the probabilities), `gemm`
        context = P V (reads them back). Same matrix FLOPs as flash where the mask is full;
        with a causal mask the unfused path computes (and writes) the whole score rectangle, as
        eager PyTorch does, while the fused kernel skips the masked half.
"""

from __future__ import annotations

from ...kernels.attention import visible_pairs
from ...kernels.softmax import SOFTMAX_FLOPS_PER_ELEMENT
from .builder import RecordBuilder

ATTENTION_VARIANTS = ("flash", "normal")


def attention_ops(b: RecordBuilder, tag: str, layer, count, *, attention: str, batch, heads,
                  seq_q, seq_kv, head_dim, causal: int, bias_bytes=0.0) -> None:
    """Records of one attention core (per row of the array arguments)."""
    if attention == "flash":
        scores = batch * heads * visible_pairs(seq_q, seq_kv, causal)
        b.add("attention", tag + "sdpa", layer, count, batch=batch, heads=heads, seq_q=seq_q,
              seq_kv=seq_kv, head_dim=head_dim, causal=causal, extra_read=bias_bytes,
              extra_cuda=scores if (bias_bytes is not None and _any(bias_bytes)) else 0.0)
    elif attention == "normal":
        bh = batch * heads
        scores = bh * seq_q * seq_kv
        masked = _any(bias_bytes) or causal
        b.add("gemm", tag + "scores", layer, count, batch=bh, m=seq_q, n=seq_kv, k=head_dim)
        b.add("softmax", tag + "softmax", layer, count, rows=bh * seq_q, cols=seq_kv,
              flops_cuda=(SOFTMAX_FLOPS_PER_ELEMENT + 1 + (1 if masked else 0)) * scores,
              extra_read=bias_bytes)
        b.add("gemm", tag + "context", layer, count, batch=bh, m=seq_q, n=head_dim, k=seq_kv)
    else:
        raise ValueError(f"attention variant must be one of {ATTENTION_VARIANTS}, got {attention!r}")


def _any(x) -> bool:
    try:
        return bool((x > 0).any())
    except AttributeError:
        return bool(x)
