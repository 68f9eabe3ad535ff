"""The DeepSeek-OCR v1 reference assembly, made of transformers' own classes.

There is no DeepSeek-OCR v1 class in transformers; its parts exist (see
../shared/reference/deepseek-ocr.md, last section):
- SAM-base with neck and the two stride-2 convolutions: DeepseekOcr2SamVisionEncoder with
  downsample_channels = [512, 1024];
- CLIP-L over SAM tokens (`ClipOverSam`, the original's VitModel): a CLS token is prepended to
  the flattened SAM features, a learned position embedding (16 x 16 + 1, resized bicubically
  for other view sizes) is added, one pre-LayerNorm, then transformers' CLIPEncoder;
- projector Linear(2048, 1280) over [CLIP output without CLS, SAM tokens];
- the token layout of the original: one newline vector after each row of view tokens, crops
  tiled into one block first, then the global view, then one view separator;
- the decoder: DeepseekOcr2TextModel (layer 0 dense, 11 MoE layers) and lm_head Linear(1280,
  129280, bias=False).
Weights are random; nothing is downloaded. Attention is SDPA everywhere; the experts run
transformers' default grouped-GEMM path unless `experts="eager"`.

Build on the meta device for counting (no weight memory) or on CUDA in bf16 for timing. The
router's gate weight stays fp32, as transformers keeps it (`_keep_in_fp32_modules_strict`).
"""

from __future__ import annotations

import math

from . import _compat
from .routing import use_balanced_eager
from .spec import DEEPSEEK_OCR, EXPERTS_IMPLEMENTATIONS, ReferenceSpec

ATTENTION_IMPLEMENTATION = "sdpa"


def _x():
    return _compat.load()


# ---- transformers configs ------------------------------------------------------------------

def sam_config(spec: ReferenceSpec = DEEPSEEK_OCR, *, use_rel_pos: bool = True):
    X, s = _x(), spec.sam
    cfg = X.SamConfig(hidden_size=s.hidden, num_hidden_layers=s.layers,
                      num_attention_heads=s.heads, mlp_dim=s.mlp, window_size=s.window,
                      global_attn_indexes=list(s.global_layers), patch_size=s.patch,
                      image_size=s.pretrain_size, output_channels=s.neck_channels,
                      downsample_channels=list(s.downsample_channels), use_rel_pos=use_rel_pos)
    cfg._attn_implementation = ATTENTION_IMPLEMENTATION
    return cfg


def clip_config(spec: ReferenceSpec = DEEPSEEK_OCR, *, layers: int | None = None):
    X, c = _x(), spec.clip
    cfg = X.CLIPVisionConfig(hidden_size=c.hidden, intermediate_size=c.mlp,
                             num_hidden_layers=c.layers if layers is None else layers,
                             num_attention_heads=c.heads, hidden_act=c.act, layer_norm_eps=c.eps,
                             image_size=c.grid * 14, patch_size=14)
    cfg._attn_implementation = ATTENTION_IMPLEMENTATION
    return cfg


def text_config(spec: ReferenceSpec = DEEPSEEK_OCR, *, experts: str = "grouped_mm",
                layers: int | None = None):
    if experts not in EXPERTS_IMPLEMENTATIONS:
        from ..errors import UserError
        raise UserError(f"experts must be one of {', '.join(EXPERTS_IMPLEMENTATIONS)}, "
                        f"got {experts!r}")
    X, d = _x(), spec.decoder
    n = d.layers if layers is None else layers
    cfg = X.TextConfig(hidden_size=d.hidden, intermediate_size=d.intermediate,
                       num_hidden_layers=n, num_attention_heads=d.heads,
                       num_key_value_heads=d.kv_heads, moe_intermediate_size=d.moe_intermediate,
                       n_routed_experts=d.experts, n_shared_experts=d.shared_experts,
                       num_experts_per_tok=d.top_k, topk_method="greedy", vocab_size=d.vocab,
                       max_position_embeddings=d.max_positions, rms_norm_eps=d.rms_eps,
                       rope_parameters={"rope_type": "default", "rope_theta": d.rope_theta},
                       mlp_layer_types=["dense" if i < d.dense_layers else "sparse"
                                        for i in range(n)])
    cfg._attn_implementation = ATTENTION_IMPLEMENTATION
    cfg._experts_implementation = experts
    return cfg


