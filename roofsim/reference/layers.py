"""Per-layer reference cases: the transformers module that stands for each analytic layer of
the specification's layer-wise verification, with meta inputs at the specification's settings.

Settings follow roofsim.workloads.deepseek_ocr.layers (and ../shared/spec/README.md): one
1024 x 1024 view (SAM at 64 x 64 tokens; windows of 14 x 14, 25 of them after padding 64 -> 70),
CLIP at 257 tokens, decoder layers at 512 tokens with the full score matrix (what a FLOP counter
counts, and what capture counts), batch 1; NoTPTransformer / VitModel on a 2-layer CLIP; the
`Attention` row without relative position; the projector over the global view's 256 tokens.

`LlamaFlashAttention2` is the decoder's attention module with its fused attention kernel left
out of the count, as in the specification (a FLOP counter cannot see inside flash-attention-2);
`LlamaAttention` is the same module counted whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import _compat
from .models import ClipOverSam, build, clip_config, sam_config, text_config
from .spec import DEEPSEEK_OCR, ReferenceSpec


@dataclass(frozen=True, eq=False)
class LayerCase:
    name: str
    module: Any
    args: tuple
    kwargs: dict
    reference_class: str            # fully qualified class of the module traced
    exclude_kinds: tuple[str, ...] = ()
    note: str = ""


def _cases(spec: ReferenceSpec) -> dict[str, Callable[[], LayerCase]]:
    X = _compat.load()
    torch = X.torch
    q = _compat.qualname
    bf16 = torch.bfloat16
    s, c, d = spec.sam, spec.clip, spec.decoder
    g = spec.global_size // s.patch                       # 64 SAM tokens per side at 1024
    pad = -(-g // s.window) * s.window                    # 70
    windows = (pad // s.window) ** 2                      # 25
    side = spec.view_side(spec.global_size)               # 16
    clip_tokens = side * side + 1                         # 257
    seq = 512
    head_dim = d.hidden // d.heads

    def meta(*shape, dtype=bf16):
        return torch.empty(*shape, device="meta", dtype=dtype)

    def case(name, factory, args, kwargs=None, cls=None, **extra):
        def make():
            module = build(factory)
            return LayerCase(name, module, args, kwargs or {}, q(cls or type(module)), **extra)
        return make

    def sam_attention(window: int, rel_pos: bool):
        return lambda: X.SamAttention(sam_config(spec, use_rel_pos=rel_pos), window)

    def sam_layer(window: int):
        return lambda: X.SamLayer(sam_config(spec), window)

    rope = (meta(1, seq, head_dim), meta(1, seq, head_dim))
    x_dec = meta(1, seq, d.hidden)
    sam_x = meta(1, g, g, s.hidden)
    win_x = meta(windows, s.window, s.window, s.hidden)
    clip_x = meta(1, clip_tokens, c.hidden)

    def conv_of(factory, pick):
        return lambda: pick(factory())

    return {
        "Attention": case("Attention", sam_attention(s.window, False), (win_x,)),
        "Attention_relpos": case("Attention_relpos", sam_attention(s.window, True), (win_x,)),
        "Attention_global": case("Attention_global", sam_attention(0, False), (sam_x,)),
        "Attention_global_relpos": case("Attention_global_relpos", sam_attention(0, True),
                                        (sam_x,)),
        "MLPBlock": case("MLPBlock", lambda: X.SamMLP(sam_config(spec)), (sam_x,)),
        "PatchEmbed": case("PatchEmbed", lambda: X.SamPatchEmbed(sam_config(spec)),
                           (meta(1, 3, spec.global_size, spec.global_size),)),
        "Block": case("Block", sam_layer(0), (sam_x,)),
        "Block_window": case("Block_window", sam_layer(s.window), (sam_x,)),
        "CLIPVisionEmbeddings_conv": case(
            "CLIPVisionEmbeddings_conv",
            conv_of(lambda: X.CLIPVisionEmbeddings(clip_config(spec)), lambda m: m.patch_embedding),
            (meta(1, 3, c.grid * 14, c.grid * 14),), cls=X.CLIPVisionEmbeddings,
            note="its patch_embedding convolution"),
        "LayerNorm2d": case("LayerNorm2d",
                            lambda: X.SamLayerNorm(s.neck_channels, data_format="channels_first"),
                            (meta(1, s.neck_channels, g, g),)),
        "ImageEncoderViT": case("ImageEncoderViT", lambda: X.SamEncoder(sam_config(spec)),
                                (meta(1, 3, spec.global_size, spec.global_size),)),
        "neck": case("neck", conv_of(lambda: X.SamEncoder(sam_config(spec)), lambda m: m.neck),
                     (sam_x,)),
        "net_2": case("net_2", conv_of(lambda: X.SamEncoder(sam_config(spec)),
                                       lambda m: m.proj.conv1),
                      (meta(1, s.neck_channels, g, g),), note="DeepseekOcr2SamVisionProj.conv1"),
        "net_3": case("net_3", conv_of(lambda: X.SamEncoder(sam_config(spec)),
                                       lambda m: m.proj.conv2),
                      (meta(1, s.downsample_channels[0], g // 2, g // 2),),
                      note="DeepseekOcr2SamVisionProj.conv2"),
        "NoTPAttention": case("NoTPAttention", lambda: X.CLIPAttention(clip_config(spec)),
                              (clip_x,)),
        "NoTPFeedForward": case("NoTPFeedForward", lambda: X.CLIPMLP(clip_config(spec)),
                                (clip_x,)),
        "NoTPTransformerBlock": case("NoTPTransformerBlock",
                                     lambda: X.CLIPEncoderLayer(clip_config(spec)),
                                     (clip_x, None)),
        "NoTPTransformer": case("NoTPTransformer",
                                lambda: X.CLIPEncoder(clip_config(spec, layers=2)), (),
                                {"inputs_embeds": clip_x}, note="2 layers"),
        "VitModel": case("VitModel", lambda: ClipOverSam(spec, layers=2),
                         (meta(1, side * side, c.hidden),),
                         note="CLS + position embedding + pre-LayerNorm + 2-layer CLIPEncoder"),
        "MlpProjector": case("MlpProjector",
                             lambda: torch.nn.Linear(spec.projector_in, d.hidden),
                             (meta(1, side * side, spec.projector_in),)),
        "DeepseekV2MLP": case("DeepseekV2MLP", lambda: X.TextMLP(text_config(spec)), (x_dec,)),
        "MoEGate": case("MoEGate", lambda: X.TextRouter(text_config(spec)), (x_dec,)),
        "DeepseekV2MoE": case("DeepseekV2MoE", lambda: X.TextMoe(text_config(spec)), (x_dec,),
                              note="grouped_mm experts"),
        "DeepseekV2RMSNorm": case("DeepseekV2RMSNorm",
                                  lambda: X.TextRMSNorm(d.hidden, eps=d.rms_eps), (x_dec,)),
        "DeepseekV2DecoderLayer_dense": case(
            "DeepseekV2DecoderLayer_dense", lambda: X.TextDecoderLayer(text_config(spec), 0),
            (x_dec,), {"position_embeddings": rope, "attention_mask": None}),
        "DeepseekV2DecoderLayer_moe": case(
            "DeepseekV2DecoderLayer_moe",
            lambda: X.TextDecoderLayer(text_config(spec), d.dense_layers),
            (x_dec,), {"position_embeddings": rope, "attention_mask": None}),
        "LlamaFlashAttention2": case(
            "LlamaFlashAttention2", lambda: X.TextAttention(text_config(spec), 0), (x_dec,),
            {"position_embeddings": rope, "attention_mask": None}, exclude_kinds=("attention",),
            note="fused attention kernel left out, as the specification counted it"),
        "LlamaAttention": case(
            "LlamaAttention", lambda: X.TextAttention(text_config(spec), 0), (x_dec,),
            {"position_embeddings": rope, "attention_mask": None}),
        "LlamaRotaryEmbedding": case(
            "LlamaRotaryEmbedding", lambda: X.TextRotary(text_config(spec)),
            (x_dec, meta(1, seq, dtype=torch.long))),
        "lm_head": case("lm_head", lambda: torch.nn.Linear(d.hidden, d.vocab, bias=False),
                        (x_dec,), note="over all 512 positions"),
    }


def layer_case_names(spec: ReferenceSpec = DEEPSEEK_OCR) -> tuple[str, ...]:
    return tuple(_cases(spec))


def layer_case(name: str, spec: ReferenceSpec = DEEPSEEK_OCR) -> LayerCase:
    cases = _cases(spec)
    if name not in cases:
        from ..errors import UserError
        raise UserError(f"no reference case for layer {name!r}; expected one of "
                        f"{', '.join(cases)}")
    return cases[name]()


def capture_layer(name: str, spec: ReferenceSpec = DEEPSEEK_OCR, *, use_cache: bool = True):
    """Captured records of one layer case (cached on disk), minus its excluded kinds."""
    import numpy as np

    from .. import capture as _capture

    key = {"layer": name, "spec": spec.as_dict()}

    def produce():
        lc = layer_case(name, spec)
        cap = _capture.capture(lc.module, *lc.args, prefix=name, stage="layer", **lc.kwargs)
        if lc.exclude_kinds:
            cap = cap.select(~np.isin(cap.table.kind.astype(str), lc.exclude_kinds))
        return cap

    return _capture.cached_capture(key, produce, use_cache=use_cache)
