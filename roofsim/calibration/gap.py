"""The CUDA-graph node gap of a device, from benchmarks/measure_graph_gap.py's CSV.

The calibration harness times R launches captured in a CUDA graph between two events, so its
per-launch time is the kernel's duration plus the gap the GPU leaves before the next node
starts. torch.profiler reports the duration alone. measure_graph_gap.py times the same graphs
both ways; the gap is the median of (per-launch time - profiled kernel time) over its cases of
one kernel per launch that run under GAP_KERNEL_MAX_S: on longer kernels the difference of two
separately measured times is run-to-run noise, not the gap (measured on an H200, 2026-12-02:
0.33 us median on 142 short single-kernel cases, quartiles 0.27 .. 0.37 us; launches of two
kernels show twice that, a gap per node).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from ..errors import UserError
from ..io import number_cell, read_csv
from .measurements import COUNT_RANGE, SECONDS_RANGE

GAP_FILE = "gap/graph-gap-sm0.csv"   # inside a calibration folder: the whole device's run
GAP_KERNEL_MAX_S = 20e-6             # cases shorter than this carry the gap above noise
MIN_GAP_CASES = 20
GAP_RANGE_S = (0.0, 5e-6)            # physical range of a graph node gap
GAP_STATUSES = ("ok", "error")       # what measure_graph_gap.py writes per case


def graph_gap_s(path: str | Path) -> float:
    """The median node gap (seconds) of a measure_graph_gap.py CSV; one line on bad data."""
    table = read_csv(path, required=("status", "gap_s", "kernel_s", "kernels_per_launch"),
                     expected="benchmarks/measure_graph_gap.py's CSV")
    gaps = []
    for r in table.rows:
        if r["status"] not in GAP_STATUSES:     # an edited word would drop the row unsaid
            raise UserError(f"{table.where(r, 'status')} = {r['status']!r}: expected one of "
                            f"{', '.join(GAP_STATUSES)}")
        if r["status"] != "ok":
            continue
        gap = number_cell(table, r, "gap_s", -SECONDS_RANGE[1], SECONDS_RANGE[1], "seconds")
        kern = number_cell(table, r, "kernel_s", *SECONDS_RANGE, "seconds per launch")
        per = number_cell(table, r, "kernels_per_launch", 1.0, COUNT_RANGE[1],
                          "kernels per launch (a timed launch runs at least one)")
        if per != int(per):
            raise UserError(f"{table.where(r, 'kernels_per_launch')} = {per:g}: expected a "
                            f"whole number of kernels")
        if per == 1 and kern < GAP_KERNEL_MAX_S:
            gaps.append(gap)
    if len(gaps) < MIN_GAP_CASES:
        raise UserError(f"{table.path}: {len(gaps)} short single-kernel cases, need at least "
                        f"{MIN_GAP_CASES} to measure the graph gap")
    gap = statistics.median(gaps)
    low, high = GAP_RANGE_S
    if not low <= gap <= high:
        raise UserError(f"{table.path}: median graph gap {gap * 1e6:.3f} us is outside "
                        f"{low * 1e6:g} .. {high * 1e6:g} us")
    return gap
