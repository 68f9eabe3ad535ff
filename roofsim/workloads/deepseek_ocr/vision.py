"""Vision encoder records: SAM-base (+ neck, net_2, net_3), CLIP-L, fusion and projector.

Per view batch (the global view, batch 1; the crops, batch n, stacked as the real model stacks
them). Shapes follow the public deepencoder code:
- SAM: patch conv, absolute position add, 12 blocks. Window blocks pad the token grid up to a
  multiple of 14 and run qkv / attention / proj on the padded windows; global blocks attend over
  the whole grid. Decomposed relative position: two einsums (q x R_h, q x R_w: gemm records),
  then their broadcast sum is materialized as a (batch, heads, S, S) bias that SDPA reads as its
  attn_mask (the fused kernel reads it; the normal variant adds it in the softmax pass).
- neck (conv1x1, LayerNorm2d, conv3x3, LayerNorm2d), net_2 and net_3 (conv3x3 stride 2).
- CLIP: SAM features flattened to tokens, CLS prepended, position embedding added, pre-LayerNorm,
  24 pre-norm blocks (fused qkv with bias, 16 heads, quick_gelu MLP).
- fusion: concat(CLIP output without CLS, SAM tokens) -> projector Linear(2048, 1280).
"""

from __future__ import annotations

import numpy as np

from ...kernels.elementwise import QUICK_GELU_FLOPS_PER_ELEMENT
from .attention import attention_ops
from .builder import RecordBuilder, layer_names
from .config import DeepseekOCRConfig


