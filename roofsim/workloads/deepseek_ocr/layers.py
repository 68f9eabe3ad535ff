"""Per-layer records: one analytic layer of DeepSeek-OCR at the specification's settings.

`layer_records(cfg, name, **settings)` returns the records of one row of the specification's
per-layer verification table (names exactly as there) or of the extra layers named in the issue.
Default settings are the specification's (../shared/spec/README.md): one 1024 x 1024 global
view; SAM at 64 x 64 tokens (windows padded 64 -> 70: 25 windows of 196 tokens); CLIP at 257
tokens (256 + CLS); decoder layers at 512 tokens with the full 512 x 512 score matrix counted
(a FLOP counter's view); batch 1; NoTPTransformer / VitModel on a 2-layer CLIP; the `Attention`
row without relative position; `LlamaFlashAttention2` as its four projections only; the
`CLIPVisionEmbeddings_conv` patch conv on its native 224 x 224 input.

Settings (keyword arguments): attention ("flash" | "normal"), image_size (SAM view, 1024),
clip_tokens (257), decoder_tokens (512), clip_layers (2 for the NoTPTransformer / VitModel rows,
else the config's), projector_tokens (256: the global view's tokens), projector_depth (the
config's), causal (False: the full score matrix), attention_core (False for LlamaFlashAttention2
only), batch (1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UserError
from ...records import RecordTable, StageCost
from .builder import RecordBuilder
from .config import DeepseekOCRConfig
from .decoder import decoder_layers, head_records, mlp_records, moe_gate_records, moe_records
from .stages import activation_peak_bytes
from .vision import clip_records, neck_records, projector_records, sam_records


@dataclass(frozen=True)
class VerificationLayer:
    name: str
    group: str           # vision | decoder | llama
    impl_class: str      # the reference implementation's class
    note: str = ""


# The specification's verification rows (in its order), then the extra layers of the issue.
VERIFICATION_LAYERS: tuple[VerificationLayer, ...] = (
    VerificationLayer("Attention", "vision", "deepencoder.Attention",
                      "window attention, 25 windows of 196 tokens, no relative position"),
    VerificationLayer("MLPBlock", "vision", "deepencoder.MLPBlock"),
    VerificationLayer("PatchEmbed", "vision", "deepencoder.PatchEmbed"),
    VerificationLayer("Block", "vision", "deepencoder.Block", "global block with relative position"),
    VerificationLayer("CLIPVisionEmbeddings_conv", "vision", "deepencoder.CLIPVisionEmbeddings",
                      "patch conv at 224 x 224 (bypassed in DeepSeek-OCR)"),
    VerificationLayer("LayerNorm2d", "vision", "deepencoder.LayerNorm2d", "64 x 64 x 256"),
    VerificationLayer("ImageEncoderViT", "vision", "deepencoder.ImageEncoderViT",
                      "SAM + neck + net_2 + net_3 at 1024"),
    VerificationLayer("NoTPAttention", "vision", "deepencoder.NoTPAttention"),
    VerificationLayer("NoTPFeedForward", "vision", "deepencoder.NoTPFeedForward"),
    VerificationLayer("NoTPTransformerBlock", "vision", "deepencoder.NoTPTransformerBlock"),
    VerificationLayer("NoTPTransformer", "vision", "deepencoder.NoTPTransformer", "2 layers"),
    VerificationLayer("VitModel", "vision", "deepencoder.VitModel", "2 layers, conv bypassed"),
    VerificationLayer("MlpProjector", "vision", "deepencoder.MlpProjector",
                      "Linear(2048, 1280) over the global view's 256 tokens"),
    VerificationLayer("DeepseekV2MLP", "decoder", "modeling_deepseekv2.DeepseekV2MLP"),
    VerificationLayer("MoEGate", "decoder", "modeling_deepseekv2.MoEGate"),
    VerificationLayer("DeepseekV2MoE", "decoder", "modeling_deepseekv2.DeepseekV2MoE"),
    VerificationLayer("DeepseekV2RMSNorm", "decoder", "modeling_deepseekv2.DeepseekV2RMSNorm"),
    VerificationLayer("DeepseekV2DecoderLayer_dense", "decoder",
                      "modeling_deepseekv2.DeepseekV2DecoderLayer", "layer 0 (dense MLP)"),
    VerificationLayer("DeepseekV2DecoderLayer_moe", "decoder",
                      "modeling_deepseekv2.DeepseekV2DecoderLayer", "a MoE layer"),
    VerificationLayer("LlamaFlashAttention2", "llama",
                      "transformers.models.llama.modeling_llama.LlamaFlashAttention2",
                      "four projections only (the flash kernel is invisible to a FLOP counter)"),
    VerificationLayer("LlamaRotaryEmbedding", "llama",
                      "transformers.models.llama.modeling_llama.LlamaRotaryEmbedding"),
    # extra layers
    VerificationLayer("Attention_relpos", "vision", "deepencoder.Attention",
                      "window attention with relative position"),
    VerificationLayer("Attention_global", "vision", "deepencoder.Attention",
                      "global attention (64 x 64 tokens) without relative position"),
    VerificationLayer("Attention_global_relpos", "vision", "deepencoder.Attention",
                      "global attention with relative position"),
    VerificationLayer("Block_window", "vision", "deepencoder.Block", "window block with relative position"),
    VerificationLayer("neck", "vision", "deepencoder.ImageEncoderViT.neck"),
    VerificationLayer("net_2", "vision", "deepencoder.ImageEncoderViT.net_2"),
    VerificationLayer("net_3", "vision", "deepencoder.ImageEncoderViT.net_3"),
    VerificationLayer("LlamaAttention", "llama",
                      "transformers.models.llama.modeling_llama.LlamaAttention",
                      "projections, rotary and the attention core"),
    VerificationLayer("lm_head", "decoder", "torch.nn.Linear", "over all 512 positions"),
)
LAYER_NAMES = tuple(v.name for v in VERIFICATION_LAYERS)

_DEFAULTS = dict(attention="flash", image_size=None, clip_tokens=None, decoder_tokens=512,
                 clip_layers=None, projector_tokens=None, projector_depth=None, causal=False,
                 attention_core=None, batch=1)


def layer_records(cfg: DeepseekOCRConfig, layer: str, **settings) -> RecordTable:
    """Records of one analytic layer (see the module docstring for names and settings)."""
    unknown = set(settings) - set(_DEFAULTS)
    if unknown:
        raise UserError(f"unknown layer setting(s) {sorted(unknown)}; expected {sorted(_DEFAULTS)}")
    if layer not in LAYER_NAMES:
        raise UserError(f"unknown layer {layer!r}; expected one of {', '.join(LAYER_NAMES)}")
    s = {**_DEFAULTS, **settings}
    att, B = s["attention"], s["batch"]
    size = s["image_size"] or cfg.views.global_size
    q = size // cfg.views.patch_size // cfg.views.downsample
    clip_tokens = s["clip_tokens"] or q * q + 1
    S = s["decoder_tokens"]
    causal = int(bool(s["causal"]))
    b = RecordBuilder("layer", cfg.dtype)
    sam = cfg.sam
    first_window = next(i for i in range(sam.depth) if i not in sam.global_blocks)
    first_global = sam.global_blocks[0] if sam.global_blocks else first_window
    moe_layer = cfg.decoder.first_dense_layers
    sam_part = dict(attention=att, front=False, neck=False)

    if layer == "PatchEmbed":
        sam_records(b, cfg, size, B, blocks=(), **{**sam_part, "front": True})
    elif layer in ("Attention", "Attention_relpos", "Attention_global", "Attention_global_relpos"):
        block = first_global if "global" in layer else first_window
        sam_records(b, cfg, size, B, blocks=(block,), rel_pos=layer.endswith("relpos"), mlp=False,
                    **sam_part)
        b.drop(("norm1", "window_partition", "window_unpartition", "residual"))
    elif layer == "MLPBlock":
        sam_records(b, cfg, size, B, blocks=(first_window,), attn=False, **sam_part)
        b.drop(("norm2", "residual"))
    elif layer in ("Block", "Block_window"):
        block = first_global if layer == "Block" else first_window
        sam_records(b, cfg, size, B, blocks=(block,), **sam_part)
    elif layer == "LayerNorm2d":
        g = size // sam.patch_size
        b.add("layernorm", "layernorm2d", "vision.sam.neck.1", rows=B * g * g,
              cols=cfg.compressor.neck_dim)
    elif layer in ("neck", "net_2", "net_3"):
        neck_records(b, cfg, size, B, parts=(layer,))
    elif layer == "ImageEncoderViT":
        sam_records(b, cfg, size, B, attention=att)
    elif layer == "CLIPVisionEmbeddings_conv":
        c = cfg.clip
        b.add("conv2d", "patch_embedding", "vision.clip.embeddings.patch_embedding", batch=B,
              c_in=3, c_out=c.hidden, h=c.image_size, w=c.image_size, kernel=c.patch_size,
              stride=c.patch_size)
    elif layer in ("NoTPAttention", "NoTPFeedForward", "NoTPTransformerBlock"):
        clip_records(b, cfg, clip_tokens, B, attention=att, layers=1, embeddings=False,
                     attn=layer != "NoTPFeedForward", mlp=layer != "NoTPAttention")
        if layer != "NoTPTransformerBlock":
            b.drop(("layer_norm1", "layer_norm2", "residual"))
    elif layer in ("NoTPTransformer", "VitModel"):
        clip_records(b, cfg, clip_tokens, B, attention=att, layers=s["clip_layers"] or 2,
                     embeddings=layer == "VitModel")
    elif layer == "MlpProjector":
        projector_records(b, cfg, B * (s["projector_tokens"] or q * q), depth=s["projector_depth"])
    elif layer == "DeepseekV2MLP":
        d = cfg.decoder
        mlp_records(b, "decoder.layers.0.mlp", 1.0, B * S, d.hidden, d.intermediate)
    elif layer == "MoEGate":
        moe_gate_records(b, cfg, f"decoder.layers.{moe_layer}.mlp.gate", 1.0, B * S)
    elif layer == "DeepseekV2MoE":
        moe_records(b, cfg, f"decoder.layers.{moe_layer}.mlp", 1.0, B * S)
    elif layer == "DeepseekV2RMSNorm":
        b.add("rmsnorm", "input_layernorm", "decoder.layers.0", rows=B * S, cols=cfg.decoder.hidden)
    elif layer in ("DeepseekV2DecoderLayer_dense", "DeepseekV2DecoderLayer_moe"):
        idx = 0 if layer.endswith("dense") else moe_layer
        decoder_layers(b, cfg, batch=B, seq_q=S, seq_kv=S, causal=causal, attention=att,
                       layers=(idx,), attention_core=s["attention_core"] is not False)
    elif layer in ("LlamaFlashAttention2", "LlamaAttention"):
        core = s["attention_core"]
        core = (layer == "LlamaAttention") if core is None else core
        decoder_layers(b, cfg, batch=B, seq_q=S, seq_kv=S, causal=causal, attention=att,
                       layers=(0,), parts=("attn",), attention_core=core)
        b.drop(("input_layernorm", "residual"))
    elif layer == "LlamaRotaryEmbedding":
        decoder_layers(b, cfg, batch=B, seq_q=S, seq_kv=S, causal=causal, attention=att,
                       layers=(0,), parts=("rotary",))
    elif layer == "lm_head":
        head_records(b, cfg, B * S, B * S)
        b.drop(("norm",))
    return b.build()


def layer_cost(cfg: DeepseekOCRConfig, layer: str, **settings) -> StageCost:
    """Totals of one layer row as a StageCost (stage "layer"): activation peak is the largest
    single-launch activation working set (the stage model without a residual stream), KV cache
    the bytes the layer's attention writes to its cache."""
    table = layer_records(cfg, layer, **settings)
    kv = float(np.dot(table.bytes_written, table.count * (table.name == "kv_cache_write")))
    return StageCost.from_table("layer", table,
                                activation_peak_bytes=activation_peak_bytes(table, 0.0,
                                                                            cfg.element_bytes),
                                kv_cache_bytes=kv)
