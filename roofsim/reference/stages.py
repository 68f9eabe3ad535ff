"""The reference pipeline as stage cases: a module plus a factory of example inputs.

A `StageCase` is what both capture (meta tensors, CPU) and GPU timing (CUDA, bf16) need:
- vision: SAM + CLIP + projector over the global view (1024) and the crops (640, stacked in
  the batch as the original does), then the token layout;
- prefill: the decoder over image tokens + prompt tokens given as inputs_embeds (the prompt's
  embedding lookup and the scatter of image features into it are not part of the case), with
  a fresh KV cache, and lm_head on the last position (all positions with all_logits=True);
- decode: one token with a KV cache already holding kv_len positions.
`make_inputs()` returns fresh (args, kwargs) on every call: a decode step appends to its cache.
Checked on an H100 (torch 2.11, transformers 5.17): each stage builds and runs on CUDA in bf16,
with transformers' grouped_mm experts and SDPA; the CUDA profiler counted 1572 / 1130 / 944
kernels for vision at 2x3 / prefill of 903 tokens / one decode step at 903 cached positions,
against 1253 / 809 / 809 captured aten ops there (some ops launch several kernels: sort,
grouped_mm's data preparation, device-to-device copies), and every SDPA call ran as cuDNN
attention.

`capture_case` / `capture_stage` trace a case on meta tensors (roofsim.capture), cached on disk
keyed by the case's configuration (roofsim.capture.cached_capture). `capture_decode_steps`
covers K decode steps from two captures: every captured quantity of a decode step is affine in
kv_len (attention and cache concatenation grow linearly, the rest is constant), so the sum over
steps kv_len = L .. L+K-1 is K x the mean of the first and last step, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .. import capture as _capture
from . import _compat
from .models import (EXPERTS_IMPLEMENTATIONS, build_decoder, build_vision, input_factory,
                     make_kv_cache)
from .spec import DEEPSEEK_OCR, ReferenceSpec

STAGES = ("vision", "prefill", "decode")
_NOT_BUILT = object()


@dataclass(frozen=True, eq=False)
class StageCase:
    stage: str
    module: Any
    make_inputs: Callable[[], tuple[tuple, dict]]
    config: Mapping[str, Any]                 # JSON-able: what the case is (the cache key)
    notes: tuple[str, ...] = field(default_factory=tuple)


def _dtype(dtype):
    return dtype or _compat.load().torch.bfloat16


def _grid(crop_grid):
    if crop_grid is None:
        return None
    rows, cols = (int(v) for v in crop_grid)
    return None if rows * cols == 0 else (rows, cols)


def vision_case(crop_grid=None, *, spec: ReferenceSpec = DEEPSEEK_OCR, device="meta",
                dtype=None, module=None) -> StageCase:
    """crop_grid: (rows, cols) of 640 crops, or None for the global view only."""
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

    return StageCase("vision", module, make_inputs, {
        "stage": "vision", "crop_grid": list(grid) if grid else None, "spec": spec.as_dict(),
        "dtype": str(dtype)})


def prefill_case(seq_len: int, *, all_logits: bool = False, experts: str = "grouped_mm",
                 spec: ReferenceSpec = DEEPSEEK_OCR, device="meta", dtype=None, module=None,
                 layers: int | None = None) -> StageCase:
    dtype = _dtype(dtype)
    module = module if module is not None else build_decoder(spec, device, dtype,
                                                             experts=experts, layers=layers)

    def make_inputs():
        make = input_factory(device)
        x = make(1, int(seq_len), spec.decoder.hidden, device=device, dtype=dtype)
        return (x,), {"all_logits": all_logits}

    return StageCase("prefill", module, make_inputs, {
        "stage": "prefill", "seq_len": int(seq_len), "all_logits": bool(all_logits),
        "experts": experts, "layers": layers, "spec": spec.as_dict(), "dtype": str(dtype)},
        _experts_notes(experts))


def decode_case(kv_len: int, *, experts: str = "grouped_mm", spec: ReferenceSpec = DEEPSEEK_OCR,
                device="meta", dtype=None, module=None, layers: int | None = None) -> StageCase:
    dtype = _dtype(dtype)
    module = module if module is not None else build_decoder(spec, device, dtype,
                                                             experts=experts, layers=layers)

    def make_inputs():
        make = input_factory(device)
        x = make(1, 1, spec.decoder.hidden, device=device, dtype=dtype)
        cache = make_kv_cache(spec, int(kv_len), device, dtype, layers=layers)
        return (x, cache), {}

    return StageCase("decode", module, make_inputs, {
        "stage": "decode", "kv_len": int(kv_len), "experts": experts, "layers": layers,
        "spec": spec.as_dict(), "dtype": str(dtype)}, _experts_notes(experts))


def _experts_notes(experts: str) -> tuple[str, ...]:
    if experts not in EXPERTS_IMPLEMENTATIONS:
        from ..errors import UserError
        raise UserError(f"experts must be one of {', '.join(EXPERTS_IMPLEMENTATIONS)}")
    if experts == "grouped_mm":
        return ("experts: transformers' grouped_mm (aten._grouped_mm); weights read for "
                "min(64, tokens x 6) experts under balanced routing",)
    return ("experts: eager per-expert loop with balanced routing (tokens x 6 / 64 per expert)",)


def capture_case(case: StageCase, *, sdpa_backend: str = "auto", use_cache: bool = True,
                 prefix: str | None = None) -> _capture.Capture:
    """Trace one case on meta tensors (cached on disk by its configuration)."""
    prefix = case.stage if prefix is None else prefix
    key = {"case": dict(case.config), "sdpa_backend": sdpa_backend, "prefix": prefix}

    def produce():
        args, kwargs = case.make_inputs()
        cap = _capture.capture(case.module, *args, stage=case.stage, prefix=prefix,
                               sdpa_backend=sdpa_backend, **kwargs)
        return _capture.Capture(cap.table, cap.counter_flops, cap.sdpa_backends,
                                cap.unknown_ops, cap.notes + tuple(case.notes))

    return _capture.cached_capture(key, produce, use_cache=use_cache)


def capture_stage(stage: str, *, crop_grid=None, seq_len: int | None = None,
                  kv_len: int | None = None, all_logits: bool = False,
                  experts: str = "grouped_mm", spec: ReferenceSpec = DEEPSEEK_OCR,
                  sdpa_backend: str = "auto", use_cache: bool = True,
                  layers: int | None = None) -> _capture.Capture:
    """Captured records of one stage. The module is built only when the cache misses."""
    if stage not in STAGES:
        from ..errors import UserError
        raise UserError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    def case_for(module):
        if stage == "vision":
            return vision_case(crop_grid, spec=spec, module=module)
        if stage == "prefill":
            return prefill_case(seq_len, all_logits=all_logits, experts=experts, spec=spec,
                                module=module, layers=layers)
        return decode_case(kv_len, experts=experts, spec=spec, module=module, layers=layers)

    probe = case_for(module=_NOT_BUILT)      # the configuration only: no module is built
    key = {"case": dict(probe.config), "sdpa_backend": sdpa_backend, "prefix": stage}

    def produce():
        case = case_for(module=None)
        args, kwargs = case.make_inputs()
        cap = _capture.capture(case.module, *args, stage=stage, prefix=stage,
                               sdpa_backend=sdpa_backend, **kwargs)
        return _capture.Capture(cap.table, cap.counter_flops, cap.sdpa_backends,
                                cap.unknown_ops, cap.notes + tuple(case.notes))

    return _capture.cached_capture(key, produce, use_cache=use_cache)


def capture_decode_steps(kv_len: int, steps: int, **kwargs) -> _capture.Capture:
    """K decode steps starting with kv_len cached positions: the first and last step's
    records, each with count K / 2 (exact for the affine-in-kv_len decode step)."""
    if steps <= 0:
        from ..errors import UserError
        raise UserError(f"decode steps must be >= 1, got {steps}")
    first = capture_stage("decode", kv_len=kv_len, **kwargs)
    if steps == 1:
        return first
    last = capture_stage("decode", kv_len=kv_len + steps - 1, **kwargs)
    half = steps / 2.0
    parts = [_capture.Capture(c.table.with_columns(count=c.table.count * half), c.counter_flops,
                              c.sdpa_backends, c.unknown_ops, c.notes) for c in (first, last)]
    return _capture.Capture.concat(parts)


def capture_pipeline(crop_grid=None, *, prompt_tokens: int = 0, decode_steps: int = 0,
                     all_logits: bool = False, experts: str = "grouped_mm",
                     spec: ReferenceSpec = DEEPSEEK_OCR, sdpa_backend: str = "auto",
                     use_cache: bool = True) -> dict[str, _capture.Capture]:
    """Vision, prefill (image + prompt tokens) and, if decode_steps, decode: stage -> Capture."""
    seq = spec.image_tokens(_grid(crop_grid)) + int(prompt_tokens)
    common = dict(spec=spec, sdpa_backend=sdpa_backend, use_cache=use_cache)
    out = {
        "vision": capture_stage("vision", crop_grid=crop_grid, **common),
        "prefill": capture_stage("prefill", seq_len=seq, all_logits=all_logits, experts=experts,
                                 **common),
    }
    if decode_steps:
        out["decode"] = capture_decode_steps(seq, decode_steps, experts=experts, **common)
    return out
