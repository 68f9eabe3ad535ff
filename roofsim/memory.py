"""Device memory of a request: what stays resident (weights, KV cache), how much KV cache a GPU
holds beside the weights, and the largest batch and context that fit.

- Weights: DeepSeek-OCR's analytic parameter count x its element size; a transformers model's
  parameters in bf16 (counted on the model built on meta, cached).
- KV cache: bytes per cached position (roofsim.workloads.*.kv_cache_bytes_per_token) x batch x
  positions (image + prompt + decode tokens).
- `utilization`: the share of the GPU's memory the server may use (vLLM's
  gpu_memory_utilization, default 0.9); the rest is left for activations, the CUDA context and
  fragmentation.

Every function takes DeepSeek-OCR's analytic config or a transformers model's config
(roofsim.workloads.hf.configs.ModelConfig) as `cfg`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError
from .units import to_gb

DEFAULT_UTILIZATION = 0.9


def is_model_config(cfg) -> bool:
    """A transformers model's config (--model), not DeepSeek-OCR's analytic one."""
    return not hasattr(cfg, "decoder")


@dataclass(frozen=True)
class Footprint:
    """Device memory a request needs resident: weights and the final KV cache."""

    weight_bytes: float
    kv_bytes: float
    positions: int
    batch: int

    @property
    def total(self) -> float:
        return self.weight_bytes + self.kv_bytes


# A transformers model's weights as roofsim captures it (bf16).
MODEL_WEIGHT_BYTES = 2


def model_footprint(mc, request, *, weights: bool = True) -> Footprint:
    """A transformers model's request (roofsim.workloads.Request, image as (height, width)).
    Its parameters are counted on the model built on meta (torch, cached); weights=False
    leaves them out (0)."""
    from .workloads.hf.params import kv_cache_bytes_per_token
    from .workloads.hf.vision import image_tokens
    image = image_tokens(mc, *request.image) if request.image is not None else 0
    positions = image + request.prompt_tokens + request.decode_tokens
    kv = float(kv_cache_bytes_per_token(mc)) * request.batch * positions
    return Footprint(weight_bytes(mc) if weights else 0.0, kv, int(positions),
                     int(request.batch))


def footprint(cfg, request) -> Footprint:
    if is_model_config(cfg):
        return model_footprint(cfg, request)
    from .workloads.deepseek_ocr import kv_cache_bytes_per_token, parameter_counts, views
    positions = views(cfg, request).image_tokens + request.prompt_tokens + request.decode_tokens
    kv = float(kv_cache_bytes_per_token(cfg)) * request.batch * positions
    return Footprint(float(parameter_counts(cfg)["total"] * cfg.element_bytes), kv,
                     int(positions), int(request.batch))


def kv_bytes_per_position(cfg) -> float:
    if is_model_config(cfg):
        from .workloads.hf.params import kv_cache_bytes_per_token
        return float(kv_cache_bytes_per_token(cfg))
    from .workloads.deepseek_ocr import kv_cache_bytes_per_token
    return float(kv_cache_bytes_per_token(cfg))


def weight_bytes(cfg) -> float:
    if is_model_config(cfg):
        from .workloads.hf.summary import parameter_counts_of
        return float(parameter_counts_of(cfg)["total"] * MODEL_WEIGHT_BYTES)
    from .workloads.deepseek_ocr import parameter_counts
    return float(parameter_counts(cfg)["total"] * cfg.element_bytes)


@dataclass(frozen=True)
class KVBudget:
    """The KV cache a GPU holds for a model: usable memory minus the weights."""

    capacity_bytes: float          # the GPU's memory
    usable_bytes: float            # x utilization
    weight_bytes: float
    bytes_per_position: float

    @property
    def kv_bytes(self) -> float:
        return max(self.usable_bytes - self.weight_bytes, 0.0)

    @property
    def positions(self) -> int:
        return int(self.kv_bytes // self.bytes_per_position)

    def max_batch(self, positions_per_sequence: int) -> int:
        """Most sequences of `positions_per_sequence` positions whose KV fits (0: none)."""
        return self.positions // max(int(positions_per_sequence), 1)

    def max_context(self, batch: int) -> int:
        """Most positions per sequence for `batch` sequences."""
        return self.positions // max(int(batch), 1)

    def as_dict(self) -> dict:
        return {"capacity_bytes": self.capacity_bytes, "usable_bytes": self.usable_bytes,
                "weight_bytes": self.weight_bytes, "kv_bytes": self.kv_bytes,
                "kv_bytes_per_position": self.bytes_per_position,
                "kv_positions": self.positions}


def kv_budget(cfg, capacity_bytes: float, utilization: float = DEFAULT_UTILIZATION,
              owner: str = "the GPU") -> KVBudget:
    """The KV cache beside the weights in `utilization` x `capacity_bytes`; a clear error when
    the weights alone overflow it."""
    if not 0 < utilization <= 1:
        raise UserError(f"memory utilization {utilization}: expected a share in (0, 1]")
    usable = capacity_bytes * utilization
    w = weight_bytes(cfg)
    if w >= usable:
        raise UserError(f"the weights need {to_gb(w):.4g} GB, more than the "
                        f"{to_gb(usable):.4g} GB usable on {owner} ({utilization:.0%} of "
                        f"{to_gb(capacity_bytes):.4g} GB) by {to_gb(w - usable):.3g} GB: "
                        "no room for a KV cache")
    return KVBudget(float(capacity_bytes), float(usable), w, kv_bytes_per_position(cfg))


__all__ = ["DEFAULT_UTILIZATION", "Footprint", "KVBudget", "MODEL_WEIGHT_BYTES", "footprint",
           "is_model_config", "kv_budget", "kv_bytes_per_position", "model_footprint",
           "weight_bytes"]
