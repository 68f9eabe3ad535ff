"""The reference pipeline as stage cases: a module plus a factory of example inputs.

A `StageCase` is what both capture (meta tensors, CPU) and GPU timing (CUDA, bf16) need:
- vision: SAM + CLIP + projector over the global view (1024) and the crops (640, stacked in
  the batch as the original does), then the token layout;
- prefill: the decoder over image tokens + prompt tokens given as inputs_embeds (the prompt's
  embedding lookup and the scatter of image features into it are not part of the case), with
  a fresh KV cache, and lm_head on the last position (all positions with all_logits=True);
- decode: one token with a KV cache already holding kv_len positions.
Prefill and decode take a batch B (B sequences of seq_len in one prefill; a decode step over B
sequences, each with kv_len cached positions); the vision case is one image (B requests run it
B times: the model loops over images).
`make_inputs()` returns fresh (args, kwargs) on every call: a decode step appends to its cache.
Checked on an H100 (torch 2.11, transformers 5.17): each stage builds and runs on CUDA in bf16,
with transformers' grouped_mm experts and SDPA; the CUDA profiler counted 1572 / 1130 / 944
kernels for vision at 2x3 / prefill of 903 tokens / one decode step at 903 cached positions,
against 1253 / 809 / 809 captured aten ops there (some ops launch several kernels: sort,
grouped_mm's data preparation, device-to-device copies), and every SDPA call ran as cuDNN
attention.

`capture_stage` traces a case on meta tensors (roofsim.capture.capture_case), cached on disk
keyed by the case's configuration (`case_config`, known without importing torch). `capture_decode_steps`
covers K decode steps from two captures: every captured quantity of a decode step is affine in
kv_len (attention and cache concatenation grow linearly, the rest is constant), so the sum over
steps kv_len = L .. L+K-1 is K x the mean of the first and last step, exactly.
"""

from __future__ import annotations

from typing import Any

from .. import capture as _capture
from ..stages import DECODE, PREFILL, STAGES, VISION
from ..workloads.case import CACHES, DYNAMIC, STATIC, StageCase
from .spec import DEEPSEEK_OCR, EXPERTS_IMPLEMENTATIONS, ReferenceSpec

DTYPE = "torch.bfloat16"          # str() of the dtype the stages run in (part of the cache key)


def _dtype(dtype):
    from . import _compat
    return dtype or _compat.load().torch.bfloat16


def _grid(crop_grid):
    if crop_grid is None:
        return None
    rows, cols = (int(v) for v in crop_grid)
    return None if rows * cols == 0 else (rows, cols)


def case_config(stage: str, *, crop_grid=None, seq_len: int | None = None,
                kv_len: int | None = None, all_logits: bool = False,
                experts: str = "grouped_mm", spec: ReferenceSpec = DEEPSEEK_OCR,
                layers: int | None = None, dtype: str = DTYPE, batch: int = 1,
                cache: str = DYNAMIC) -> dict[str, Any]:
    """What a stage case is, as JSON (the capture cache key): known without torch. The batch
    is in the key only when it is not 1, a decode step's cache only when it is STATIC (the
    keys of earlier captures stay theirs)."""
    extra = {} if int(batch) == 1 else {"batch": int(batch)}
    if stage == VISION:
        grid = _grid(crop_grid)
        return {"stage": VISION, "crop_grid": list(grid) if grid else None,
                "spec": spec.as_dict(), "dtype": dtype}
    if stage == PREFILL:
        return {"stage": PREFILL, "seq_len": int(seq_len), "all_logits": bool(all_logits),
                "experts": experts, "layers": layers, "spec": spec.as_dict(), "dtype": dtype,
                **extra}
    if cache not in CACHES:
        from ..errors import UserError
        raise UserError(f"cache must be one of {', '.join(CACHES)}, got {cache!r}")
    if cache != DYNAMIC:
        extra["cache"] = cache
    return {"stage": DECODE, "kv_len": int(kv_len), "experts": experts, "layers": layers,
            "spec": spec.as_dict(), "dtype": dtype, **extra}


def vision_case(crop_grid=None, *, spec: ReferenceSpec = DEEPSEEK_OCR, device="meta",
                dtype=None, module=None) -> StageCase:
    """crop_grid: (rows, cols) of 640 crops, or None for the global view only."""
    from .models import build_vision, input_factory
    dtype = _dtype(dtype)
    grid = _grid(crop_grid)
    module = module if module is not None else build_vision(spec, device, dtype)

    def make_inputs():
        g = spec.global_size
        make = input_factory(device)
        global_view = make(1, 3, g, g, device=device, dtype=dtype)
        if grid is None:
            return (global_view,), {}
        c = spec.crop_size
        crops = make(grid[0] * grid[1], 3, c, c, device=device, dtype=dtype)
        return (global_view, crops, grid), {}

    return StageCase(VISION, module, make_inputs,
                     case_config(VISION, crop_grid=grid, spec=spec, dtype=str(dtype)))


def prefill_case(seq_len: int, *, all_logits: bool = False, experts: str = "grouped_mm",
                 spec: ReferenceSpec = DEEPSEEK_OCR, device="meta", dtype=None, module=None,
                 layers: int | None = None, batch: int = 1) -> StageCase:
    from .models import build_decoder, input_factory
    dtype = _dtype(dtype)
    module = module if module is not None else build_decoder(spec, device, dtype,
                                                             experts=experts, layers=layers)

    def make_inputs():
        make = input_factory(device)
        x = make(int(batch), int(seq_len), spec.decoder.hidden, device=device, dtype=dtype)
        return (x,), {"all_logits": all_logits}

    return StageCase(PREFILL, module, make_inputs, case_config(
        PREFILL, seq_len=seq_len, all_logits=all_logits, experts=experts, spec=spec,
        layers=layers, dtype=str(dtype), batch=batch), _experts_notes(experts))