def sam_records(b: RecordBuilder, cfg: DeepseekOCRConfig, size: int, batch: int, *,
                attention: str, tag: str = "", count: float = 1.0, rel_pos: bool | None = None,
                blocks: tuple[int, ...] | None = None, front: bool = True, neck: bool = True,
                prefix: str = "vision.sam", mlp: bool = True, attn: bool = True) -> None:
    """SAM image encoder at `size` pixels for `batch` images. Switches select parts for the
    per-layer rows (blocks: which block indices; rel_pos: override the config)."""
    s = cfg.sam
    C, H, hd = s.embed_dim, s.heads, s.head_dim
    g = size // s.patch_size
    tokens = batch * g * g
    rel = s.rel_pos if rel_pos is None else rel_pos
    if front:
        b.add("conv2d", tag + "patch_embed", f"{prefix}.patch_embed", count, batch=batch,
              c_in=s.in_chans, c_out=C, h=size, w=size, kernel=s.patch_size,
              stride=s.patch_size, padding=0, bias=1)
        b.add("elementwise", tag + "pos_embed_add", f"{prefix}.pos_embed", count, numel=tokens * C)
    idx = tuple(range(s.depth)) if blocks is None else tuple(blocks)
    if idx:
        is_global = np.array([i in s.global_blocks for i in idx])
        w = s.window_size
        padded = -(-g // w) * w
        hw = np.where(is_global, g, w)                  # attention grid side
        n_seq = np.where(is_global, batch, batch * (padded // w) ** 2)
        seq = hw * hw
        attn_tokens = n_seq * seq                       # window blocks run on padded windows
        blk = layer_names(prefix + ".blocks.{}", idx)
        att = layer_names(prefix + ".blocks.{}.attn", idx)
        mlp_path = layer_names(prefix + ".blocks.{}.mlp", idx)
        win = tuple(i for i, gl in zip(idx, is_global) if not gl)
        if attn:
            b.add("layernorm", tag + "norm1", blk, count, rows=tokens, cols=C)
            if win:
                b.add("copy", tag + "window_partition", layer_names(prefix + ".blocks.{}", win),
                      count, numel=batch * padded * padded * C)
            b.add("linear", tag + "qkv", att, count, m=attn_tokens, n=3 * C, k=C,
                  bias=int(s.qkv_bias))
            bias_bytes = 0.0
            if rel:
                # rel_h[b,h,w,k] = sum_c q[b,h,w,c] R_h[h,k,c]: one (w x c)(c x k) product per
                # (sequence, head, row); rel_w likewise per column.
                for nm in ("rel_pos_h", "rel_pos_w"):
                    b.add("gemm", tag + nm, att, count, batch=n_seq * H * hw, m=hw, n=hw, k=hd)
                scores = n_seq * H * seq * seq
                # the broadcast sum rel_h + rel_w, materialized as SDPA's attn_mask
                # reads rel_h and rel_w (n_seq H seq hw each), not two score-sized inputs
                b.add("elementwise", tag + "rel_pos_bias", att, count, numel=scores,
                      extra_read=-2.0 * (scores - n_seq * H * seq * hw) * cfg.element_bytes)
                bias_bytes = scores * cfg.element_bytes
            attention_ops(b, tag, att, count, attention=attention, batch=n_seq, heads=H,
                          seq_q=seq, seq_kv=seq, head_dim=hd, causal=0, bias_bytes=bias_bytes)
            b.add("linear", tag + "proj", att, count, m=attn_tokens, n=C, k=C, bias=1)
            if win:
                b.add("copy", tag + "window_unpartition", layer_names(prefix + ".blocks.{}", win),
                      count, numel=tokens * C)
            b.add("elementwise", tag + "residual", blk, count, numel=tokens * C)
        if mlp:
            b.add("layernorm", tag + "norm2", blk, count, rows=tokens, cols=C)
            b.add("linear", tag + "lin1", mlp_path, count, m=tokens, n=s.mlp_dim, k=C, bias=1)
            b.add("gelu", tag + "act", mlp_path, count, numel=tokens * s.mlp_dim)
            b.add("linear", tag + "lin2", mlp_path, count, m=tokens, n=C, k=s.mlp_dim, bias=1)
            b.add("elementwise", tag + "residual", blk, count, numel=tokens * C)
    if neck:
        neck_records(b, cfg, size, batch, tag=tag, count=count, prefix=prefix)


def neck_records(b: RecordBuilder, cfg: DeepseekOCRConfig, size: int, batch: int, *,
                 tag: str = "", count: float = 1.0, prefix: str = "vision.sam",
                 parts: tuple[str, ...] = ("neck", "net_2", "net_3")) -> None:
    s, c = cfg.sam, cfg.compressor
    g = size // s.patch_size
    if "neck" in parts:
        b.add("conv2d", tag + "conv1x1", f"{prefix}.neck.0", count, batch=batch,
              c_in=s.embed_dim, c_out=c.neck_dim, h=g, w=g, kernel=1)
        b.add("layernorm", tag + "layernorm2d", f"{prefix}.neck.1", count,
              rows=batch * g * g, cols=c.neck_dim)
        b.add("conv2d", tag + "conv3x3", f"{prefix}.neck.2", count, batch=batch,
              c_in=c.neck_dim, c_out=c.neck_dim, h=g, w=g, kernel=3, padding=1)
        b.add("layernorm", tag + "layernorm2d", f"{prefix}.neck.3", count,
              rows=batch * g * g, cols=c.neck_dim)
    if "net_2" in parts:
        b.add("conv2d", tag + "conv3x3_s2", f"{prefix}.net_2", count, batch=batch,
              c_in=c.neck_dim, c_out=c.net_2_dim, h=g, w=g, kernel=3, stride=2, padding=1)
    if "net_3" in parts:
        g2 = (g + 2 - 3) // 2 + 1
        b.add("conv2d", tag + "conv3x3_s2", f"{prefix}.net_3", count, batch=batch,
              c_in=c.net_2_dim, c_out=c.net_3_dim, h=g2, w=g2, kernel=3, stride=2, padding=1)


def clip_records(b: RecordBuilder, cfg: DeepseekOCRConfig, seq: int, batch: int, *,
                 attention: str, tag: str = "", count: float = 1.0, layers: int | None = None,
                 embeddings: bool = True, prefix: str = "vision.clip", attn: bool = True,
                 mlp: bool = True) -> None:
    """CLIP-L over `seq` tokens (CLS included) for `batch` views."""
    c = cfg.clip
    D = c.hidden
    tokens = batch * seq
    if embeddings:
        b.add("copy", tag + "cat_cls", f"{prefix}.embeddings", count, numel=tokens * D)
        b.add("elementwise", tag + "pos_embed_add", f"{prefix}.embeddings", count, numel=tokens * D)
        b.add("layernorm", tag + "pre_layrnorm", f"{prefix}.pre_layrnorm", count, rows=tokens, cols=D)
    n_layers = c.layers if layers is None else layers
    if not n_layers:
        return
    idx = tuple(range(n_layers))
    blk = layer_names(prefix + ".transformer.layers.{}", idx)
    att = layer_names(prefix + ".transformer.layers.{}.self_attn", idx)
    ffn = layer_names(prefix + ".transformer.layers.{}.mlp", idx)
    if attn:
        b.add("layernorm", tag + "layer_norm1", blk, count, rows=tokens, cols=D)
        b.add("linear", tag + "qkv_proj", att, count, m=tokens, n=3 * D, k=D, bias=1)
        attention_ops(b, tag, att, count, attention=attention, batch=batch, heads=c.heads,
                      seq_q=seq, seq_kv=seq, head_dim=c.head_dim, causal=0)
        b.add("linear", tag + "out_proj", att, count, m=tokens, n=D, k=D, bias=1)
        b.add("elementwise", tag + "residual", blk, count, numel=tokens * D)
    if mlp:
        b.add("layernorm", tag + "layer_norm2", blk, count, rows=tokens, cols=D)
        b.add("linear", tag + "fc1", ffn, count, m=tokens, n=c.mlp_dim, k=D, bias=1)
        per = QUICK_GELU_FLOPS_PER_ELEMENT if c.activation == "quick_gelu" else None
        numel = tokens * c.mlp_dim
        b.add("gelu", tag + c.activation, ffn, count, numel=numel,
              flops_cuda=None if per is None else per * numel)
        b.add("linear", tag + "fc2", ffn, count, m=tokens, n=D, k=c.mlp_dim, bias=1)
        b.add("elementwise", tag + "residual", blk, count, numel=tokens * D)


def projector_records(b: RecordBuilder, cfg: DeepseekOCRConfig, tokens: float, *, tag: str = "",
                      count: float = 1.0, depth: int | None = None,
                      prefix: str = "vision.projector") -> None:
    """MlpProjector over `tokens` rows: Linear(in, out), then (GELU, Linear(out, out)) x (depth-1)."""
    p = cfg.projector
    depth = p.depth if depth is None else depth
    b.add("linear", tag + "linear", f"{prefix}.layers.0", count, m=tokens, n=p.output_dim,
          k=p.input_dim, bias=int(p.bias))
    for i in range(1, depth):
        b.add("gelu", tag + "gelu", f"{prefix}.layers.{2 * i - 1}", count, numel=tokens * p.output_dim)
        b.add("linear", tag + "linear", f"{prefix}.layers.{2 * i}", count, m=tokens,
              n=p.output_dim, k=p.output_dim, bias=int(p.bias))


def view_records(b: RecordBuilder, cfg: DeepseekOCRConfig, size: int, batch: int, *,
                 attention: str, tag: str, count: float, projector: bool = True) -> None:
    """One view batch through SAM, the compressor, CLIP, fusion and (optionally) the projector."""
    sam_records(b, cfg, size, batch, attention=attention, tag=tag, count=count)
    q = size // cfg.views.patch_size // cfg.views.downsample
    clip_records(b, cfg, q * q + 1, batch, attention=attention, tag=tag, count=count)
    tokens = batch * q * q
    b.add("copy", tag + "concat_features", "vision.fusion", count,
          numel=tokens * cfg.projector.input_dim)
    if projector:
        projector_records(b, cfg, tokens, tag=tag, count=count)
