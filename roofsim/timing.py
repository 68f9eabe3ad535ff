"""Stage time from records: the one latency path (records -> engine -> seconds per stage).

`time_stage` simulates each table of a stage (roofsim.engine.simulate, with the calibration
profile where given) and sums them with their weights: the stage's kernel time, launches, time
per bound and per kind, the calibrated share and, with `host_overhead_s`, an eager wall-time
estimate (launch i is issued by the host at i x host_overhead_s and starts once both it is
issued and the previous kernel is done, one stream). roofsim.predict (a request's TTFT / TPOT)
and roofsim.objectives (latency against budgets, sweeps) both time stages through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .engine import BOUNDS, simulate
from .hardware import HardwareSpec
from .records import COMM_KINDS


@dataclass(frozen=True)
class StageTiming:
    """One stage on one hardware spec. For decode: one step (the mean over the K steps)."""

    stage: str
    kernel_s: float                           # sum of per-kernel times
    launches: float                           # kernel launches
    by_bound: Mapping[str, float]             # seconds per bound (roofsim.engine.BOUNDS)
    by_kind: Mapping[str, tuple[float, float]]   # kind -> (seconds, launches)
    calibrated_fraction: float                # share of kernel_s from the calibration profile
    eager_s: float | None = None              # eager wall estimate (host_overhead_s given)

    @property
    def bound(self) -> str:
        """The bound that accounts for most of the stage's time."""
        return max(self.by_bound, key=self.by_bound.get)

    @property
    def comm_s(self) -> float:
        """Seconds of communication kernels (roofsim.records.COMM_KINDS) in kernel_s."""
        return float(sum(self.by_kind[k][0] for k in COMM_KINDS if k in self.by_kind))

    @property
    def calibrated_s(self) -> float:
        return self.calibrated_fraction * self.kernel_s

    def as_dict(self) -> dict:
        return {"stage": self.stage, "kernel_s": self.kernel_s, "launches": self.launches,
                "bound": self.bound, "by_bound_s": dict(self.by_bound), "comm_s": self.comm_s,
                "by_kind": {k: {"seconds": s, "launches": n} for k, (s, n) in self.by_kind.items()},
                "calibrated_fraction": self.calibrated_fraction, "eager_s": self.eager_s}


def eager_wall_s(launch_s: np.ndarray, count: np.ndarray, host_overhead_s: float) -> float:
    """Wall time of launches on one stream fed by a host that issues one every host_overhead_s.

    Records in launch order; record i is `count_i` identical launches of `launch_s_i` each.
    Launch j is issued at j x h and starts at max(issue, end of the previous launch). For a
    block of c identical launches first issued at a: end = max(previous end + c t, a + c t,
    a + (c - 1) h + t) (the extremes of a linear max over the block). Unrolled, the stage's end
    is max over blocks of (that block's own end bound + the work of all later blocks)."""
    t = np.asarray(launch_s, dtype=np.float64)
    c = np.asarray(count, dtype=np.float64)
    if len(t) == 0:
        return 0.0
    h = float(host_overhead_s)
    work = c * t
    issued_before = np.concatenate([[0.0], np.cumsum(c)[:-1]]) * h
    first_issue = issued_before + h * np.minimum(c, 1.0)
    own = np.maximum(first_issue + work, first_issue + np.maximum(c - 1.0, 0.0) * h + t)
    later = work.sum() - np.cumsum(work)
    return float(max(np.max(own + later), work.sum()))


def time_stage(stage: str, parts, hardware: HardwareSpec, profile=None,
               host_overhead_s: float | None = None) -> StageTiming:
    """Engine time of a stage given as [(table, weight), ...] (the weighted sum of tables)."""
    total = launches = calibrated = 0.0
    by_bound = dict.fromkeys(BOUNDS, 0.0)
    by_kind: dict[str, list[float]] = {}
    eager = 0.0
    for table, weight in parts:
        timing = simulate(table, hardware, profile, launch_mode="cuda_graph")
        total += weight * timing.total_s
        launches += weight * table.launches
        calibrated += weight * float(timing.time_s[timing.calibrated].sum())
        for b, s in timing.time_by_bound().items():
            by_bound[b] += weight * s
        kinds = table.kind.astype(str)
        for k in dict.fromkeys(kinds):
            m = kinds == k
            acc = by_kind.setdefault(k, [0.0, 0.0])
            acc[0] += weight * float(timing.time_s[m].sum())
            acc[1] += weight * float(table.count[m].sum())
        if host_overhead_s is not None:
            eager += weight * eager_wall_s(timing.launch_time_s, table.count, host_overhead_s)
    order = sorted(by_kind, key=lambda k: -by_kind[k][0])
    return StageTiming(stage=stage, kernel_s=total, launches=launches, by_bound=by_bound,
                       by_kind={k: (by_kind[k][0], by_kind[k][1]) for k in order},
                       calibrated_fraction=calibrated / total if total > 0 else 0.0,
                       eager_s=eager if host_overhead_s is not None else None)


def time_stages(parts: Mapping[str, object], hardware: HardwareSpec, profile=None,
                host_overhead_s: float | None = None) -> dict[str, StageTiming]:
    """time_stage for every stage of {stage: [(table, weight), ...]}, in the given order."""
    return {s: time_stage(s, p, hardware, profile, host_overhead_s) for s, p in parts.items()}
