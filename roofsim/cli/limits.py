"""Limits a request must respect, derived from the model config and the GPU, checked at the edge
(after parsing, before any work).

- Text positions: the prompt and the decoded tokens of one sequence are at most the decoder's
  positions (`decoder.max_positions` of the config, 8192 for DeepSeek-OCR; with --model, the
  transformers config's `max_position_embeddings`, no limit where it has none), alone and
  together.
  DeepSeek-OCR's image tokens are not counted against it: the specification's sweeps go to
  39,423 image tokens (crop grids the real preprocessor never picks), so an explicit crop grid
  is a what-if bounded by memory instead. A vision-language --model's image tokens are: they
  sit in the decoder's sequence (and its KV cache) before the prompt, so image + prompt +
  decode tokens are at most max_position_embeddings (as a serving engine's max model length).
- Crops the preprocessor may pick (`--max-crops`): at most the crops whose image tokens fit the
  decoder's positions (the real preprocessor's grid is sent to the model).
- Device memory: what must stay resident for the request to run at all, the weights and the KV
  cache at the end of decoding (batch x (image + prompt + decode tokens) x bytes per cached
  token), at most the GPU's memory, before any records are built; once they are,
  `check_fit` adds the activation peak (roofsim.memory.MemoryFit) and names the part that
  overflows. Commands without a GPU (`cost`, `tokens`, `verify`) use the largest shipped spec.
  A transformers model (--model): its parameters in bf16 (counted on the model built on meta,
  cached) and its KV cache per position (roofsim.workloads.hf.params) over its image tokens +
  prompt + decode tokens. The footprint itself is roofsim.memory's.

Each check takes DeepSeek-OCR's analytic config or a transformers model's config
(roofsim.workloads.hf.configs.ModelConfig) as `cfg`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import UserError
from ..memory import (Footprint, MemoryFit, footprint, is_model_config, model_footprint,
                      per_gpu)
from ..units import to_gb


@dataclass(frozen=True)
class MemoryLimit:
    """The device memory a request must fit in, and whose it is (for the message)."""

    bytes: float
    owner: str              # "h100-sxm (80 GB)"


def memory_of(hardware) -> MemoryLimit:
    return MemoryLimit(hardware.mem_capacity_bytes,
                       f"{hardware.id}'s {hardware.mem_capacity_gb:g} GB")


@lru_cache(maxsize=1)
def largest_shipped_memory() -> MemoryLimit:
    from ..hardware import list_hardware, load_hardware
    specs = [load_hardware(h) for h in list_hardware()]
    big = max(specs, key=lambda s: s.mem_capacity_bytes)
    return MemoryLimit(big.mem_capacity_bytes,
                       f"the largest shipped GPU's ({big.id}, {big.mem_capacity_gb:g} GB)")


def positions_of(cfg) -> tuple[int | None, str]:
    """(positions of one sequence, where the number comes from); None: the config sets none."""
    if is_model_config(cfg):
        top = cfg.text.get("max_position_embeddings")
        return (int(top) if top else None), f"max_position_embeddings of {cfg.source}"
    return cfg.decoder.max_positions, f"decoder.max_positions of {cfg.source or cfg.name}"


def _config_name(cfg) -> str:
    return positions_of(cfg)[1]


def check_text_tokens(cfg, *, prompt: tuple[str, int] | None = None,
                      decode: tuple[str, int] | None = None,
                      image: tuple[str, tuple[int, int] | None] | None = None) -> None:
    """Prompt and decode tokens (each given as (option, value)) within the decoder's positions,
    alone and together; with a transformers model's `image` ((option, (height, width) or
    None)), its image tokens + prompt + decode tokens together (DeepSeek-OCR's image tokens are
    not counted: the module's docstring)."""
    top, where = positions_of(cfg)
    if top is None:
        return
    for item in (prompt, decode):
        if item is not None and not 0 <= item[1] <= top:
            raise UserError(f"{item[0]} {item[1]}: expected an integer in [0, {top}] "
                            f"({where}: one sequence has at most {top} positions)")
    if prompt is None or decode is None:
        return
    if prompt[1] + decode[1] > top:
        raise UserError(f"{prompt[0]} {prompt[1]} + {decode[0]} {decode[1]} = "
                        f"{prompt[1] + decode[1]} text tokens: more than the {top} positions of "
                        f"one sequence ({where})")
    if image is None or image[1] is None or not is_model_config(cfg) or \
            not cfg.is_vision_language:       # a text model's image is refused where it is read
        return
    from ..workloads.hf.vision import image_tokens
    n = image_tokens(cfg, *image[1])
    if n + prompt[1] + decode[1] > top:
        raise UserError(f"{image[0]} ({n} image tokens) + {prompt[0]} {prompt[1]} + {decode[0]} "
                        f"{decode[1]} = {n + prompt[1] + decode[1]} tokens: more than the {top} "
                        f"positions of one sequence ({where})")


def max_crops_in_positions(cfg) -> int:
    """The most crops whose image tokens fit the decoder's positions: the fewest image tokens
    for n crops is a 1 x n grid."""
    from ..workloads.deepseek_ocr import image_tokens
    top = cfg.decoder.max_positions
    lo, hi = 0, 1
    while image_tokens(cfg, "gundam", (1, hi)) <= top and hi < 1 << 40:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if image_tokens(cfg, "gundam", (1, mid)) <= top else (lo, mid)
    return lo


def check_crop_limits(cfg, min_crops: int | None, max_crops: int | None,
                      names: tuple[str, str] = ("--min-crops", "--max-crops")) -> None:
    """--min-crops / --max-crops of the crop chooser (`names` say where they were given)."""
    top = max_crops_in_positions(cfg)
    lo = cfg.views.min_crops if min_crops is None else min_crops
    hi = cfg.views.max_crops if max_crops is None else max_crops
    for option, value in zip(names, (min_crops, max_crops)):
        if value is not None and not 1 <= value <= top:
            raise UserError(f"{option} {value}: expected an integer in [1, {top}] (more crops "
                            f"give more image tokens than the {cfg.decoder.max_positions} "
                            f"positions of the decoder, {_config_name(cfg)})")
    if lo > hi:
        raise UserError(f"{names[0]} {lo} > {names[1]} {hi}: expected min <= max")


def check_memory(cfg, request, memory: MemoryLimit, what: str, plan=None,
                 sizes=None) -> Footprint:
    """The request's weights + KV cache within `memory`; `what` names the flags. Under a
    parallel plan (roofsim.parallel.ParallelPlan, `sizes` the workload's shard_sizes()), one
    GPU's share of each (roofsim.memory.per_gpu) within one GPU's memory."""
    sharded = plan is not None and not plan.is_single
    where = f" per GPU under {plan.flags}" if sharded else ""
    if is_model_config(cfg):       # a KV cache too large alone needs no model built
        kv = per_gpu(model_footprint(cfg, request, weights=False), cfg, plan, sizes)
        if kv.kv_bytes > memory.bytes:
            raise UserError(
                f"{what}: its KV cache alone needs {to_gb(kv.kv_bytes):.4g} GB of device memory"
                f"{where} ({kv.positions:,} positions x batch {kv.batch:,}), more than "
                f"{memory.owner}")
    fp = footprint(cfg, request, plan, sizes)
    if fp.total > memory.bytes:
        raise UserError(
            f"{what}: needs {to_gb(fp.total):.4g} GB of device memory{where} (weights "
            f"{to_gb(fp.weight_bytes):.3g} GB + KV cache {to_gb(fp.kv_bytes):.4g} GB for "
            f"{fp.positions:,} positions x batch {fp.batch:,}), more than {memory.owner}")
    return fp


def check_fit(fit: MemoryFit, memory: MemoryLimit, what: str) -> MemoryFit:
    """Weights + KV cache + activation peak within `memory`; else an error naming the part
    that overflows, by how much, and the largest batch and context that fit."""
    over = fit.overflow()
    if over is None:
        return fit
    part, excess = over
    sizes = " + ".join(f"{name} {to_gb(b):.4g} GB" for name, b in fit.parts.items())
    room = (f"at most {fit.max_batch:,} sequences of {fit.positions:,} positions fit"
            if fit.max_batch else "not one sequence of these positions fits")
    ctx = (f", or {fit.max_context:,} positions per sequence at batch {fit.batch:,}"
           if fit.max_context else "")
    raise UserError(f"{what}: the {part} overflows {memory.owner} by {to_gb(excess):.4g} GB "
                    f"({sizes} = {to_gb(fit.total):.4g} GB); {room}{ctx}")


__all__ = ["Footprint", "MemoryLimit", "check_crop_limits", "check_fit", "check_memory",
           "check_text_tokens", "footprint", "largest_shipped_memory", "max_crops_in_positions",
           "memory_of", "positions_of"]
