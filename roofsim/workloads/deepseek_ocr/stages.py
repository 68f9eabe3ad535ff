"""Stages of one request batch: vision, prefill, decode, as kernel records and stage costs.

vision   per request: the global view (batch 1) and the crops (batch n, stacked), through SAM,
         the compressor, CLIP, fusion and the projector; then the image-token layout (newline
         and separator insertion). B requests repeat it B times (the real model loops over images).
prefill  B sequences of S0 = image tokens + prompt tokens through the decoder; lm_head over the
         last position ("last", default) or all positions ("all", as the published HF code does).
decode   K steps of B tokens; step k (0-based) attends to S0 + k + 1 keys (its own included).
         Attention rows are one per (layer, step); the rest carry count = K.

Accounting presets. "model" (default) is the real computation. "report" reproduces the
specification's sweep tables (../shared/spec), whose numbers imply:
- prefill attention over the full S0 x S0 score matrix (a FLOP counter's view of the causal
  kernel), and decode step k attending to S0 + k keys;
- a depth-2 mlp_gelu projector (Linear 2048->1280, GELU, Linear 1280->1280) applied to
  num_crops x image_tokens rows instead of the real Linear over the views' tokens;
- with prompt_tokens = 10 and lm_head over all prefill positions (pass lm_head="all").

Peak activation model (analytic): the largest single-launch activation working set in the stage
(activations read + written by one launch; weights excluded, and in the decoder's attention
cores the K/V cache reads excluded too, since the KV cache is reported on its own) plus one
residual-stream tensor kept live across it (tokens x width of the widest stream in the stage).
Normal attention's score matrices make its peak larger than flash's. KV cache: 2 (K and V) x
layers x kv_heads x head_dim x element size per cached token, for B sequences; prefill holds S0
tokens, decode S0 + K.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

from ...activations import working_set
from ...errors import UserError
from ...kernels.attention import attention_work
from ...records import RecordTable, StageCost
from ...stages import STAGES
from .attention import ATTENTION_VARIANTS
from .builder import RecordBuilder
from .config import DeepseekOCRConfig
from .decoder import decoder_layers, embed_records, head_records
from .views import Request, Views, views
from .vision import projector_records, view_records

LM_HEAD_MODES = ("last", "all")


@dataclass(frozen=True)
class Accounting:
    name: str
    prefill_mask: str          # "causal" (what the kernel computes) or "full" (S0^2 counted)
    decode_sees_self: bool     # step k attends to S0 + k + 1 keys (True) or S0 + k (False)
    projector: str             # "model": Linear over the views' tokens; "report": see above


ACCOUNTINGS = {
    "model": Accounting("model", prefill_mask="causal", decode_sees_self=True, projector="model"),
    "report": Accounting("report", prefill_mask="full", decode_sees_self=False, projector="report"),
}
REPORT_PROJECTOR_DEPTH = 2


def _accounting(accounting) -> Accounting:
    if isinstance(accounting, Accounting):
        return accounting
    try:
        return ACCOUNTINGS[accounting]
    except KeyError:
        raise UserError(f"accounting {accounting!r}: expected one of {', '.join(ACCOUNTINGS)}") from None


def _check(attention: str, lm_head: str) -> None:
    if attention not in ATTENTION_VARIANTS:
        raise UserError(f"attention {attention!r}: expected one of {', '.join(ATTENTION_VARIANTS)}")
    if lm_head not in LM_HEAD_MODES:
        raise UserError(f"lm_head {lm_head!r}: expected one of {', '.join(LM_HEAD_MODES)}")


def vision_records(cfg: DeepseekOCRConfig, request: Request, v: Views, attention: str,
                   acc: Accounting) -> RecordTable:
    b = RecordBuilder("vision", cfg.dtype)
    B = request.batch
    model_projector = acc.projector == "model"
    parts = [_view_table(cfg, v.global_size, 1, attention, "global/", B, model_projector)]
    if v.num_crops:
        parts.insert(0, _view_table(cfg, v.crop_size, v.num_crops, attention, "crops/", B,
                                    model_projector))
    if not model_projector:
        projector_records(b, cfg, max(v.num_crops, 1) * v.image_tokens, count=B,
                          depth=REPORT_PROJECTOR_DEPTH)
    b.add("copy", "layout", "vision.layout", B, numel=v.image_tokens * cfg.projector.output_dim)
    return RecordTable.concat(parts + [b.build()])


def prefill_records(cfg: DeepseekOCRConfig, request: Request, v: Views, attention: str,
                    lm_head: str, acc: Accounting) -> RecordTable:
    b = RecordBuilder("prefill", cfg.dtype)
    B, S0 = request.batch, v.image_tokens + request.prompt_tokens
    embed_records(b, cfg, B * S0, image_tokens=B * v.image_tokens)
    decoder_layers(b, cfg, batch=B, seq_q=S0, seq_kv=S0,
                   causal=int(acc.prefill_mask == "causal"), attention=attention)
    head_records(b, cfg, B * S0, B * S0 if lm_head == "all" else B)
    return b.build()


def decode_contexts(request: Request, v: Views, acc: Accounting) -> np.ndarray:
    """Keys each decode step attends to."""
    s0 = v.image_tokens + request.prompt_tokens
    return s0 + np.arange(request.decode_tokens, dtype=np.float64) + int(acc.decode_sees_self)


@lru_cache(maxsize=64)
def _decode_fixed(cfg: DeepseekOCRConfig, batch: int, steps: int) -> RecordTable:
    """Decode records that do not depend on the context length (all but the attention cores):
    the same for every image, so built once per (config, batch, steps)."""
    b = RecordBuilder("decode", cfg.dtype)
    embed_records(b, cfg, batch, count=steps)
    decoder_layers(b, cfg, batch=batch, seq_q=1, seq_kv=None, causal=0, attention="flash",
                   count=steps, core_rows="skip")
    head_records(b, cfg, batch, batch, count=steps)
    return _read_only(b.build())


@lru_cache(maxsize=64)
def _view_table(cfg: DeepseekOCRConfig, size: int, batch: int, attention: str, tag: str,
                count: int, projector: bool) -> RecordTable:
    """One view batch through the encoder (cached: the global view is the same for every grid)."""
    b = RecordBuilder("vision", cfg.dtype)
    view_records(b, cfg, size, batch, attention=attention, tag=tag, count=count,
                 projector=projector)
    return _read_only(b.build())


def _read_only(table: RecordTable) -> RecordTable:
    for f in fields(table):
        getattr(table, f.name).flags.writeable = False
    return table


def decode_records(cfg: DeepseekOCRConfig, request: Request, v: Views, attention: str,
                   acc: Accounting) -> RecordTable:
    K, B = request.decode_tokens, request.batch
    b = RecordBuilder("decode", cfg.dtype)
    if K == 0:
        return b.build()
    decoder_layers(b, cfg, batch=B, seq_q=1, seq_kv=decode_contexts(request, v, acc), causal=0,
                   attention=attention, core_rows="only")
    return RecordTable.concat([_decode_fixed(cfg, B, K), b.build()])


def stage_records(cfg: DeepseekOCRConfig, request: Request, attention: str = "flash",
                  lm_head: str = "last", accounting="model") -> dict[str, RecordTable]:
    """Kernel records of the three stages for `request` (keys vision, prefill, decode)."""
    _check(attention, lm_head)
    acc = _accounting(accounting)
    v = views(cfg, request)
    return {"vision": vision_records(cfg, request, v, attention, acc),
            "prefill": prefill_records(cfg, request, v, attention, lm_head, acc),
            "decode": decode_records(cfg, request, v, attention, acc)}


def kv_cache_bytes_per_token(cfg: DeepseekOCRConfig) -> int:
    d = cfg.decoder
    return 2 * d.layers * d.kv_heads * d.head_dim * cfg.element_bytes


def activation_working_set(table: RecordTable, element_bytes: float) -> np.ndarray:
    """Per-launch activation footprint: bytes read + written, weights excluded; for the fused
    attention kernel the tensors themselves (Q, K, V, bias, O), not its K/V re-reads; in the
    decoder's attention cores the K/V cache is excluded (reported as kv_cache_bytes)."""
    working = working_set(table)
    fused = table.kind == "attention"
    layer = table.layer.astype(str)
    core = np.char.endswith(layer, ".self_attn") & np.char.startswith(layer, "decoder.")
    if fused.any():
        sub = table.select(fused)
        params = {p: sub.param(p) for p in ("batch", "heads", "seq_q", "seq_kv", "head_dim",
                                            "causal")}
        extra = sub.bytes_read - attention_work(params, sub.dtype)["bytes_read"]   # a bias
        bh = params["batch"] * params["heads"]
        q = bh * params["seq_q"] * params["head_dim"] * element_bytes
        kv = 2 * bh * params["seq_kv"] * params["head_dim"] * element_bytes
        kv = np.where(core[fused], 0.0, kv)
        working[fused] = q + kv + extra + sub.bytes_written
    gemm_core = core & (table.kind == "gemm")
    if gemm_core.any():
        batch = np.nan_to_num(table.param("batch"), nan=1.0)
        kv_of_gemm = batch * table.param("k") * table.param("n") * element_bytes  # K^T or V
        working = np.where(gemm_core, working - np.nan_to_num(kv_of_gemm), working)
    return working


