"""Decoder records: DeepSeek-3B-MoE (DeepseekV2 layers with Llama attention, MLA off).

One forward pass over `seq_q` new tokens per sequence (prefill: the whole prompt; decode: one
token per step), `batch` sequences, attending to `seq_kv` keys. For decode, `seq_kv` is an
array (one entry per step): attention records get one row per (layer, step); every other op is
one row per layer with count = number of steps.

Per layer: input RMSNorm; q, k, v projections (no bias); rotary on q and k (3 FLOPs per element)
with its cos/sin table (2 FLOPs per (position, frequency)); attention core; K/V cache write;
o_proj; residual; post-attention RMSNorm; then either the dense SiLU-gated MLP (first layers) or
the MoE: fp32 gate Linear(hidden, experts), softmax and greedy top-k over the logits, token
dispatch, routed experts as grouped GEMMs over the experts that receive tokens, routing-weight
multiply and combine, the shared experts (one gated MLP of width shared x moe_intermediate) and
their sum; residual. Then the final RMSNorm and lm_head over `lm_rows` rows.

Experts that receive tokens: with t routed tokens each choosing k of E experts, the expected
number of distinct experts is E (1 - (1 - k/E)^t) (uniform routing); exactly k for one token.
"""

from __future__ import annotations

import numpy as np

from ...kernels.elementwise import (GATED_PRODUCT_FLOPS_PER_ELEMENT, ROTARY_FLOPS_PER_ELEMENT,
                                    ROTARY_TABLE_FLOPS_PER_ANGLE)
from .attention import attention_ops
from .builder import RecordBuilder, layer_names
from .config import DeepseekOCRConfig

DECODER = "decoder"


def active_experts(experts: int, per_token: int, tokens) -> np.ndarray:
    """Expected number of distinct experts receiving at least one of `tokens` tokens."""
    tokens = np.asarray(tokens, dtype=np.float64)
    return np.where(tokens <= 1, np.minimum(per_token * tokens, experts),
                    experts * (1.0 - (1.0 - per_token / experts) ** tokens))


def mlp_records(b: RecordBuilder, path, count, tokens, hidden: int, inter: int, tag: str = "",
                kind: str = "linear", experts=None) -> None:
    """SiLU-gated MLP down(silu(gate(x)) * up(x)); as grouped GEMMs over `experts` when given
    (tokens = token-expert pairs)."""
    extra = {} if experts is None else {"batch": experts}
    m = tokens if experts is None else tokens / experts
    b.add(kind, tag + "gate_proj", path, count, m=m, n=inter, k=hidden, **extra)
    b.add(kind, tag + "up_proj", path, count, m=m, n=inter, k=hidden, **extra)
    b.add("silu", tag + "act_fn", path, count, numel=tokens * inter)
    b.add("elementwise", tag + "gate_mul", path, count, numel=tokens * inter,
          flops_cuda=GATED_PRODUCT_FLOPS_PER_ELEMENT * tokens * inter)
    b.add(kind, tag + "down_proj", path, count, m=m, n=hidden, k=inter, **extra)