# ---- building ----------------------------------------------------------------------------

def build(factory, device="meta", dtype=None):
    """Construct `factory()` on `device`, cast to `dtype` (default bf16) with router gates kept
    fp32, in eval mode. On meta, eager experts get the balanced-routing substitution."""
    X = _x()
    torch = X.torch
    dtype = dtype or torch.bfloat16
    with torch.device(device):
        module = factory()
    module = module.to(dtype)
    for m in module.modules():
        if isinstance(m, X.TextRouter):
            m.float()
        cfg = getattr(m, "config", None)
        if cfg is not None and getattr(cfg, "_experts_implementation", None) == "eager" \
                and torch.device(device).type == "meta":
            use_balanced_eager(m)
    return module.eval()


def _nn():
    return _x().torch.nn


class ClipOverSam(_nn().Module):
    """CLIP-L over SAM tokens (the original's VitModel): CLS + position embedding +
    pre-LayerNorm + CLIPEncoder. Input (B, T, C) SAM tokens, output (B, T + 1, C)."""

    def __init__(self, spec: ReferenceSpec = DEEPSEEK_OCR, layers: int | None = None):
        super().__init__()
        X = _x()
        nn, torch = X.torch.nn, X.torch
        c = spec.clip
        self.grid = c.grid
        self.class_embedding = nn.Parameter(torch.randn(c.hidden) * 0.02)
        self.position_embedding = nn.Parameter(torch.randn(c.grid * c.grid + 1, c.hidden) * 0.02)
        self.pre_layrnorm = nn.LayerNorm(c.hidden, eps=c.eps)
        self.encoder = X.CLIPEncoder(clip_config(spec, layers=layers))

    def positions(self, side: int):
        """Position embedding for side x side tokens (+ CLS), resized bicubically as the
        original does for views other than 1024."""
        torch = _x().torch
        pos = self.position_embedding
        if side == self.grid:
            return pos
        grid = pos[1:].reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        grid = torch.nn.functional.interpolate(grid.float(), size=(side, side), mode="bicubic",
                                               antialias=True, align_corners=False)
        grid = grid.to(pos.dtype).permute(0, 2, 3, 1).reshape(side * side, -1)
        return torch.cat([pos[:1], grid], dim=0)

    def forward(self, sam_tokens):
        torch = _x().torch
        b, t, c = sam_tokens.shape
        cls = self.class_embedding.expand(b, 1, c)
        x = torch.cat([cls, sam_tokens], dim=1) + self.positions(math.isqrt(t))
        x = self.pre_layrnorm(x)
        return self.encoder(inputs_embeds=x).last_hidden_state


class VisionReference(_nn().Module):
    """SAM -> CLIP -> projector over the global view and the crops, and the token layout."""

    def __init__(self, spec: ReferenceSpec = DEEPSEEK_OCR):
        super().__init__()
        X = _x()
        nn, torch = X.torch.nn, X.torch
        d = spec.decoder.hidden
        self.sam = X.SamEncoder(sam_config(spec))
        self.clip = ClipOverSam(spec)
        self.projector = nn.Linear(spec.projector_in, d)
        self.image_newline = nn.Parameter(torch.randn(d) * 0.02)
        self.view_separator = nn.Parameter(torch.randn(d) * 0.02)

    def encode(self, pixels):
        """(B, 3, S, S) views -> (B, (S/64)^2, hidden) projected tokens."""
        torch = _x().torch
        features = self.sam(pixels).last_hidden_state          # (B, C, g, g)
        tokens = features.flatten(2).transpose(1, 2)            # (B, g*g, C)
        clip = self.clip(tokens)
        return self.projector(torch.cat([clip[:, 1:], tokens], dim=-1))

    def _with_newlines(self, block):
        """(rows, cols, D) -> (rows * (cols + 1), D): a newline token closes every row."""
        torch = _x().torch
        rows, _, d = block.shape
        newline = self.image_newline.expand(rows, 1, d)
        return torch.cat([block, newline], dim=1).reshape(-1, d)

    def forward(self, global_view, crops=None, crop_grid=None):
        torch = _x().torch
        parts = []
        if crops is not None:
            rows, cols = crop_grid
            local = self.encode(crops)                           # (rows*cols, t*t, D)
            t = math.isqrt(local.shape[1])
            d = local.shape[-1]
            local = local.reshape(rows, cols, t, t, d).permute(0, 2, 1, 3, 4)
            parts.append(self._with_newlines(local.reshape(rows * t, cols * t, d)))
        glob = self.encode(global_view)[0]
        side = math.isqrt(glob.shape[0])
        parts.append(self._with_newlines(glob.reshape(side, side, -1)))
        parts.append(self.view_separator[None])
        return torch.cat(parts, dim=0)


