"""The tiles of cuBLAS's persistent products: roofsim.perfmodel.full_wave_blocks and the choice of
LIBRARY_TILE_MAX_OUTPUTS (issue 11, session 38).

    python benchmarks/full_wave_tiles.py

1. Recorded: the aligned, not skinny bf16 gemm / linear rows of calibration/h200 (perfmodel's
   balanced products) whose main kernel is an nvjet one (calibration/h200/launch-grids/
   h200-products: its name gives the tile, e.g. ..._tst_192x192_64x4_... = 192 columns x 192
   rows). Their tile count beside the rule's, for candidate tile sizes, on the products that
   fill half a grid of the candidate's tiles or more (mean |log(model / recorded)|, the share
   whose whole-chip waves, ceil(tiles / 132), agree), and beside the 128 x 128 tiles of
   perfmodel.library_blocks without the rule. 1b: the same on the products of two kernel test
   sets, calibration/h200/mixed-fresh5 and mixed-fresh, whose kernels were recorded
   (launch-grids/mixed-fresh5-products, gemm-kernels/mixed-fresh) but not read for the choice.
2. calibration/h200/persistent-rounds (68 prefill-sized products timed on the whole H200 and on
   104 / 112 / 120 SMs, not fitted on): MAPE and median error of the H200 profile (fitted as
   benchmarks/bench_transfer.py fits it) with the rule and without it (each fit under its own
   rule).
"""

from __future__ import annotations

import re
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, device_profile, device_spec  # noqa: E402
from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.fit import measurement_table  # noqa: E402
from roofsim.calibration.measurements import read_measurements  # noqa: E402
from roofsim.records import RecordTable  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from summarize_gemm_rounds import main_kernel_rows, main_kernels  # noqa: E402

GRID = 132.0
KERNELS = CAL / "h200" / "launch-grids" / "h200-products" / "kernels.csv.gz"
# recorded grids of kernel test sets' products, none read for the choice: (label, kernels,
# measurements)
CHECKS = (("mixed-fresh5's products (launch-grids, session 12)",
           CAL / "h200" / "launch-grids" / "mixed-fresh5-products" / "kernels.csv.gz",
           CAL / "h200" / "mixed-fresh5" / "measurements.csv"),
          ("mixed-fresh's products (gemm-kernels, session 8)",
           CAL / "h200" / "gemm-kernels" / "mixed-fresh" / "kernels.csv.gz",
           CAL / "h200" / "mixed-fresh" / "measurements.csv"))
ROUNDS = CAL / "h200" / "persistent-rounds"
CANDIDATES = ((128, 192), (128, 256), (192, 192), (256, 192))
TILE = re.compile(r"_tst_(\d+)x(\d+)_")


def nvjet_kernels(kernels: Path = KERNELS) -> dict[str, str]:
    """case id -> the name of its call's main kernel (summarize_gemm_rounds.main_kernels), where
    that is an nvjet one."""
    return {c: name for c, name in main_kernels(kernels).items() if "nvjet" in name}


@dataclass(frozen=True)
class RecordedTiles:
    """The balanced products with a recorded nvjet tile: their records, the tile counts their
    kernels' names give, and the tile shapes (columns x rows)."""

    table: RecordTable
    recorded: np.ndarray
    shapes: np.ndarray


def recorded_tiles(kernels: Path = KERNELS,
                   measurements: Path = CAL / "h200" / "measurements.csv") -> RecordedTiles:
    names = nvjet_kernels(kernels)
    m = read_measurements(measurements)
    m = m.select(np.isin(m["kind"], ["gemm", "linear"]) & (m["dtype"] == "bfloat16"))
    table = measurement_table(m)
    keep = perfmodel.balanced(table) & np.array([bool(TILE.search(names.get(c, "")))
                                                 for c in m["case_id"]], dtype=bool)
    table = table.select(keep)
    cols = np.array([[float(x) for x in TILE.search(names[c]).groups()]
                     for c in m["case_id"][keep]])
    return RecordedTiles(table, kernel_tiles(table, cols), cols)


