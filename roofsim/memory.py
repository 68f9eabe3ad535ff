"""Device memory of a request: what stays resident (weights, KV cache), how much KV cache a GPU
holds beside the weights, and the largest batch and context that fit.

- Weights: DeepSeek-OCR's analytic parameter count x its element size; a transformers model's
  parameters in bf16 (counted on the model built on meta, cached).
- KV cache: bytes per cached position (roofsim.workloads.*.kv_cache_bytes_per_token) x batch x
  positions (image + prompt + decode tokens).
- Activation peak (activation_peak_bytes): DeepSeek-OCR's analytic model's own, else the largest
  launch's working set in the stage records (roofsim.activations); MemoryFit adds it to the
  weights and KV cache against the GPU's whole memory, with the largest batch and context that
  fit.
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


def footprint(cfg, request, plan=None, sizes=None) -> Footprint:
    """Weights and final KV cache of a request; under a parallel plan (roofsim.parallel.
    ParallelPlan, with the workload's shard_sizes() as `sizes`), one GPU's share of each, as a
    server holds them (per_gpu)."""
    if is_model_config(cfg):
        fp = model_footprint(cfg, request)
    else:
        from .workloads.deepseek_ocr import kv_cache_bytes_per_token, parameter_counts, views
        positions = views(cfg, request).image_tokens + request.prompt_tokens + \
            request.decode_tokens
        kv = float(kv_cache_bytes_per_token(cfg)) * request.batch * positions
        fp = Footprint(float(parameter_counts(cfg)["total"] * cfg.element_bytes), kv,
                       int(positions), int(request.batch))
    return per_gpu(fp, cfg, plan, sizes)


def per_gpu(fp: Footprint, cfg, plan=None, sizes=None) -> Footprint:
    """One GPU's share of a footprint under a parallel plan: its weights' share
    (ParallelPlan.weight_share) and its KV cache's (kv_share), as kv_budget counts them; the
    footprint itself on one GPU (no plan, or a plan of one)."""
    if plan is None or plan.is_single:
        return fp
    weights = plan.weight_share(fp.weight_bytes, weight_bytes(cfg, "routed_experts")) \
        if fp.weight_bytes else 0.0
    return Footprint(weights, fp.kv_bytes * plan.kv_share(sizes), fp.positions, fp.batch)


def kv_bytes_per_position(cfg) -> float:
    if is_model_config(cfg):
        from .workloads.hf.params import kv_cache_bytes_per_token
        return float(kv_cache_bytes_per_token(cfg))
    from .workloads.deepseek_ocr import kv_cache_bytes_per_token
    return float(kv_cache_bytes_per_token(cfg))


def weight_bytes(cfg, part: str = "total") -> float:
    """Bytes of the model's parameters: all of them, or one part its parameter counts name
    ('routed_experts': what expert parallelism splits)."""
    if is_model_config(cfg):
        from .workloads.hf.summary import parameter_counts_of
        return float(parameter_counts_of(cfg)[part] * MODEL_WEIGHT_BYTES)
    from .workloads.deepseek_ocr import parameter_counts
    return float(parameter_counts(cfg)[part] * cfg.element_bytes)


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
              owner: str = "the GPU", plan=None, sizes=None) -> KVBudget:
    """The KV cache beside the weights in `utilization` x `capacity_bytes`; a clear error when
    the weights alone overflow it. Under a parallel plan (roofsim.parallel.ParallelPlan, with
    the workload's shard_sizes() as `sizes`), one GPU's: its share of the weights
    (ParallelPlan.weight_share) and of the KV cache per position (kv_share)."""
    if not 0 < utilization <= 1:
        raise UserError(f"memory utilization {utilization}: expected a share in (0, 1]")
    usable = capacity_bytes * utilization
    # one position of one sequence: its KV bytes are the cache's per position
    share = per_gpu(Footprint(weight_bytes(cfg), kv_bytes_per_position(cfg), 1, 1), cfg, plan,
                    sizes)
    w, per_position = share.weight_bytes, share.kv_bytes
    sharded = plan is not None and not plan.is_single
    if w >= usable:
        raise UserError(f"the weights need {to_gb(w):.4g} GB{' per GPU' if sharded else ''}, "
                        f"more than the {to_gb(usable):.4g} GB usable on {owner} "
                        f"({utilization:.0%} of {to_gb(capacity_bytes):.4g} GB) by "
                        f"{to_gb(w - usable):.3g} GB: no room for a KV cache")
    return KVBudget(float(capacity_bytes), float(usable), w, per_position)




def activation_peak_bytes(wl, request, records) -> float:
    """Peak live activations of a request: the workload's own model where it has one
    (DeepSeek-OCR's analytic `activation_peak_bytes`), else the largest launch's working set
    over the stage records (roofsim.activations.peak_working_set)."""
    own = getattr(wl, "activation_peak_bytes", None)
    value = own(request) if own is not None else None
    if value is not None:
        return float(value)
    from .activations import peak_working_set
    return peak_working_set(t for s in records.stages for t, _ in records.parts[s])


# The parts of a request's memory, in the order they are placed (the first one past the
# capacity is the one that overflows).
MEMORY_PARTS = ("weights", "KV cache", "activation peak")


@dataclass(frozen=True)
class MemoryFit:
    """Weights + KV cache + activation peak of a request on one GPU, and the largest batch (at
    its positions per sequence) and context (positions per sequence, at its batch) that fit the
    GPU's whole memory. KV cache and activations are taken as proportional to batch x positions
    (the activation peak of a prefill grows with its tokens; a vision stage's does not, so the
    limits are conservative where vision peaks; unfused attention's score matrices grow with
    the square of the tokens, so its max_context is optimistic)."""

    weight_bytes: float
    kv_bytes: float
    activation_peak_bytes: float
    capacity_bytes: float
    batch: int
    positions: int                  # per sequence: image + prompt + decode tokens

    @property
    def total(self) -> float:
        return self.weight_bytes + self.kv_bytes + self.activation_peak_bytes

    @property
    def parts(self) -> dict[str, float]:
        return dict(zip(MEMORY_PARTS, (self.weight_bytes, self.kv_bytes,
                                       self.activation_peak_bytes)))

    @property
    def _free(self) -> float:
        return max(self.capacity_bytes - self.weight_bytes, 0.0)

    @property
    def max_batch(self) -> int:
        """Most sequences of this request's positions that fit (0: none)."""
        per_sequence = (self.kv_bytes + self.activation_peak_bytes) / max(self.batch, 1)
        return int(self._free // per_sequence) if per_sequence > 0 else 0

    @property
    def max_context(self) -> int | None:
        """Most positions per sequence at this batch (None: the request has no positions)."""
        if self.positions <= 0:
            return None
        per_position = (self.kv_bytes + self.activation_peak_bytes) / self.positions
        return int(self._free // per_position) if per_position > 0 else None

    def overflow(self) -> tuple[str, float] | None:
        """(the part that crosses the capacity, bytes over it), None when the request fits."""
        placed = 0.0
        for name, size in self.parts.items():
            placed += size
            if placed > self.capacity_bytes:
                return name, placed - self.capacity_bytes
        return None

    def as_dict(self) -> dict:
        return {"weights_gb": to_gb(self.weight_bytes), "kv_cache_gb": to_gb(self.kv_bytes),
                "activation_peak_gb": to_gb(self.activation_peak_bytes),
                "total_gb": to_gb(self.total), "capacity_gb": to_gb(self.capacity_bytes),
                "max_batch": self.max_batch, "max_context": self.max_context}


def memory_fit(cfg, request, activation_bytes: float, capacity_bytes: float) -> MemoryFit:
    """The request's MemoryFit (`cfg` as footprint's; `activation_bytes` from
    activation_peak_bytes)."""
    fp = footprint(cfg, request)
    return MemoryFit(fp.weight_bytes, fp.kv_bytes, float(activation_bytes),
                     float(capacity_bytes), fp.batch, fp.positions)


__all__ = ["DEFAULT_UTILIZATION", "Footprint", "KVBudget", "MEMORY_PARTS", "MODEL_WEIGHT_BYTES",
           "MemoryFit", "activation_peak_bytes", "footprint", "is_model_config", "kv_budget",
           "kv_bytes_per_position", "memory_fit", "model_footprint", "weight_bytes"]