def decode_case(kv_len: int, *, experts: str = "grouped_mm", spec: ReferenceSpec = DEEPSEEK_OCR,
                device="meta", dtype=None, module=None, layers: int | None = None,
                batch: int = 1, cache: str = DYNAMIC) -> StageCase:
    """One decode step over kv_len cached positions: a DynamicCache (eager generation) or a
    StaticCache of kv_len + 1 positions (`cache` STATIC: the step a CUDA graph replays)."""
    from .models import build_decoder, input_factory, make_kv_cache, make_static_kv_cache
    dtype = _dtype(dtype)
    config = case_config(DECODE, kv_len=kv_len, experts=experts, spec=spec, layers=layers,
                         dtype=str(dtype), batch=batch, cache=cache)
    module = module if module is not None else build_decoder(spec, device, dtype,
                                                             experts=experts, layers=layers)
    fill = make_static_kv_cache if cache == STATIC else make_kv_cache

    def make_inputs():
        make = input_factory(device)
        x = make(int(batch), 1, spec.decoder.hidden, device=device, dtype=dtype)
        kv = fill(spec, int(kv_len), device, dtype, layers=layers, batch=int(batch))
        return (x, kv), {}

    return StageCase(DECODE, module, make_inputs, config, _experts_notes(experts))


def _experts_notes(experts: str) -> tuple[str, ...]:
    if experts not in EXPERTS_IMPLEMENTATIONS:
        from ..errors import UserError
        raise UserError(f"experts must be one of {', '.join(EXPERTS_IMPLEMENTATIONS)}")
    if experts == "grouped_mm":
        return ("experts: transformers' grouped_mm (aten._grouped_mm); weights read for "
                "min(64, tokens x 6) experts under balanced routing",)
    return ("experts: eager per-expert loop with balanced routing (tokens x 6 / 64 per expert)",)


def capture_stage(stage: str, *, crop_grid=None, seq_len: int | None = None,
                  kv_len: int | None = None, all_logits: bool = False,
                  experts: str = "grouped_mm", spec: ReferenceSpec = DEEPSEEK_OCR,
                  sdpa_backend: str = "auto", use_cache: bool = True,
                  layers: int | None = None, batch: int = 1,
                  cache: str = DYNAMIC) -> _capture.Capture:
    """Captured records of one stage. The module is built only when the cache misses (a hit
    imports neither torch nor transformers)."""
    if stage not in STAGES:
        from ..errors import UserError
        raise UserError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    _experts_notes(experts)

    def make_case():
        if stage == VISION:
            return vision_case(crop_grid, spec=spec)
        if stage == PREFILL:
            return prefill_case(seq_len, all_logits=all_logits, experts=experts, spec=spec,
                                layers=layers, batch=batch)
        return decode_case(kv_len, experts=experts, spec=spec, layers=layers, batch=batch,
                           cache=cache)

    if stage == VISION and int(batch) != 1:
        from ..errors import UserError
        raise UserError("the vision case is one image: B requests run it B times")
    key = case_config(stage, crop_grid=crop_grid, seq_len=seq_len, kv_len=kv_len,
                      all_logits=all_logits, experts=experts, spec=spec, layers=layers,
                      batch=batch, cache=cache)
    return _capture.capture_case(key, make_case, sdpa_backend=sdpa_backend, prefix=stage,
                                 use_cache=use_cache)


def capture_decode_steps(kv_len: int, steps: int, **kwargs) -> _capture.Capture:
    """K decode steps starting with kv_len cached positions: the first and last step's
    records, each with count K / 2 (exact for the affine-in-kv_len decode step)."""
    if steps <= 0:
        from ..errors import UserError
        raise UserError(f"decode steps must be >= 1, got {steps}")
    first = capture_stage(DECODE, kv_len=kv_len, **kwargs)
    if steps == 1:
        return first
    last = capture_stage(DECODE, kv_len=kv_len + steps - 1, **kwargs)
    return _capture.Capture.concat([c.scaled(steps / 2.0) for c in (first, last)])


def capture_pipeline(crop_grid=None, *, prompt_tokens: int = 0, decode_steps: int = 0,
                     all_logits: bool = False, experts: str = "grouped_mm",
                     spec: ReferenceSpec = DEEPSEEK_OCR, sdpa_backend: str = "auto",
                     use_cache: bool = True) -> dict[str, _capture.Capture]:
    """Vision, prefill (image + prompt tokens) and, if decode_steps, decode: stage -> Capture."""
    seq = spec.image_tokens(_grid(crop_grid)) + int(prompt_tokens)
    common = dict(spec=spec, sdpa_backend=sdpa_backend, use_cache=use_cache)
    out = {
        VISION: capture_stage(VISION, crop_grid=crop_grid, **common),
        PREFILL: capture_stage(PREFILL, seq_len=seq, all_logits=all_logits, experts=experts,
                               **common),
    }
    if decode_steps:
        out[DECODE] = capture_decode_steps(seq, decode_steps, experts=experts, **common)
    return out
