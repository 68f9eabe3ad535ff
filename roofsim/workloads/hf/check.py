"""The closed-form cross-check of a transformers model's capture (`roofsim verify --model`):
captured prefill matrix FLOPs against 2 x active parameters x tokens + lm_head on the last
position + attention over every score (roofsim.workloads.hf.params), within FLOP_TOLERANCE."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ...stages import PREFILL
from .configs import ModelConfig
from .params import ParameterCounts, prefill_flops

FLOP_TOLERANCE = 0.02          # issue 12: prefill FLOPs within 2% of the closed form


@dataclass(frozen=True)
class ModelCheck:
    model: str
    tokens: int
    batch: int
    captured_flops: float      # matrix FLOPs of the captured prefill (a FLOP counter's count)
    closed_form_flops: float

    @property
    def error(self) -> float:
        return self.captured_flops / self.closed_form_flops - 1.0

    @property
    def ok(self) -> bool:
        return abs(self.error) <= FLOP_TOLERANCE

    def as_dict(self) -> dict:
        return {**asdict(self), "error": self.error, "ok": self.ok,
                "tolerance": FLOP_TOLERANCE}


def check_model(mc: ModelConfig, tokens: int, batch: int = 1, *,
                use_cache: bool = True) -> ModelCheck:
    from .summary import parameter_counts_of
    from .workload import TransformersModel
    cap = TransformersModel(mc).capture(PREFILL, tokens=tokens, batch=batch, use_cache=use_cache)
    counts = ParameterCounts(**parameter_counts_of(mc))
    return ModelCheck(mc.name, int(tokens), int(batch), cap.matrix_flops,
                      prefill_flops(counts, mc, tokens, batch))