def activation_peak_bytes(table: RecordTable, residual_bytes: float, element_bytes: float) -> float:
    """Largest single-launch activation working set plus one live residual-stream tensor."""
    if not len(table):
        return 0.0
    return float(activation_working_set(table, element_bytes).max() + residual_bytes)


def stage_costs(cfg: DeepseekOCRConfig, request: Request, attention: str = "flash",
                lm_head: str = "last", accounting="model",
                records: dict[str, RecordTable] | None = None) -> dict[str, StageCost]:
    """StageCost per stage (SI units). Pass `records` to reuse already built tables."""
    records = records or stage_records(cfg, request, attention, lm_head, accounting)
    v = views(cfg, request)
    B, e = request.batch, cfg.element_bytes
    S0 = v.image_tokens + request.prompt_tokens
    kv_tok = kv_cache_bytes_per_token(cfg)
    widest_view = max(v.num_crops, 1) * max(v.crop_tokens, v.global_tokens)
    sam_tokens = max(v.num_crops * (v.crop_size // cfg.views.patch_size) ** 2,
                     (v.global_size // cfg.views.patch_size) ** 2)
    residual = {
        "vision": max(sam_tokens * cfg.sam.embed_dim, widest_view * cfg.clip.hidden) * e,
        "prefill": B * S0 * cfg.decoder.hidden * e,
        "decode": B * cfg.decoder.hidden * e,
    }
    kv = {"vision": 0.0, "prefill": float(B * S0 * kv_tok),
          "decode": float(B * (S0 + request.decode_tokens) * kv_tok)}
    return {s: StageCost.from_table(s, records[s],
                                    activation_peak_bytes=activation_peak_bytes(records[s], residual[s], e),
                                    kv_cache_bytes=kv[s])
            for s in STAGES}