def decoder_layers(b: RecordBuilder, cfg: DeepseekOCRConfig, *, batch: int, seq_q: int, seq_kv,
                   causal: int, attention: str, count: float = 1.0, layers=None,
                   prefix: str = "decoder", attention_core: bool = True,
                   parts: tuple[str, ...] = ("attn", "mlp"), kv_write: bool = True,
                   core_rows: str = "all") -> None:
    """Decoder layers `layers` (default all) for one forward pass repeated `count` times, or one
    per entry of `seq_kv` when it is an array (decode steps; then count is ignored).
    core_rows: "all"; "skip" leaves out the attention-core rows (the only ones that depend on
    the context length in decode); "only" emits just those."""
    d = cfg.decoder
    e = cfg.element_bytes
    idx = tuple(range(d.layers)) if layers is None else tuple(layers)
    if not idx:
        return
    tokens = batch * seq_q
    steps = np.asarray(seq_kv if seq_kv is not None else np.nan)
    if steps.ndim == 1:
        count = float(len(steps))
    if core_rows == "only":
        parts = ("core",)
    blk = layer_names(prefix + ".layers.{}", idx)
    att = layer_names(prefix + ".layers.{}.self_attn", idx)
    hid, hd = d.hidden, d.head_dim
    q_dim, kv_dim = d.heads * hd, d.kv_heads * hd
    if "attn" in parts:
        b.add("rmsnorm", "input_layernorm", blk, count, rows=tokens, cols=hid)
        b.add("linear", "q_proj", att, count, m=tokens, n=q_dim, k=hid)
        b.add("linear", "k_proj", att, count, m=tokens, n=kv_dim, k=hid)
        b.add("linear", "v_proj", att, count, m=tokens, n=kv_dim, k=hid)
    if "rotary" in parts or ("attn" in parts and attention_core):
        # cos and sin tables (seq_q x rope_dim each) from positions x inverse frequencies
        angles = seq_q * d.rope_dim / 2
        table = 2 * seq_q * d.rope_dim
        b.add("elementwise", "rotary_emb", att, count, numel=table,
              flops_cuda=ROTARY_TABLE_FLOPS_PER_ANGLE * angles, extra_read=-2.0 * table * e)
    if "attn" in parts and attention_core:
        rot = tokens * (d.heads + d.kv_heads) * d.rope_dim
        # reads q/k once and the cos/sin rows (broadcast over heads), writes q/k
        b.add("elementwise", "apply_rotary", att, count, numel=rot,
              flops_cuda=ROTARY_FLOPS_PER_ELEMENT * rot,
              extra_read=-rot * e + 2.0 * tokens / batch * d.rope_dim * e)
        if kv_write:
            b.add("copy", "kv_cache_write", att, count, numel=2 * tokens * kv_dim)
    if "core" in parts or ("attn" in parts and attention_core and core_rows != "skip"):
        if steps.ndim == 1:      # one row per (layer, decode step)
            attention_ops(b, "", np.repeat(att, len(steps)), 1.0, attention=attention,
                          batch=batch, heads=d.heads, seq_q=seq_q,
                          seq_kv=np.tile(steps.astype(np.float64), len(idx)), head_dim=hd,
                          causal=causal)
        else:
            attention_ops(b, "", att, count, attention=attention, batch=batch, heads=d.heads,
                          seq_q=seq_q, seq_kv=float(steps), head_dim=hd, causal=causal)
    if "attn" in parts:
        b.add("linear", "o_proj", att, count, m=tokens, n=hid, k=q_dim)
        b.add("elementwise", "residual", blk, count, numel=tokens * hid)
    if "mlp" in parts or "moe" in parts or "dense" in parts:
        dense = tuple(i for i in idx if i < d.first_dense_layers)
        moe = tuple(i for i in idx if i >= d.first_dense_layers)
        b.add("rmsnorm", "post_attention_layernorm", blk, count, rows=tokens, cols=hid)
        if dense:
            mlp_records(b, layer_names(prefix + ".layers.{}.mlp", dense), count, tokens, hid,
                        d.intermediate)
        if moe:
            moe_records(b, cfg, layer_names(prefix + ".layers.{}.mlp", moe), count, tokens)
        b.add("elementwise", "residual", blk, count, numel=tokens * hid)


def moe_gate_records(b: RecordBuilder, cfg: DeepseekOCRConfig, path, count, tokens) -> None:
    d = cfg.decoder
    E = d.routed_experts
    b.add("linear", "gate", path, count, m=tokens, n=E, k=d.hidden, dtype=d.gate_dtype)
    b.add("softmax", "gate_softmax", path, count, rows=tokens, cols=E, dtype=d.gate_dtype)
    b.add("reduction", "gate_topk", path, count, rows=tokens, cols=E, dtype=d.gate_dtype)


def moe_records(b: RecordBuilder, cfg: DeepseekOCRConfig, path, count, tokens,
                gate: bool = True) -> None:
    d = cfg.decoder
    hid = d.hidden
    pairs = tokens * d.experts_per_token
    experts = active_experts(d.routed_experts, d.experts_per_token, tokens)
    if gate:
        moe_gate_records(b, cfg, path, count, tokens)
    b.add("index", "dispatch", path, count, numel=pairs * hid, rows=pairs)
    mlp_records(b, path, count, pairs, hid, d.moe_intermediate, tag="experts.",
                kind="grouped_gemm", experts=experts)
    b.add("elementwise", "routing_weight_mul", path, count, numel=pairs * hid)
    b.add("index", "combine", path, count, numel=pairs * hid, rows=pairs,
          flops_cuda=pairs * hid)  # scatter-add: one add per element
    if d.shared_experts:
        mlp_records(b, path, count, tokens, hid, d.shared_experts * d.moe_intermediate,
                    tag="shared_experts.")
        b.add("elementwise", "add_shared", path, count, numel=tokens * hid)


def embed_records(b: RecordBuilder, cfg: DeepseekOCRConfig, tokens, count: float = 1.0,
                  image_tokens: int = 0) -> None:
    d = cfg.decoder
    b.add("embedding", "embed_tokens", f"{DECODER}.embed_tokens", count, rows=tokens, cols=d.hidden)
    if image_tokens:
        b.add("index", "merge_image_features", f"{DECODER}.embed_tokens", count,
              numel=image_tokens * d.hidden, rows=image_tokens)


def head_records(b: RecordBuilder, cfg: DeepseekOCRConfig, tokens, lm_rows, count: float = 1.0) -> None:
    d = cfg.decoder
    b.add("rmsnorm", "norm", f"{DECODER}.norm", count, rows=tokens, cols=d.hidden)
    b.add("linear", "lm_head", "lm_head", count, m=lm_rows, n=d.vocab, k=d.hidden)
