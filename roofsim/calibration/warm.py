"""Round trips to memory that an L2-resident input saves, per kernel group, from
benchmarks/measure_warm_l2.py's CSV.

The calibration harness times every launch on inputs that are not in L2 (flushed, rotating
sets): each dependent round trip of the kernel (roofsim.perfmodel's phi L) goes to DRAM. In a
model, a small kernel reads what the kernels before it just wrote, from L2. measure_warm_l2.py
times short shapes both ways; per (kind, layout) the median difference over its cases under
WARM_KERNEL_MAX_S, less what the profile's own physics takes off an L2-resident input (the L2's
bandwidth, the loaded L2 latency of a norm's row blocks and a warp softmax's chain:
calibration.fit.physics_kept), divided by (DRAM latency - L2 latency) of the measuring device, is
the group's `warm_trips`: round trips that go to L2 instead of DRAM, per dependent step of the kernel
(roofsim.perfmodel.warm_steps: a reduction's loop iterations, 1 for other kinds). The engine
takes warm_trips x steps x (the target's DRAM - L2 latency) off L2-resident records
(roofsim.perfmodel.l2_resident). Measured on an H200 (2026-12-02): 0.3-0.6 us for vectorized
kernels (1.3-2.7 trips), 1.2-1.4 us for strided and transposed ones (5-6 trips), 2.3 us for
index gathers (10 trips).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..io import number_cell, read_csv
from .measurements import SECONDS_RANGE

WARM_FILE = "warm/warm-l2.csv"      # inside a calibration folder
WARM_KERNEL_MAX_S = 20e-6           # shapes where the latency chain is a visible share
MIN_WARM_CASES = 2                  # per group
TRIPS_RANGE = (0.0, 40.0)           # as perfmodel's phi


@dataclass(frozen=True)
class WarmCase:
    """One short case of a measure_warm_l2.py CSV: its id ('' where the CSV has none), group
    and seconds per launch cold and warm."""
    case_id: str
    kind: str
    layout: str
    cold_s: float
    warm_s: float


def short_cases(path: str | Path) -> list[WarmCase]:
    """The cases of a measure_warm_l2.py CSV that the warm saving reads: status ok, cold under
    WARM_KERNEL_MAX_S, in file order; one line on bad data."""
    table = read_csv(path, required=("kind", "layout", "status", "cold_s", "warm_s"),
                     expected="benchmarks/measure_warm_l2.py's CSV")
    out = []
    for r in table.rows:
        if r["status"] != "ok":
            continue
        cold, warm = (number_cell(table, r, c, *SECONDS_RANGE, "seconds per launch")
                      for c in ("cold_s", "warm_s"))
        if cold < WARM_KERNEL_MAX_S:
            out.append(WarmCase(r.get("case_id", ""), r["kind"], r["layout"], cold, warm))
    return out


def warm_savings_s(path: str | Path, hardware=None,
                   kept: dict[str, float] | None = None) -> dict[tuple[str, str], float]:
    """case_savings_s of a measure_warm_l2.py CSV's short_cases; one line on bad data."""
    return case_savings_s(short_cases(path), hardware, kept)


def case_savings_s(cases: list[WarmCase], hardware=None,
                   kept: dict[str, float] | None = None) -> dict[tuple[str, str], float]:
    """{(kind, layout): median seconds an L2-resident input saves per dependent step} over the
    groups with at least MIN_WARM_CASES of `cases`. With `hardware` (the measuring device's
    spec) each case's saving is divided by its steps (roofsim.perfmodel.warm_steps: a
    reduction's loop iterations), read from its case_id; without it, or without a case_id,
    every case is one step. `kept`: {case_id: the share of its cold time the profile's physics
    keeps when its input sits in L2} (the L2's bandwidth and latency in roofsim.perfmodel's
    terms); a case's saving is then what that physics leaves to the round trips,
    cold x kept - warm (kept 1 for a case it does not name)."""
    diffs: dict[tuple[str, str], list[float]] = {}
    for c in cases:
        steps = _steps(c.case_id, hardware) if hardware is not None else 1.0
        share = (kept or {}).get(c.case_id, 1.0)
        diffs.setdefault((c.kind, c.layout), []).append((c.cold_s * share - c.warm_s) / steps)
    return {k: max(statistics.median(v), 0.0) for k, v in diffs.items()
            if len(v) >= MIN_WARM_CASES}


def _steps(case_id: str, hardware) -> float:
    """warm_steps of the kernel a calibration case id names ('kind|dtype|name=value,...'); 1
    where the id does not parse as one."""
    from ..perfmodel import warm_steps
    from .suites import Case
    try:
        table = Case.from_id(case_id).records()
    except (ValueError, UserError):
        return 1.0
    return float(warm_steps(table, hardware)[0])


def warm_trips(savings_s: float, dram_latency_s: float, l2_latency_s: float) -> float:
    """Round trips of `savings_s` at the measuring device's (DRAM - L2) latency, in range."""
    step = dram_latency_s - l2_latency_s
    if step <= 0:
        return 0.0
    low, high = TRIPS_RANGE
    return min(max(savings_s / step, low), high)
