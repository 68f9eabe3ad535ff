"""What cuBLAS runs for the decode regime's products inside a green context, and how their time
follows the rounds of its blocks (issue 11: the 8- and 16-SM miss; calibration/README.md,
session 27). Reads the committed traces alone:

    python benchmarks/narrow_grid_rounds.py

calibration/h200/launch-grids/narrow-sm{0,8,16}/kernels.csv.gz hold, per product of
kernels/narrow.yaml, the kernels one call runs on the whole H200 and in green contexts of 8 and
16 SMs, with their grids (benchmarks/profile_gemm_kernels.py). For the calls that run one nvjet
kernel on both, it prints:
1. how often the library keeps the kernel's tile (name without its cluster shape), its cluster
   shape and its grid on fewer SMs (it sizes the grid for the 132 SMs the device reports);
2. the measured time on n SMs over the rounds model: t_n / (ceil(grid_n / n) x t_132 /
   ceil(grid_132 / 132)), by the whole chip's kernel time: near 1 where a block's time is a fixed
   chain of dependent loads, below where the whole chip's blocks share HBM and fewer SMs give each
   block more of it;
3. the bytes a block streams per microsecond on n SMs (the call's bytes / t_n / min(grid_n, n)),
   against the spec's per-SM roof (sm_mem_bandwidth_gbps).
"""

from __future__ import annotations

import csv
import gzip
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim.calibration.suites import Case  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402

TRACES = ROOT / "calibration" / "h200" / "launch-grids"
DEVICE_SMS = 132
COUNTS = (8, 16)
TIME_BINS_US = ((0, 5), (5, 10), (10, 30), (30, math.inf))
CLUSTER = re.compile(r"_(\d+)x(\d+)_([vh])_")


def load(sms: int) -> dict[str, list[dict]]:
    out = defaultdict(list)
    with gzip.open(TRACES / f"narrow-sm{sms}" / "kernels.csv.gz", "rt") as f:
        for row in csv.DictReader(f):
            out[row["case_id"]].append(row)
    return out


def one_nvjet(rows: list[dict]) -> dict | None:
    nv = [r for r in rows if r["name"].startswith("nvjet")]
    return nv[0] if len(nv) == 1 else None


def tile_of(name: str) -> str:
    return CLUSTER.sub("_", name)


def call_bytes(case_id: str) -> float:
    t = Case.from_id(case_id).records()
    return float(np.sum(t.bytes_read + t.bytes_written))


def main() -> int:
    whole = load(0)
    sm_bw = load_hardware("h200").sm_mem_bandwidth_gbps * 1e9
    for n in COUNTS:
        part = load(n)
        pairs = [(cid, one_nvjet(whole[cid]), one_nvjet(part[cid])) for cid in whole if cid in part]
        pairs = [(c, a, b) for c, a, b in pairs if a is not None and b is not None]
        same_tile = sum(tile_of(a["name"]) == tile_of(b["name"]) for _, a, b in pairs)
        same_cluster = sum(CLUSTER.search(a["name"]).groups() == CLUSTER.search(b["name"]).groups()
                           for _, a, b in pairs if CLUSTER.search(a["name"]))
        same_grid = sum(a["grid"] == b["grid"] for _, a, b in pairs)
        print(f"{n} SMs: {len(pairs)} calls with one nvjet kernel on both; same tile {same_tile}, "
              f"same cluster shape {same_cluster}, same grid {same_grid}")
        rows = []
        t0 = np.array([float(a["duration_s"]) for _, a, _ in pairs])
        tn = np.array([float(b["duration_s"]) for _, _, b in pairs])
        g0 = np.array([int(a["grid"]) for _, a, _ in pairs])
        gn = np.array([int(b["grid"]) for _, _, b in pairs])
        ratio = tn / (np.ceil(gn / n) * t0 / np.ceil(g0 / DEVICE_SMS))
        per_block = np.array([call_bytes(c) for c, _, _ in pairs]) / tn / np.minimum(gn, n)
        for lo, hi in TIME_BINS_US:
            s = (t0 * 1e6 >= lo) & (t0 * 1e6 < hi)
            if not s.any():
                continue
            q = np.percentile(ratio[s], [25, 50, 75])
            rows.append([f"{lo}-{hi} us", int(s.sum()), round(q[0], 2), round(q[1], 2),
                         round(q[2], 2), round(float(np.median(per_block[s])) / 1e9, 1)])
        print(format_table(["whole-chip kernel", "calls", "ratio q25", "median", "q75",
                            "GB/s per busy SM"], rows))
        print(f"(the spec's per-SM roof: {sm_bw / 1e9:.0f} GB/s)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
