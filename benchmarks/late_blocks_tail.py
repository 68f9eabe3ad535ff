"""The late blocks' tail of cuBLAS's persistent products on fewer SMs than their grid
(roofsim.perfmodel.waves, balanced; issue 11, session 39).

    python benchmarks/late_blocks_tail.py

Reads calibration/h200/persistent-grid (16 bf16 linear shapes timed on the whole H200 and on
64-128 SMs, each with the kernel CUPTI recorded on the whole chip: its grid G and, from the
name, its tile, so its tile count t). Per shape and SM count N it prints the measured time in
tile times (the time on N SMs over the whole chip's, times ceil(t / G), the whole chip's waves)
beside two rules for the waves on N SMs, each taken at the recorded t and G:
- before session 39: min(whole rounds, ceil(t / N) + BALANCED_TAIL_TILES x (rounds - 1)), one
  tail per extra round of resident blocks;
- the late blocks' own (perfmodel.waves): with late = G - N blocks waiting for an SM,
  ceil((t - late) / N) + BALANCED_TAIL_TILES while 0 < late < N, else ceil(t / N), never more
  than whole rounds;
and the mean |log(rule / measured)| of each over the shapes of more than one tile per block.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from full_wave_tiles import TILE  # noqa: E402  (an nvjet name's tile: columns x rows)
from roofsim import perfmodel  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from summarize_persistent_grid import read  # noqa: E402  (the folder's one reader)

GRID_DIR = ROOT / "calibration" / "h200" / "persistent-grid"
COUNTS = (128, 120, 112, 104, 96, 88, 80, 72, 64)


def before(t: float, g: float, n: float) -> float:
    """Session 20's rule: one BALANCED_TAIL_TILES per extra round of resident blocks."""
    rounds = math.ceil(g / n)
    return min(rounds * math.ceil(t / g),
               math.ceil(t / n) + perfmodel.BALANCED_TAIL_TILES * (rounds - 1))


def shipped(t: float, g: float, n: float) -> float:
    """perfmodel.waves for a balanced persistent launch of t tiles on a grid of g."""
    return float(perfmodel.waves(np.array([t]), n, g, True, True)[0])


def table_rows() -> tuple[list[list], dict[str, list[float]]]:
    """The printed rows, and |log(rule / measured)| per rule ('before', 'shipped') over the
    (shape, SM count) pairs of more than one tile per block."""
    _, launch, times = read(GRID_DIR)
    rows, logs = [], {"before": [], "shipped": []}
    for shape, by_count in launch.items():
        kernel, grid = by_count[0][:2]
        cols, tile_rows = (int(x) for x in TILE.search(kernel).groups())
        m, n_out, _ = shape
        tiles = math.ceil(m / tile_rows) * math.ceil(n_out / cols)
        waves0 = math.ceil(tiles / grid)
        row = ["x".join(map(str, shape)), tiles, grid]
        for n in COUNTS:
            measured = times[shape][n] / times[shape][0] * waves0
            b, s = before(tiles, grid, n), shipped(tiles, grid, n)
            row.append(f"{measured:.1f} {b:g} {s:g}")
            if tiles > grid:
                logs["before"].append(abs(math.log(b / measured)))
                logs["shipped"].append(abs(math.log(s / measured)))
        rows.append(row)
    return rows, logs


def main() -> int:
    rows, logs = table_rows()
    print("tile times on N SMs: measured, before session 39, shipped "
          "(calibration/h200/persistent-grid)")
    print(format_table(["shape (m x n x k)", "tiles", "grid"] + [f"N={n}" for n in COUNTS], rows))
    print("\nshapes of more than one tile per block, mean |log(rule / measured)| over "
          f"{len(logs['shipped'])} (shape, N): before {np.mean(logs['before']):.3f}, "
          f"shipped {np.mean(logs['shipped']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
