"""Scaled dot-product attention as CUDA would run it.

On meta and CPU tensors PyTorch decomposes `F.scaled_dot_product_attention` into its math path
(and on CPU the fused kernel hides the attention core from FlopCounterMode). Capture intercepts
SDPA at the function level instead and runs the aten op of the backend CUDA would launch, so
the record is the real fused kernel with its own FLOP formula. `choose_backend` follows
PyTorch's CUDA rules (aten/src/ATen/native/transformers/cuda/sdp_utils.cpp) for what capture
meets:
- fused kernels need fp16/bf16, 4-D inputs and head dims that are multiples of 8, <= 256;
- grouped-query attention (fewer K/V heads than query heads, `enable_gqa=True`, which
  transformers passes when there is no mask): flash attention takes it natively, K/V are
  not repeated; with a mask transformers repeats K/V itself (repeat_kv: copy kernels, which
  capture records where they happen) or packs the query heads of one token (pack_gqa);
- a value head dim unlike the query's (multi-head latent attention, MLA): not flash;
  memory-efficient attention takes it;
- otherwise flash without a mask, memory-efficient attention with an additive mask.
`sdpa_backend` forces one backend where it can take the call: "cudnn" is what PyTorch 2.11
picks on Hopper (the CUDA profiler on an H100 showed every SDPA call of the DeepSeek-OCR
reference, masked or not, as one cuDNN kernel); FLOPs are the same for every fused backend.
Causal attention is counted over the full seq_q x seq_kv scores, as torch.utils.flop_counter
counts it (the kernel skips masked tiles; the record's `causal` parameter says so).

Fused attention records move the bytes of roofsim/kernels/attention.py's formula (K and V
streamed once per query tile, a mask read once: the convention calibration measured the kernel
under); with grouped K/V heads the K/V part is that of the K/V heads (a group's query heads
share each streamed K/V tile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..kernels.attention import ATTENTION_CUDA_FLOPS_PER_SCORE
from .result import dtype_name

SDPA_BACKENDS = ("auto", "cudnn", "flash", "efficient", "math")
MAX_FUSED_HEAD_DIM = 256
FUSED_HEAD_DIM_MULTIPLE = 8

FLASH_OP = "_scaled_dot_product_flash_attention"
EFFICIENT_OP = "_scaled_dot_product_efficient_attention"
CUDNN_OP = "_scaled_dot_product_cudnn_attention"
# Ops whose mask argument is args[3] and is_causal args[6] (flash: is_causal args[4], no mask).
_MASKED_OPS = (EFFICIENT_OP, CUDNN_OP)


@dataclass(frozen=True)
class SdpaCall:
    """The arguments of one F.scaled_dot_product_attention call."""

    query: Any
    key: Any
    value: Any
    attn_mask: Any = None
    dropout_p: float = 0.0
    is_causal: bool = False
    scale: float | None = None
    enable_gqa: bool = False

    @property
    def grouped(self) -> bool:
        return self.query.shape[-3] != self.key.shape[-3]

    @property
    def same_head_dims(self) -> bool:
        return self.query.shape[-1] == self.key.shape[-1] == self.value.shape[-1]


def _fusable(call: SdpaCall, torch) -> bool:
    q, k, v = call.query, call.key, call.value
    dims = (q.shape[-1], v.shape[-1])
    return (q.dtype in (torch.float16, torch.bfloat16) and q.dim() == 4
            and k.dim() == 4 and v.dim() == 4 and q.shape[-1] == k.shape[-1]
            and all(d % FUSED_HEAD_DIM_MULTIPLE == 0 and d <= MAX_FUSED_HEAD_DIM for d in dims)
            and (not call.grouped or (call.enable_gqa and q.shape[1] % k.shape[1] == 0)))


def choose_backend(call: SdpaCall, forced: str, torch) -> str:
    """The backend CUDA would run `call` with (module docstring); `forced` != "auto" picks one
    where it can take the call."""
    if not _fusable(call, torch):
        return "math"
    masked = call.attn_mask is not None
    if call.grouped:
        # PyTorch's efficient kernel takes no GQA; transformers passes enable_gqa only unmasked.
        if masked:
            return "math"
        return forced if forced in ("cudnn", "flash") else "flash"
    if forced != "auto" and forced != "math":
        if forced == "flash" and (masked or not call.same_head_dims):
            return "efficient"                  # flash takes no mask and one head dim
        return forced
    if forced == "math":
        return "math"
    if masked or not call.same_head_dims:
        return "efficient"
    return "flash"


def run(call: SdpaCall, backend: str, torch):
    """Run `call` through `backend`'s aten op (the math path: the decomposed function)."""
    q, k, v = call.query, call.key, call.value
    if backend == "math":
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=call.attn_mask, dropout_p=call.dropout_p,
            is_causal=call.is_causal, scale=call.scale, enable_gqa=call.enable_gqa)
    if backend == "flash":
        return torch.ops.aten._scaled_dot_product_flash_attention(
            q, k, v, call.dropout_p, call.is_causal, False, scale=call.scale)[0]
    bias = call.attn_mask
    if bias is not None:
        if bias.dtype == torch.bool:   # PyTorch turns a boolean mask into an additive one
            bias = torch.zeros_like(bias, dtype=q.dtype).masked_fill_(
                bias.logical_not(), float("-inf"))
        bias = bias.expand(q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    if backend == "cudnn":
        return torch.ops.aten._scaled_dot_product_cudnn_attention(
            q, k, v, bias, False, call.dropout_p, call.is_causal, False, scale=call.scale)[0]
    return torch.ops.aten._scaled_dot_product_efficient_attention(
        q, k, v, bias, False, call.dropout_p, call.is_causal, scale=call.scale)[0]


def is_causal(name: str, args, kwargs) -> bool:
    if name in _MASKED_OPS:
        v = args[6] if len(args) > 6 else kwargs.get("is_causal", False)
    else:
        v = args[4] if len(args) > 4 else kwargs.get("is_causal", False)
    return bool(v)


def has_bias(name: str, args) -> bool:
    return name in _MASKED_OPS and len(args) > 3 and args[3] is not None


def key_mask(mask) -> bool:
    """Whether an attention mask is one row of keys per sequence, broadcast over heads and
    queries (shape [b, 1, 1, kv], or stride 0 along heads and queries)."""
    shape = tuple(getattr(mask, "shape", ()))
    if len(shape) != 4:
        return False
    stride = tuple(mask.stride()) if hasattr(mask, "stride") else (1,) * 4
    return all(n == 1 or st == 0 for n, st in zip(shape[1:3], stride[1:3]))


@dataclass(frozen=True)
class AttentionWork:
    """One fused attention kernel: shape parameters (roofsim/kernels/attention.py), matrix
    FLOPs, CUDA-core FLOPs and bytes."""

    params: dict
    matrix_flops: float
    cuda_flops: float
    bytes_read: float
    bytes_written: float


def attention_work(name: str, args, kwargs, counted_flops: float | None) -> AttentionWork:
    """Work of a fused attention op from its q (b, h, sq, d_qk), k (b, h_kv, skv, d_qk) and
    v (b, h_kv, skv, d_v): head_dim d_qk and, where the value head differs (multi-head latent
    attention), head_dim_v d_v; the kernel formula counts QK^T over d_qk and PV over d_v, Q and K
    of d_qk, V and O of d_v.
    counted_flops: torch.utils.flop_counter's figure where it has one."""
    from ..kernels import work
    q, k, v = args[0], args[1], args[2]
    b, h, sq, d_qk = (int(s) for s in q.shape)
    h_kv, skv, d_v = int(k.shape[1]), int(k.shape[2]), int(v.shape[-1])
    params = {"batch": b, "heads": h, "seq_q": sq, "seq_kv": skv,
              "head_dim": d_qk, "causal": int(is_causal(name, args, kwargs))}
    if d_v != d_qk:
        params["head_dim_v"] = d_v
    bias = has_bias(name, args)
    if bias:
        # A mask is read: another kernel variant. 2: one row of keys shared by every head and
        # query (transformers' padding / static-cache mask, [b, 1, 1, kv]); 1: a mask per score.
        params["bias"] = 2 if key_mask(args[3]) else 1
    scores = float(b * h * sq * skv)
    matrix = counted_flops if counted_flops is not None else 2.0 * scores * (d_qk + d_v)
    dtype = dtype_name(q.dtype)
    moved = work("attention", params, dtype)
    read = float(moved["bytes_read"][0])
    if h_kv < h:
        q_only = work("attention", {**params, "seq_kv": 0, "causal": 0}, dtype)
        q_read = float(q_only["bytes_read"][0])
        read = q_read + (read - q_read) * h_kv / h
    cuda = ATTENTION_CUDA_FLOPS_PER_SCORE * scores + (scores if bias else 0.0)
    return AttentionWork(params, float(matrix), cuda, read, float(moved["bytes_written"][0]))
