"""Parameter counts of a transformers model, read off the model built on meta, and the closed
form of its prefill FLOPs (the cross-check of a capture).

Active parameters are those one token runs through: everything but the routed experts a
token is not sent to (top_k of n experts are active; shared experts and routers always are),
the embedding table (a gather, not a matrix product) and, for vision-language models, the
vision encoder (its own stage).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .configs import ModelConfig


@dataclass(frozen=True)
class ParameterCounts:
    total: int                 # every parameter, tied ones once
    active: int                # per decoded token: see the module docstring (lm_head included)
    embedding: int
    lm_head: int
    routed_experts: int        # parameters of all routed experts
    vision: int                # the vision encoder of a vision-language model
    layers: int

    def as_dict(self) -> dict:
        return asdict(self)


def experts_and_top_k(mc: ModelConfig) -> tuple[int, int]:
    """(routed experts, experts per token); (0, 0) for a dense model."""
    t = mc.text
    n = t.get("num_experts") or t.get("n_routed_experts") or t.get("num_local_experts") or 0
    return int(n), int(t.get("num_experts_per_tok") or 0) if n else 0


def shard_sizes(mc: ModelConfig):
    """What a parallel plan splits of the model (roofsim.parallel.ModelSizes): the decoder's
    heads and MLP widths, the routed experts, the vision encoder's heads."""
    from ...parallel import ModelSizes
    t, vision = mc.text, mc.vision or {}
    heads = t.get("num_attention_heads")
    n_experts, _ = experts_and_top_k(mc)
    # a MoE model without moe_intermediate_size (Mixtral) gives its experts intermediate_size
    expert_mlp = t.get("moe_intermediate_size") or (t.get("intermediate_size") if n_experts
                                                    else None)
    dense = t.get("intermediate_size") if not n_experts or t.get("moe_intermediate_size") \
        else None
    vision_heads = vision.get("num_heads") or vision.get("num_attention_heads")
    return ModelSizes(mc.name, heads, t.get("num_key_value_heads") or heads,
                      mlp=(dense,) if dense else (), expert_mlp=expert_mlp if n_experts else None,
                      experts=n_experts, vision_heads=(vision_heads,) if vision_heads else (),
                      latent_kv="kv_lora_rank" in t)


def _vision_module(model):
    inner = getattr(model, "model", None)
    return getattr(inner, "visual", None) or getattr(inner, "vision_tower", None)


def parameter_counts(model, mc: ModelConfig) -> ParameterCounts:
    n_experts, top_k = experts_and_top_k(mc)
    seen: set[int] = set()
    total = routed = 0
    for name, p in model.named_parameters(remove_duplicate=True):
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if n_experts and ".experts." in f".{name}" and p.dim() >= 1 and p.shape[0] == n_experts:
            routed += p.numel()
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings()
    head_n = head.weight.numel() if head is not None else 0
    vis = _vision_module(model)
    vision = sum(p.numel() for p in vis.parameters()) if vis is not None else 0
    inactive = routed - (routed * top_k // n_experts if n_experts else 0)
    tied = head is not None and head.weight is emb
    active = total - inactive - emb.numel() - vision + (head_n if tied else 0)
    return ParameterCounts(total=total, active=active, embedding=emb.numel(), lm_head=head_n,
                           routed_experts=routed, vision=vision, layers=mc.num_layers)


KV_ELEMENT_BYTES = 2          # bf16 cache


def kv_cache_bytes_per_token(mc: ModelConfig) -> int:
    """Bytes the decoder's KV cache holds per position (bf16), as transformers caches it:
    K and V of the KV heads per layer, or MLA's compressed latent and rotary key."""
    t = mc.text
    if "kv_lora_rank" in t:
        per_layer = int(t["kv_lora_rank"]) + int(t["qk_rope_head_dim"])
    else:
        heads = int(t["num_attention_heads"])
        kv = int(t.get("num_key_value_heads") or heads)
        per_layer = 2 * kv * int(t.get("head_dim") or int(t["hidden_size"]) // heads)
    return mc.num_layers * per_layer * KV_ELEMENT_BYTES


def attention_flops(mc: ModelConfig, batch: int, seq_q: int, seq_kv: int) -> float:
    """Matrix FLOPs of the decoder's attention cores: QK^T and PV over all seq_q x seq_kv
    scores per head and layer (causal counted in full, as torch.utils.flop_counter does)."""
    t = mc.text
    heads = int(t["num_attention_heads"])
    if "qk_nope_head_dim" in t:                               # multi-head latent attention
        d_qk = int(t["qk_nope_head_dim"]) + int(t["qk_rope_head_dim"])
        d_v = int(t["v_head_dim"])
    else:
        d_qk = d_v = int(t.get("head_dim") or int(t["hidden_size"]) // heads)
    return 2.0 * mc.num_layers * batch * heads * seq_q * seq_kv * (d_qk + d_v)


def prefill_flops(counts: ParameterCounts, mc: ModelConfig, tokens: int, batch: int = 1) -> float:
    """Closed form: 2 x active parameters (but lm_head) x tokens + lm_head on the last position
    of each row + attention."""
    body = counts.active - counts.lm_head
    return (2.0 * body * tokens * batch + 2.0 * counts.lm_head * batch
            + attention_flops(mc, batch, tokens, tokens))
