"""Headroom: the reference implementation's time against the analytic flash-attention ideal on
the same hardware (and calibration), stage by stage, and the kernels that lose the most.

Both sides come from `roofsim.predict.predict` (GPU kernel time, the engine per kernel):
- reference: the kernels captured from the transformers-based reference;
- flash ideal: the analytic model with fused attention (one kernel per op the model needs, no
  layout copies, no unfused masks).
Per stage: both times, their ratio and the difference (the headroom). Per kernel kind: where the
difference sits. Kernels losing the most: reference kernel groups (aten op, kind, module path
with layer numbers folded to `*`) ranked by the time they spend above their own roofline at
the hardware's achievable roofs (`lost`), with the share of the group that is lost; groups of
a kind the flash ideal has no time for (layout copies, for instance) lose all of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from .engine import simulate
from .predict import Prediction, predict, stage_records
from .stages import STAGES
from .records import RecordTable

_NUM = re.compile(r"\.\d+(?=\.|$)")


@dataclass(frozen=True)
class KernelLoss:
    stage: str
    op: str                  # aten op, e.g. aten.clone
    kind: str
    where: str               # module path, layer numbers folded: vision.sam.layers.*.attn
    launches: float          # per request (decode: per step)
    time_s: float            # predicted time of the group
    roofline_s: float        # the same work at the achievable roofs, no launch floor
    in_ideal: bool           # the flash ideal spends time on this kind in this stage

    @property
    def lost_s(self) -> float:
        return self.time_s if not self.in_ideal else max(self.time_s - self.roofline_s, 0.0)


@dataclass(frozen=True)
class StageHeadroom:
    stage: str
    reference_s: float
    ideal_s: float
    reference_launches: float
    ideal_launches: float
    by_kind: Mapping[str, tuple[float, float]]   # kind -> (reference s, ideal s)
    losers: tuple[KernelLoss, ...]

    @property
    def headroom_s(self) -> float:
        return self.reference_s - self.ideal_s

    @property
    def ratio(self) -> float:
        return self.reference_s / self.ideal_s if self.ideal_s > 0 else float("inf")


@dataclass(frozen=True)
class Headroom:
    grid: tuple[int, int] | None
    prompt_tokens: int
    decode_tokens: int
    hardware: str
    calibration: str
    reference: Prediction
    ideal: Prediction
    stages: Mapping[str, StageHeadroom]

    def as_dict(self) -> dict:
        return {"grid": f"{self.grid[0]}x{self.grid[1]}" if self.grid else None,
                "prompt_tokens": self.prompt_tokens, "decode_tokens": self.decode_tokens,
                "hardware": self.hardware, "calibration": self.calibration or None,
                "stages": {s: {"reference_s": h.reference_s, "ideal_s": h.ideal_s,
                               "headroom_s": h.headroom_s, "ratio": h.ratio,
                               "by_kind": {k: {"reference_s": r, "ideal_s": i}
                                           for k, (r, i) in h.by_kind.items()},
                               "losers": [{"op": k.op, "kind": k.kind, "where": k.where,
                                           "launches": k.launches, "time_s": k.time_s,
                                           "lost_s": k.lost_s} for k in h.losers]}
                           for s, h in self.stages.items()}}


def fold_layer(path: str) -> str:
    """vision.sam.layers.11.attn -> vision.sam.layers.*.attn"""
    return _NUM.sub(".*", str(path))


def _roofline_s(table: RecordTable, hardware) -> np.ndarray:
    """Per-record time of the work at the achievable roofs, without the launch floor."""
    no_floor = replace(hardware, launch_overhead_us={"stream": 0.0, "cuda_graph": 0.0})
    return simulate(table, no_floor).time_s


def kernel_losses(stage: str, parts, hardware, profile, ideal_kinds, top: int) -> tuple:
    """Reference kernel groups of one stage ([(table, weight)]), ranked by lost time."""
    groups: dict[tuple, list[float]] = {}
    for table, weight in parts:
        timing = simulate(table, hardware, profile)
        roof = _roofline_s(table, hardware)
        for i in range(len(table)):
            key = (str(table.name[i]), str(table.kind[i]), fold_layer(table.layer[i]))
            g = groups.setdefault(key, [0.0, 0.0, 0.0])
            g[0] += weight * float(table.count[i])
            g[1] += weight * float(timing.time_s[i])
            g[2] += weight * float(roof[i])
    losses = [KernelLoss(stage, op, kind, where, n, t, r, kind in ideal_kinds)
              for (op, kind, where), (n, t, r) in groups.items()]
    # Without a profile the engine's time is the roofline plus the launch floor, so the time
    # above the roofline is launches x floor: ranked by it, the table would rank kernel counts.
    # Uncalibrated, rank by the time the groups take instead.
    losses.sort(key=(lambda k: -k.lost_s) if profile is not None else (lambda k: -k.time_s))
    return tuple(losses[:top])


def headroom(grid, prompt_tokens: int = 16, decode_tokens: int = 100, *, hardware, profile=None,
             top: int = 5, cfg=None, use_cache: bool = True) -> Headroom:
    ref_records = stage_records("reference", grid, prompt_tokens, decode_tokens,
                                use_cache=use_cache)
    ref = predict(grid, prompt_tokens, decode_tokens, hardware=hardware, profile=profile,
                  records=ref_records, implementation="reference")
    ideal = predict(grid, prompt_tokens, decode_tokens, hardware=hardware, profile=profile,
                    implementation="flash", cfg=cfg)
    parts = ref_records.parts
    stages = {}
    for s in STAGES:
        if s not in ref.stages or s not in ideal.stages:
            continue
        r, i = ref.stages[s], ideal.stages[s]
        kinds = list(dict.fromkeys(list(r.by_kind) + list(i.by_kind)))
        by_kind = {k: (r.by_kind.get(k, (0.0, 0.0))[0], i.by_kind.get(k, (0.0, 0.0))[0])
                   for k in kinds}
        by_kind = dict(sorted(by_kind.items(), key=lambda kv: -(kv[1][0] - kv[1][1])))
        ideal_kinds = {k for k, (_, t) in by_kind.items() if t > 0}
        stages[s] = StageHeadroom(
            stage=s, reference_s=r.kernel_s, ideal_s=i.kernel_s, reference_launches=r.launches,
            ideal_launches=i.launches, by_kind=by_kind,
            losers=kernel_losses(s, parts[s], hardware, profile, ideal_kinds, top))
    return Headroom(grid=ref.grid, prompt_tokens=int(prompt_tokens),
                    decode_tokens=int(decode_tokens), hardware=hardware.id,
                    calibration=ref.calibration, reference=ref, ideal=ideal, stages=stages)
