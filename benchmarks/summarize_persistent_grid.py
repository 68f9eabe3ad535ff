"""The table of calibration/h200/persistent-grid/README.md, from its files (issue 11).

    python benchmarks/summarize_persistent_grid.py [calibration/h200/persistent-grid]

Per product shape (benchmarks/probe_persistent_grid.py): the kernel cuBLAS ran on the whole
H200, its grid (thread blocks launched) and shared memory per block, whether the kernel or the
grid changed at any SM count, tiles per block (the kernel's own tile, from its name), and the
time on n SMs over the whole chip's at each SM count probed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from full_wave_tiles import TILE  # noqa: E402  (an nvjet name's tile: columns x rows)


def read(folder: Path):
    sms = sorted((int(p.name[2:]) for p in folder.glob("sm*") if (p / "times.csv").is_file()),
                 key=lambda n: (n != 0, -n))
    launch, times = {}, {}
    for n in sms:
        with open(folder / f"sm{n}" / "launches.csv", newline="") as f:
            for r in csv.DictReader(f):
                key = (int(r["m"]), int(r["n"]), int(r["k"]))
                grid = math.prod(json.loads(r["grid"])) if r["grid"] else 0
                # the call's main kernel: its longest
                old = launch.setdefault(key, {}).get(n)
                if old is None or float(r["duration_s"]) > old[3]:
                    launch[key][n] = (r["kernel"], grid, r["shared memory"], float(r["duration_s"]))
        with open(folder / f"sm{n}" / "times.csv", newline="") as f:
            for r in csv.DictReader(f):
                times.setdefault((int(r["m"]), int(r["n"]), int(r["k"])), {})[n] = \
                    float(r["kernel_s"])
    return sms, launch, times


def tiles_per_block(shape, name: str, grid: int) -> float:
    """The output tiles of the kernel's own size per launched block. An nvjet name gives its
    tile as columns x rows (full_wave_tiles.TILE: 2,913 x 1,280 on 128x232 tiles is 13 x 10 =
    130 tiles, its grid of 130)."""
    m = TILE.search(name)
    if not m or not grid:
        return float("nan")
    cols, rows = int(m.group(1)), int(m.group(2))
    return math.ceil(shape[0] / rows) * math.ceil(shape[1] / cols) / grid


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", default=str(ROOT / "calibration/h200/persistent-grid"))
    args = ap.parse_args(argv)
    sms, launch, times = read(Path(args.folder))
    restricted = [n for n in sms if n]
    print("shape (m x n x k)        kernel on 132 SMs                      grid  smem KB  "
          "tiles/block  changes at   " + " ".join(f"x{n:<4d}" for n in restricted))
    for key, by_n in launch.items():
        name, grid, smem, _ = by_n[0]
        changed = [n for n in restricted if n in by_n and by_n[n][:2] != (name, grid)]
        short = name.replace("nvjet_sm90_tst_", "")[:38]
        t = times[key]
        print(f"{key[0]:6d} x {key[1]:5d} x {key[2]:5d}  {short:38s} {grid:5d} "
              f"{int(smem or 0) / 1024:8.0f}  {tiles_per_block(key, name, grid):11.2f}  "
              f"{('<=' + str(max(changed))) if changed else '-':11s}  "
              + " ".join(f"{t[n] / t[0]:5.2f}" for n in restricted if n in t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
