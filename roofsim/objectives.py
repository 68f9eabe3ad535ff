"""Responsiveness objectives: what a TTFT / TPOT budget asks of the hardware, and what a given
hardware spec delivers.

- TTFT (time to first token) covers vision + prefill; TPOT (time per output token) is the decode
  stage's time divided by the number of decode steps K.
- Required throughput = stage FLOPs / budget (the specification's tables: TTFT uses vision +
  prefill FLOPs over 1.0 s; TPOT uses decode FLOPs over K tokens at 50 ms each).
- Required bandwidth = bytes the stage moves to and from device memory (weights included) /
  budget; the activation-only share is given too.
- Predicted TTFT / TPOT come from roofsim.timing (the engine per kernel, the one latency path
  roofsim.predict uses too); the dominating bound is the bound that accounts for most of the
  time.

All values are SI (FLOP/s, byte/s, s); convert at the edge with roofsim.units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .engine import BOUNDS
from .records import RecordTable, StageCost
from .stages import DECODE, TPOT_STAGES, TTFT_STAGES, VISION
from .timing import time_stage

DEFAULT_TTFT_S = 1.0     # the specification's TTFT budget (vision + prefill)
DEFAULT_TPOT_S = 0.050   # the specification's TPOT budget (decode, per token)


@dataclass(frozen=True)
class Budgets:
    ttft_s: float = DEFAULT_TTFT_S
    tpot_s: float = DEFAULT_TPOT_S

    def __post_init__(self):
        for name in ("ttft_s", "tpot_s"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"budget {name} must be a positive number of seconds, got {v}")


@dataclass(frozen=True)
class Requirement:
    """Throughput a budget asks for: FLOP/s (split tensor / CUDA-core) and byte/s."""

    objective: str          # "ttft" or "tpot"
    budget_s: float
    flops: float            # work inside the budget (per token for TPOT)
    flops_tensor: float
    flops_cuda: float
    io_bytes: float         # device-memory traffic inside the budget, weights included
    activation_io_bytes: float

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.budget_s

    @property
    def tensor_flops_per_s(self) -> float:
        return self.flops_tensor / self.budget_s

    @property
    def cuda_flops_per_s(self) -> float:
        return self.flops_cuda / self.budget_s

    @property
    def bytes_per_s(self) -> float:
        return self.io_bytes / self.budget_s

    @property
    def activation_bytes_per_s(self) -> float:
        return self.activation_io_bytes / self.budget_s

    def as_dict(self) -> dict[str, float | str]:
        return {"objective": self.objective, "budget_s": self.budget_s, "flops": self.flops,
                "flops_per_s": self.flops_per_s, "tensor_flops_per_s": self.tensor_flops_per_s,
                "cuda_flops_per_s": self.cuda_flops_per_s, "bytes_per_s": self.bytes_per_s,
                "activation_bytes_per_s": self.activation_bytes_per_s}


def _sum_costs(costs: Mapping[str, StageCost], stages: tuple[str, ...]) -> StageCost:
    """The stages' costs summed; a vision stage may be missing (a text model)."""
    missing = [s for s in stages if s not in costs and s != VISION]
    if missing or not any(s in costs for s in stages):
        raise KeyError(f"stage cost(s) {missing or list(stages)} missing; have {sorted(costs)}")
    present = [costs[s] for s in stages if s in costs]
    total = present[0]
    for c in present[1:]:
        total = total + c
    return total


def ttft_requirement(costs: Mapping[str, StageCost], budget_s: float = DEFAULT_TTFT_S) -> Requirement:
    """Throughput to finish vision + prefill within `budget_s`."""
    c = _sum_costs(costs, TTFT_STAGES)
    return Requirement("ttft", budget_s, c.flops, c.flops_tensor, c.flops_cuda, c.io_bytes,
                       c.activation_io_bytes)


def tpot_requirement(costs: Mapping[str, StageCost], decode_tokens: int,
                     budget_s: float = DEFAULT_TPOT_S) -> Requirement:
    """Throughput to produce each of the K decode tokens within `budget_s` (per-token work is the
    decode stage's total over K, as the specification computes it)."""
    if decode_tokens < 1:
        raise ValueError(f"decode_tokens must be >= 1, got {decode_tokens}")
    c = _sum_costs(costs, TPOT_STAGES)
    k = float(decode_tokens)
    return Requirement("tpot", budget_s, c.flops / k, c.flops_tensor / k, c.flops_cuda / k,
                       c.io_bytes / k, c.activation_io_bytes / k)


@dataclass(frozen=True)
class LatencyPrediction:
    """Engine-predicted latency of one request on one hardware spec."""

    hardware: str
    stage_s: Mapping[str, float]                 # vision, prefill, decode (whole stage)
    time_by_bound: Mapping[str, Mapping[str, float]]   # objective -> bound -> seconds
    decode_tokens: int
    calibrated_fraction: float                   # share of predicted time from calibration

    @property
    def ttft_s(self) -> float:
        return sum(self.stage_s.get(s, 0.0) for s in TTFT_STAGES)

    @property
    def tpot_s(self) -> float:
        return self.stage_s["decode"] / self.decode_tokens

    def bound(self, objective: str) -> str:
        by = self.time_by_bound[objective]
        return max(by, key=by.get)

    @property
    def ttft_bound(self) -> str:
        return self.bound("ttft")

    @property
    def tpot_bound(self) -> str:
        return self.bound("tpot")

    def meets(self, budgets: Budgets) -> dict[str, bool]:
        return {"ttft": self.ttft_s <= budgets.ttft_s, "tpot": self.tpot_s <= budgets.tpot_s}

    def as_dict(self) -> dict:
        return {"hardware": self.hardware, "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
                "ttft_bound": self.ttft_bound, "tpot_bound": self.tpot_bound,
                "stage_s": dict(self.stage_s), "decode_tokens": self.decode_tokens,
                "calibrated_fraction": self.calibrated_fraction}


def predict_latency(records: Mapping[str, RecordTable], hardware, decode_tokens: int,
                    profile=None) -> LatencyPrediction:
    """Time each stage's records on `hardware` (optionally calibrated by `profile`) through
    roofsim.timing, the one latency path; stages the workload lacks (vision of a text model)
    are left out."""
    if decode_tokens < 1:
        raise ValueError(f"decode_tokens must be >= 1, got {decode_tokens}")
    if DECODE not in records:
        raise KeyError(f"stage records need {DECODE!r}; have {sorted(records)}")
    timings = {s: time_stage(s, [(records[s], 1.0)], hardware, profile)
               for s in TTFT_STAGES + TPOT_STAGES if s in records}
    by_objective = {
        "ttft": {b: sum(timings[s].by_bound[b] for s in TTFT_STAGES if s in timings)
                 for b in BOUNDS},
        "tpot": {b: sum(timings[s].by_bound[b] for s in TPOT_STAGES) for b in BOUNDS},
    }
    total = sum(t.kernel_s for t in timings.values())
    calibrated = sum(t.calibrated_s for t in timings.values())
    return LatencyPrediction(hardware=getattr(hardware, "id", str(hardware)),
                             stage_s={s: t.kernel_s for s, t in timings.items()},
                             time_by_bound=by_objective, decode_tokens=int(decode_tokens),
                             calibrated_fraction=calibrated / total if total > 0 else 0.0)