def kernel_tiles(table, shapes: np.ndarray) -> np.ndarray:
    """Output tiles of each product at its kernel's own tile (`shapes`: columns x rows per
    record, as TILE reads a name): a linear's batch multiplies its rows, a gemm's batch its
    products."""
    c = lambda name: np.maximum(perfmodel._col(table, name, 1.0), 1.0)   # noqa: E731
    linear = table.kind == "linear"
    rows = np.where(linear, c("m") * c("batch"), c("m"))
    per = np.where(linear, 1.0, c("batch"))
    return np.ceil(rows / shapes[:, 1]) * np.ceil(c("n") / shapes[:, 0]) * per


def square_tiles(table, blocks, grid_sms):
    """perfmodel.full_wave_blocks switched off: the 128 x 128 tiles' count it is given."""
    return blocks


def tile_count_error(rec: RecordedTiles, area: float | None,
                     select: float | None = None) -> tuple[int, float, float]:
    """Over the products of at least half a grid of `select`-output tiles (default: `area`, or
    the shipped LIBRARY_TILE_MAX_OUTPUTS): how many, the mean |log(model / recorded tiles)| and
    the share whose whole-chip waves agree, with the rule at LIBRARY_TILE_MAX_OUTPUTS = area
    (None: without the rule, 128 x 128 tiles)."""
    select = select or area or perfmodel.LIBRARY_TILE_MAX_OUTPUTS
    sel = perfmodel.product_outputs(rec.table) >= 0.5 * select * GRID
    if area is None:
        with mock.patch.object(perfmodel, "full_wave_blocks", square_tiles):
            pred = perfmodel.library_blocks(rec.table, GRID)
    else:
        with mock.patch.object(perfmodel, "LIBRARY_TILE_MAX_OUTPUTS", area):
            pred = perfmodel.library_blocks(rec.table, GRID)
    err = np.abs(np.log(pred[sel] / rec.recorded[sel]))
    waves = np.ceil(pred[sel] / GRID) == np.ceil(rec.recorded[sel] / GRID)
    return int(sel.sum()), float(err.mean()), float(waves.mean())


def recorded_part(rec: RecordedTiles, title: str) -> None:
    print(f"{title}: {len(rec.recorded)} balanced bf16 products with a recorded nvjet tile "
          f"({len(set(map(tuple, rec.shapes)))} tile shapes)")
    out = []
    for a, b in CANDIDATES:
        for label, area in ((f"{a} x {b}", float(a * b)), ("128 x 128 (no rule)", None)):
            n, err, waves = tile_count_error(rec, area, select=float(a * b))
            out.append([f"{a} x {b}", label, n, f"{err:.3f}", f"{waves:.2f}"])
    print(format_table(["products of >= half a grid of", "tiles counted with", "n",
                        "mean |log| tiles", "waves agree"], out))


def rounds_part() -> None:
    print("\n2. calibration/h200/persistent-rounds: the H200 profile (bench_transfer's fit)")
    sets = {n: read_measurements(ROUNDS / f"sm{n}" / "measurements.csv") for n in (0, 104, 112, 120)}
    out = []
    for label, ctx in (("128 x 128 tiles",
                        mock.patch.object(perfmodel, "full_wave_blocks", square_tiles)),
                       ("full_wave_blocks", nullcontext())):
        with ctx:
            profile = device_profile("h200")
            row = [label]
            for n, m in sets.items():
                m = m.select(m.stable)
                err = profile.predict_launch_s(measurement_table(m), device_spec("h200", n)) / \
                    m["kernel_s"] - 1.0
                row.append(f"{100 * np.abs(err).mean():.1f} / {100 * np.median(err):+.1f}")
            out.append(row)
    print(format_table(["tiles"] + [f"{n or 'whole'} SMs: MAPE / median %" for n in sets], out))


