"""Parameter counts and weight bytes of DeepSeek-OCR, from the config.

Total (default config) 3,336,106,240 = SAM 95,569,152 + CLIP 303,177,728 (including the unused
patch conv) + projector 2,622,720 + separators 2,560 + decoder 2,934,734,080
(../shared/reference/deepseek-ocr.md; matches the checkpoint index, 6,672,212,480 bf16 bytes).

routed_experts: the MoE layers' routed experts (what expert parallelism splits).

Activated per decoded token: the parameters one decode step reads: every attention, norm and
dense-MLP weight, the MoE gates, experts_per_token routed experts and the shared experts of each
MoE layer, lm_head, and one embedding row (~574.1M for the default config).
"""

from __future__ import annotations

from .config import DeepseekOCRConfig


def _sam(cfg: DeepseekOCRConfig) -> dict[str, int]:
    s, c = cfg.sam, cfg.compressor
    C = s.embed_dim
    patch = s.in_chans * s.patch_size ** 2 * C + C
    pos = s.pos_embed_size ** 2 * C
    block = (2 * C                                        # norm1
             + C * 3 * C + (3 * C if s.qkv_bias else 0)   # qkv
             + C * C + C                                  # proj
             + 2 * C                                      # norm2
             + C * s.mlp_dim + s.mlp_dim + s.mlp_dim * C + C)
    rel = 0
    if s.rel_pos:
        for i in range(s.depth):
            side = s.pos_embed_size if i in s.global_blocks else s.window_size
            rel += 2 * (2 * side - 1) * s.head_dim
    neck = C * c.neck_dim + 2 * c.neck_dim + c.neck_dim ** 2 * 9 + 2 * c.neck_dim
    nets = c.neck_dim * c.net_2_dim * 9 + c.net_2_dim * c.net_3_dim * 9
    return {"patch_embed": patch, "pos_embed": pos, "blocks": s.depth * block + rel,
            "neck": neck, "net_2_net_3": nets}


def _clip(cfg: DeepseekOCRConfig) -> dict[str, int]:
    c = cfg.clip
    D = c.hidden
    side = c.image_size // c.patch_size
    layer = (2 * D + D * 3 * D + 3 * D + D * D + D + 2 * D
             + D * c.mlp_dim + c.mlp_dim + c.mlp_dim * D + D)
    return {"embeddings": D + 3 * c.patch_size ** 2 * D + (side * side + 1) * D,
            "pre_layrnorm": 2 * D, "layers": c.layers * layer}


def _decoder_layer(cfg: DeepseekOCRConfig, moe: bool, experts: int | None = None) -> int:
    d = cfg.decoder
    h = d.hidden
    attn = h * d.heads * d.head_dim + 2 * h * d.kv_heads * d.head_dim + d.heads * d.head_dim * h
    norms = 2 * h
    if not moe:
        return attn + norms + 3 * h * d.intermediate
    routed = d.routed_experts if experts is None else experts
    return (attn + norms + routed * 3 * h * d.moe_intermediate
            + 3 * h * d.shared_experts * d.moe_intermediate + h * d.routed_experts)


def parameter_counts(cfg: DeepseekOCRConfig) -> dict[str, int]:
    """Parameter counts per part, the total, and the parameters activated per decoded token."""
    d = cfg.decoder
    p = cfg.projector
    sam = sum(_sam(cfg).values())
    clip = sum(_clip(cfg).values())
    projector = p.input_dim * p.output_dim + p.depth * (p.output_dim if p.bias else 0) \
        + (p.depth - 1) * p.output_dim * p.output_dim
    separators = 2 * p.output_dim                       # image_newline, view_seperator
    embed = d.vocab * d.hidden
    lm_head = 0 if d.tie_embeddings else d.vocab * d.hidden
    dense, moe = d.first_dense_layers, d.moe_layers
    layers = dense * _decoder_layer(cfg, False) + moe * _decoder_layer(cfg, True)
    decoder = embed + lm_head + d.hidden + layers
    activated = (dense * _decoder_layer(cfg, False)
                 + moe * _decoder_layer(cfg, True, d.experts_per_token)
                 + d.hidden + d.vocab * d.hidden + d.hidden)  # final norm, lm_head, one embedding row
    routed = moe * d.routed_experts * 3 * d.hidden * d.moe_intermediate
    return {"sam": sam, "clip": clip, "projector": projector, "separators": separators,
            "vision": sam + clip + projector + separators, "decoder": decoder,
            "decoder_layers": layers, "embed_tokens": embed, "lm_head": lm_head,
            "routed_experts": routed, "total": sam + clip + projector + separators + decoder,
            "activated_per_decoded_token": activated}


def weight_bytes(cfg: DeepseekOCRConfig) -> int:
    """Bytes of all parameters in the config's dtype."""
    return parameter_counts(cfg)["total"] * cfg.element_bytes