class DecoderReference(_nn().Module):
    """The decoder and lm_head. forward(inputs_embeds, cache) -> logits of the last position
    (or of all positions with all_logits=True). A KV cache is used (and filled) as in
    generation: transformers' DynamicCache, which appends by concatenation."""

    def __init__(self, spec: ReferenceSpec = DEEPSEEK_OCR, *, experts: str = "grouped_mm",
                 layers: int | None = None):
        super().__init__()
        X = _x()
        self.model = X.TextModel(text_config(spec, experts=experts, layers=layers))
        self.lm_head = X.torch.nn.Linear(spec.decoder.hidden, spec.decoder.vocab, bias=False)
        self._cache_kwarg = X.cache_kwarg

    def forward(self, inputs_embeds, cache=None, all_logits: bool = False):
        kwargs = {self._cache_kwarg: cache} if cache is not None else {}
        hidden = self.model(inputs_embeds=inputs_embeds, use_cache=True, **kwargs).last_hidden_state
        if not all_logits:
            hidden = hidden[:, -1:, :]
        return self.lm_head(hidden)


def build_vision(spec: ReferenceSpec = DEEPSEEK_OCR, device="meta", dtype=None):
    return build(lambda: VisionReference(spec), device, dtype)


def build_decoder(spec: ReferenceSpec = DEEPSEEK_OCR, device="meta", dtype=None, *,
                  experts: str = "grouped_mm", layers: int | None = None):
    return build(lambda: DecoderReference(spec, experts=experts, layers=layers), device, dtype)


def input_factory(device):
    """How stage inputs are made: shapes only on meta (capture), random values on a real device
    (timing: never zeros, which can run faster than real data)."""
    torch = _x().torch
    return torch.empty if torch.device(device).type == "meta" else torch.randn


def make_static_kv_cache(spec: ReferenceSpec, kv_len: int, device="meta", dtype=None, *,
                         layers: int | None = None, batch: int = 1):
    """A StaticCache of kv_len + 1 positions holding kv_len in every layer (random off meta),
    the cache a CUDA-graph decode step replays over (the next token written in place)."""
    from ..workloads.hf.build import static_cache_of
    torch = _x().torch
    d = spec.decoder
    shape = (batch, d.kv_heads, 1, d.hidden // d.heads)
    n = d.layers if layers is None else layers
    return static_cache_of(text_config(spec, layers=layers), [(shape, shape)] * n, batch,
                           kv_len, device, dtype or torch.bfloat16)


def make_kv_cache(spec: ReferenceSpec, kv_len: int, device="meta", dtype=None, *,
                  layers: int | None = None, batch: int = 1):
    """A DynamicCache holding kv_len positions in every layer (random on a real device)."""
    X = _x()
    torch = X.torch
    dtype = dtype or torch.bfloat16
    d = spec.decoder
    head_dim = d.hidden // d.heads
    try:
        cache = X.DynamicCache(config=text_config(spec, layers=layers))
    except TypeError:  # pragma: no cover - older signature
        cache = X.DynamicCache()
    shape = (batch, d.kv_heads, kv_len, head_dim)
    make = input_factory(device)
    for layer in range(d.layers if layers is None else layers):
        cache.update(make(shape, device=device, dtype=dtype),
                     make(shape, device=device, dtype=dtype), layer)
    return cache
