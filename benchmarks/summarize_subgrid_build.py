"""What calibration/h100-sxm*/subgrid-build shows (issue 11: cuBLAS's persistent products on
64-128 of the H100's 132 SMs), from its committed files; a build set, not a test set.

    python benchmarks/summarize_subgrid_build.py [SET]      (default subgrid-build)

1. Per SM count and product size (outputs over a grid of 132 tiles of 192 x 192,
   perfmodel.LIBRARY_TILE_MAX_OUTPUTS): the median, quartiles of the measured stretch (time on N
   SMs over the whole chip's) of the balanced products (perfmodel.balanced), and the share whose
   recorded grid (launch-grids/<SET>-sm0: the call's main kernel) exceeds N.
2. On 128 and 120 SMs, the products of 1-3.5 grids launched on 132 blocks, by their recorded tile
   count T (the kernel's own tile, full_wave_tiles.TILE): whether T fits two or three rounds of N
   SMs plus the late blocks.
3. The stretch the recorded grid gives (roofsim.perfmodel.waves at the recorded T and grid, over
   the whole chip's) against the one the model's tile count gives, as mean |log(rule /
   measured)|: how much of the miss near the SM count is the grid the model cannot see.
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import CAL, stable  # noqa: E402
from full_wave_tiles import TILE, kernel_tiles  # noqa: E402  (nvjet tiles: columns x rows)
from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.fit import measurement_table  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from summarize_gemm_rounds import main_kernel_rows  # noqa: E402

DEVICE = "h100-sxm"
GRID = 132.0
COUNTS = (128, 120, 112, 104, 96, 64)
SIZES = ((0, 0.5), (0.5, 0.75), (0.75, 1), (1, 1.5), (1.5, 2), (2, 3), (3, 6))


def read_set(name: str = "subgrid-build"):
    """The set's balanced products with a recorded nvjet tile: case id -> (whole-chip seconds,
    size in grids, (recorded tiles, recorded grid), the model's tiles), and per SM count of
    COUNTS, case id -> measured stretch (time on N SMs over the whole chip's)."""
    rows = main_kernel_rows(CAL / DEVICE / "launch-grids" / f"{name}-sm0" / "kernels.csv.gz")
    whole = stable(CAL / DEVICE / name / "measurements.csv")
    table = measurement_table(whole)
    size = perfmodel.product_outputs(table) / (perfmodel.LIBRARY_TILE_MAX_OUTPUTS * GRID)
    model_tiles = perfmodel.library_blocks(table, GRID)
    tile = [TILE.search(rows[c]["name"]) if c in rows else None for c in whole["case_id"]]
    keep = np.flatnonzero(perfmodel.balanced(table) & np.array([t is not None for t in tile]))
    shapes = np.array([[float(x) for x in tile[i].groups()] for i in keep]).reshape(-1, 2)
    recorded = kernel_tiles(table.select(keep), shapes)
    base = {}
    for i, tiles in zip(keep, recorded):
        c = whole["case_id"][i]
        base[c] = (float(whole["kernel_s"][i]), float(size[i]),
                   (int(tiles), float(rows[c]["grid"])), float(model_tiles[i]))
    restricted = {}
    for n in COUNTS:
        m = stable(CAL / f"{DEVICE}-sm{n}" / name / "measurements.csv")
        restricted[n] = {c: t / base[c][0] for c, t in zip(m["case_id"], m["kernel_s"])
                         if c in base}
    return base, restricted


def wave_errors(base, restricted) -> dict[int, tuple[int, float, float]]:
    """Per SM count: products, and the mean |log(waves ratio / measured stretch)| with the
    recorded tiles and grid and with the model's tile count (perfmodel.waves on N SMs over the
    whole chip's)."""
    def ratio(t: float, g: float, n: int) -> float:
        return float(perfmodel.waves(np.array([t]), n, g, True, True)[0] /
                     perfmodel.waves(np.array([t]), g, g, True, True)[0])
    out = {}
    for n in COUNTS:
        rec, mod = [], []
        for c, r in restricted[n].items():
            (tiles, grid), model_tiles = base[c][2], base[c][3]
            rec.append(abs(math.log(ratio(float(tiles), grid, n) / r)))
            mod.append(abs(math.log(ratio(model_tiles, GRID, n) / r)))
        out[n] = (len(rec), float(np.mean(rec)), float(np.mean(mod)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set", nargs="?", default="subgrid-build")
    args = ap.parse_args(argv)
    base, restricted = read_set(args.set)
    print(f"1. {args.set}: measured stretch t_N / t_whole of {len(base)} balanced products "
          "(median [q25, q75]) and the share of recorded grids above N, by size in grids of "
          "192 x 192 tiles")
    out = []
    for n in COUNTS:
        line = [n]
        for lo, hi in SIZES:
            cs = [c for c in restricted[n] if lo <= base[c][1] < hi]
            r = np.array([restricted[n][c] for c in cs])
            over = np.mean([base[c][2][1] > n for c in cs]) if cs else float("nan")
            line.append(f"{np.median(r):.2f} [{np.percentile(r, 25):.2f}, "
                        f"{np.percentile(r, 75):.2f}] {over:.2f}" if cs else "-")
        out.append(line)
    print(format_table(["SMs"] + [f"{lo}-{hi} grids" for lo, hi in SIZES], out))

    print("\n2. products of 1-3.5 grids launched on 132 blocks, by their recorded tiles T")
    out = []
    for n in (128, 120):
        late = GRID - n
        by = collections.defaultdict(list)
        for c, r in restricted[n].items():
            tiles, grid = base[c][2]
            if grid != GRID or not 1 <= base[c][1] < 3.5:
                continue
            key = next((f"T <= {int(k * n + late)}" for k in (2, 3) if tiles <= k * n + late),
                       f"T > {int(3 * n + late)}")
            by[key].append((tiles, r))
        for key, v in sorted(by.items()):
            v = np.array(v)
            out.append([n, key, len(v), f"{v[:, 0].min():.0f}-{v[:, 0].max():.0f}",
                        f"{np.median(v[:, 1]):.2f}", f"{np.percentile(v[:, 1], 10):.2f}",
                        f"{np.percentile(v[:, 1], 90):.2f}"])
    print(format_table(["SMs", "tiles", "n", "T", "median stretch", "q10", "q90"], out))

    print("\n3. mean |log(waves ratio / measured stretch)|: the recorded tiles and grid against "
          "the model's tile count (perfmodel.library_blocks), waves by perfmodel.waves")
    out = [[n, k, f"{rec:.3f}", f"{mod:.3f}"]
           for n, (k, rec, mod) in wave_errors(base, restricted).items()]
    print(format_table(["SMs", "n", "recorded grid", "model's tiles"], out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
