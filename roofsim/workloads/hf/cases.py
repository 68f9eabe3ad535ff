"""Stage cases of a transformers model (roofsim.workloads.case.StageCase): what capture traces on
meta tensors and what benchmarks/measure_models.py times on a GPU, built the same way.

- prefill: `tokens` prompt tokens (batch rows) as token ids through the causal LM with a fresh
  KV cache and the logits of the last position only (logits_to_keep=1, as generation does);
- decode:  one token per row with a DynamicCache already holding kv_len positions (the new K/V
  concatenated onto it, as eager generation runs); with cache="static", a StaticCache of
  kv_len + 1 positions holding kv_len (the new K/V written in place, attention over all
  kv_len + 1 with a mask), as a CUDA-graph replay runs it (benchmarks/measure_models.py
  measure_graph_decode);
- vision:  the vision encoder over one image (vision-language models).
The configuration of a case (`case_key`) is known without building the model: it is the
capture cache key, so a cached prediction never imports torch.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...stages import DECODE, PREFILL, VISION
from ..case import CACHES, DYNAMIC, STATIC, StageCase
from .configs import ModelConfig

DTYPE = "bfloat16"


def case_key(mc: ModelConfig, stage: str, *, tokens: int = 0, kv_len: int = 0, batch: int = 1,
             image: tuple[int, int] | None = None, dtype: str = DTYPE,
             cache: str = DYNAMIC) -> dict[str, Any]:
    """JSON-able identity of a case (the capture cache key). A decode case names its cache only
    when static, so dynamic keys are those of before static ones existed."""
    if cache not in CACHES:
        raise ValueError(f"cache {cache!r}, expected one of {', '.join(CACHES)}")
    key: dict[str, Any] = {"workload": "transformers", "model": mc.key(), "stage": stage,
                           "batch": int(batch), "dtype": dtype}
    if stage == PREFILL:
        key["tokens"] = int(tokens)
    elif stage == DECODE:
        key["kv_len"] = int(kv_len)
        if cache == STATIC:
            key["cache"] = STATIC
    elif stage == VISION:
        key["image"] = list(image)
    return key


def _torch_dtype(dtype):
    import torch
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def prefill_case(model, mc: ModelConfig, tokens: int, *, batch: int = 1, device="meta",
                 dtype=DTYPE) -> StageCase:
    from . import build
    vocab = build.text_config(model).vocab_size

    kwarg = build.cache_kwarg(model)

    def make_inputs():
        # an empty cache handed in, as generate() builds one before its first forward: a
        # model that makes its mask before its decoder makes the cache (PaliGemma) would take
        # the positions for packed sequences and read them on the host
        return (), {"input_ids": build.token_ids(batch, tokens, vocab, device),
                    "use_cache": True, "logits_to_keep": 1, kwarg: build.new_cache(model)}

    return StageCase(PREFILL, model, make_inputs,
                     case_key(mc, PREFILL, tokens=tokens, batch=batch, dtype=str(dtype)))


def decode_case(model, mc: ModelConfig, kv_len: int, *, batch: int = 1, device="meta",
                dtype=DTYPE, shapes=None, cache: str = DYNAMIC) -> StageCase:
    """One decode step over a `cache` (DYNAMIC or STATIC, see the module docstring) holding
    kv_len positions; `shapes` (per layer cached K/V shapes, build.kv_shapes) is probed once
    when not given."""
    from . import build
    tdtype = _torch_dtype(dtype)
    vocab = build.text_config(model).vocab_size
    shapes = shapes if shapes is not None else build.kv_shapes(model, device)
    kwarg = build.cache_kwarg(model)
    key = case_key(mc, DECODE, kv_len=kv_len, batch=batch, dtype=str(dtype), cache=cache)
    fill = build.static_cache if cache == STATIC else build.filled_cache

    def make_inputs():
        kv = fill(model, shapes, batch, kv_len, device, tdtype)
        return (), {"input_ids": build.token_ids(batch, 1, vocab, device), "use_cache": True,
                    "logits_to_keep": 1, kwarg: kv}

    return StageCase(DECODE, model, make_inputs, key)


def vision_case(model, mc: ModelConfig, image: tuple[int, int], *, device="meta",
                dtype=DTYPE) -> StageCase:
    """The vision encoder over one image of (height, width) pixels."""
    from . import build
    tdtype = _torch_dtype(dtype)
    encoder = build.vision_inputs(model, mc, image[0], image[1], device, tdtype)[0]

    def make_inputs():
        _, args, kwargs = build.vision_inputs(model, mc, image[0], image[1], device, tdtype)
        return args, kwargs

    return StageCase(VISION, encoder, make_inputs,
                     case_key(mc, VISION, image=image, dtype=str(dtype)))


def stage_case(model, mc: ModelConfig, key: Mapping[str, Any], *, device="meta",
               dtype=DTYPE, shapes=None) -> StageCase:
    """The case a `case_key` describes, on `model`."""
    stage = key["stage"]
    if stage == PREFILL:
        return prefill_case(model, mc, key["tokens"], batch=key["batch"], device=device,
                            dtype=dtype)
    if stage == DECODE:
        return decode_case(model, mc, key["kv_len"], batch=key["batch"], device=device,
                           dtype=dtype, shapes=shapes, cache=key.get("cache", DYNAMIC))
    return vision_case(model, mc, tuple(key["image"]), device=device, dtype=dtype)