def recorded_grids(kernels: Path) -> dict[str, float]:
    """case id -> the grid (blocks) of its call's main kernel, where that is an nvjet one whose
    launch CUPTI recorded (launch-grids folders; summarize_gemm_rounds.main_kernel_rows)."""
    return {c: float(r["grid"]) for c, r in main_kernel_rows(kernels).items()
            if "nvjet" in r["name"] and r.get("grid")}


SUBGRID_SETS = (("h200-products (the choice)", KERNELS, CAL / "h200" / "measurements.csv"),
                ("mixed-fresh5's products (read beside it)", CHECKS[0][1], CHECKS[0][2]))
SUBGRID_COUNTS = (40, 64, 96, 120, 128)


def subgrid_agreement(kernels: Path, measurements: Path, caps=(132, 128, 124, 120),
                      full: float | None = None) -> list[tuple[int, int, float, list[float]]]:
    """Per cap: (products, cap, mean |log(blocks / recorded grid)|, the share whose rounds of
    resident blocks, ceil(blocks / N), agree at each of SUBGRID_COUNTS) over the balanced
    products of 0.1 to 1 grid of LIBRARY_TILE_MAX_OUTPUTS tiles with a recorded grid, with
    perfmodel's blocks capped at `cap` (LIBRARY_SUBGRID_SHARE x 132) below `full` of a grid
    (default LIBRARY_SUBGRID_FULL; 1.01: every one of them)."""
    grids = recorded_grids(kernels)
    m = read_measurements(measurements)
    m = m.select(np.isin(m["kind"], ["gemm", "linear"]) & (m["dtype"] == "bfloat16"))
    table = measurement_table(m)
    with mock.patch.object(perfmodel, "LIBRARY_SUBGRID_SHARE", 1.0):
        blocks = perfmodel.library_blocks(table, GRID)
    size = perfmodel.product_outputs(table) / (perfmodel.LIBRARY_TILE_MAX_OUTPUTS * GRID)
    rec = np.array([grids.get(c, np.nan) for c in m["case_id"]])
    sel = perfmodel.balanced(table) & (size > 0.1) & (size <= 1.0) & np.isfinite(rec)
    capped = size[sel] < (full if full is not None else perfmodel.LIBRARY_SUBGRID_FULL)
    out = []
    for cap in caps:
        b, r = np.where(capped, np.minimum(blocks[sel], cap), blocks[sel]), rec[sel]
        out.append((int(sel.sum()), cap, float(np.abs(np.log(b / r)).mean()),
                    [float(np.mean(np.ceil(b / n) == np.ceil(r / n))) for n in SUBGRID_COUNTS]))
    return out


def subgrid_part() -> None:
    print("\n3. balanced products of 0.1-1 grid of LIBRARY_TILE_MAX_OUTPUTS tiles: blocks at "
          "most cap (LIBRARY_SUBGRID_SHARE x 132) against the recorded grid")
    out = [[label, n, cap, full, f"{err:.3f}"] + [f"{a:.2f}" for a in agree]
           for label, kernels, measurements in SUBGRID_SETS
           for full in (1.01, perfmodel.LIBRARY_SUBGRID_FULL)
           for n, cap, err, agree in subgrid_agreement(kernels, measurements, full=full)]
    print(format_table(["products", "n", "cap", "below grids", "mean |log| grid"] +
                       [f"rounds agree, {n} SMs" for n in SUBGRID_COUNTS], out))


def main() -> int:
    recorded_part(recorded_tiles(), "1. h200-products (the H200's fit rows: the choice)")
    for label, kernels, measurements in CHECKS:
        recorded_part(recorded_tiles(kernels, measurements),
                      f"\n1b. {label} (not read for the choice)")
    rounds_part()
    subgrid_part()
    return 0


if __name__ == "__main__":
    sys.exit(main())
