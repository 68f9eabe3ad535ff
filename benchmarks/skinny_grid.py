"""The grid of cuBLAS's skinny products and what it does on fewer SMs (issue 11, session 28:
roofsim.perfmodel.skinny_blocks, block_rounds). Reads committed files alone:

    python benchmarks/skinny_grid.py [--companions]

1. The grid rule against the grids CUPTI recorded (calibration/h200/launch-grids): for every
   skinny gemm / linear call (perfmodel.skinny_products, aligned) that runs one nvjet kernel,
   mean and median |log(model / recorded)|, on the H200's fit rows (h200-products: the rows the
   constants were chosen on), on kernels/narrow.yaml's products (narrow-sm0: a check), on
   mixed-fresh5's products (a check) and on the H100 SXM's grids of benchmarks/suites/
   skinny_grids.yaml (556 shapes never timed: what session 34's cluster rounding and narrow-tile
   bounds were read off), for
   the rule before session 28 (LIBRARY_TILE_OUTPUTS' outputs per block) and for the skinny
   rule at other split lengths and grid caps (the committed pair is marked; each row keeps
   session 30's narrow column tiles and 32-row tiles: perfmodel.SKINNY_NARROW_ROWS ...), every
   width of SKINNY_NARROW_GRID taken; last, the committed rule with each device's own widest
   narrow tile (its spec's library_narrow_tile_cols: perfmodel.narrow_tile_cols, session 44).
2. With --companions, the H200's profile (fitted as its profile.json records) on the rows of
   its 8- and 16-SM companions whose shapes the whole chip's fit left out (so no SM share of
   theirs was measured): MAPE % of the skinny products and of the other products, with the
   whole chip's held-out rows beside them.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.suites import Case  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.records import RecordTable  # noqa: E402

TRACES = ROOT / "calibration"
SETS = (("h200/launch-grids/h200-products", "fit rows (chosen on)"),
        ("h200/launch-grids/narrow-sm0", "narrow.yaml (check)"),
        ("h200/launch-grids/mixed-fresh5-products", "mixed-fresh5 (check)"),
        ("h100-sxm/launch-grids/skinny-grids-sm0", "H100 skinny_grids.yaml (session 34)"),
        ("h100-sxm/launch-grids/narrow-fresh15-sm0", "H100 narrow_fresh15.yaml (check)"),
        ("h100-sxm/launch-grids/narrow-tile-map-sm0", "H100 narrow_tile_map.yaml (session 46)"),
        ("h100-sxm/launch-grids/narrow-fresh20-sm0", "H100 narrow_fresh20.yaml (session 49)"))
GRID = 132.0
SPLITS = (256.0, 768.0, 1536.0, 4096.0, np.inf)
CAPS = (100.0, 120.0, 132.0)
COMPANIONS = ("h200-sm8/narrow", "h200-sm16/narrow", "h200-sm8/gemm", "h200-sm16/gemm")


def skinny_calls(name: str) -> tuple[RecordTable, np.ndarray]:
    """The skinny aligned products of a trace that run one nvjet kernel, and its grid."""
    calls = defaultdict(list)
    with gzip.open(TRACES / name / "kernels.csv.gz", "rt") as f:
        for row in csv.DictReader(f):
            calls[row["case_id"]].append(row)
    ids, grids = [], []
    for case_id, rows in calls.items():
        nv = [r for r in rows if r["name"].startswith("nvjet")]
        if len(nv) == 1:
            ids.append(case_id)
            grids.append(float(nv[0]["grid"]))
    table = RecordTable.concat([Case.from_id(c).records() for c in ids])
    keep = perfmodel.one_block_per_sm(table) & perfmodel.skinny_products(table)
    return table.select(keep), np.asarray(grids)[keep]


def device_narrow_cols(name: str) -> float:
    """The widest narrow column tile the library of the device a grid set was recorded on takes
    (its spec's library_narrow_tile_cols; the set's folder names the device)."""
    return perfmodel.narrow_tile_cols(load_hardware(name.split("/", 1)[0]))


def before_rule(table: RecordTable) -> np.ndarray:
    """library_blocks before session 28: at least LIBRARY_TILE_OUTPUTS outputs per block."""
    cap = perfmodel.library_grid_cap(GRID)
    return np.maximum(perfmodel.matrix_ctas(table, GRID),
                      np.minimum(cap, np.ceil(perfmodel.product_outputs(table) /
                                              perfmodel.LIBRARY_TILE_OUTPUTS)))


def without(table: RecordTable, what: str, narrow_cols: float | None = None) -> np.ndarray:
    """skinny_blocks with one of session 34's three rules (or all) switched off (`narrow_cols`:
    the widest narrow tile taken, perfmodel.narrow_tile_cols; None: every width)."""
    saved = (perfmodel.SKINNY_CLUSTER_MIN_TILES, perfmodel.SKINNY_WIDE_COL_MIN_GRID,
             perfmodel.SKINNY_FEW_COL_K_PER_N)
    try:
        if what in ("clusters", "all three"):
            perfmodel.SKINNY_CLUSTER_MIN_TILES = np.inf
        if what in ("16-col floor", "all three"):
            perfmodel.SKINNY_WIDE_COL_MIN_GRID = 0.0
        if what in ("few-col k bound", "all three"):
            perfmodel.SKINNY_FEW_COL_K_PER_N = np.inf
        out = perfmodel.skinny_blocks(table, perfmodel.library_grid_cap(GRID), narrow_cols)
    finally:
        (perfmodel.SKINNY_CLUSTER_MIN_TILES, perfmodel.SKINNY_WIDE_COL_MIN_GRID,
         perfmodel.SKINNY_FEW_COL_K_PER_N) = saved
    return out


def errors(model: np.ndarray, grid: np.ndarray) -> list[float]:
    e = np.abs(np.log(model / grid))
    return [round(float(e.mean()), 3), int((e > np.log(2.0)).sum())]


def grid_table() -> str:
    calls = [skinny_calls(name) for name, _ in SETS]
    rows = [["before (LIBRARY_TILE_OUTPUTS)", "-", "-"] +
            sum((errors(before_rule(t), g) for t, g in calls), [])]
    rows += [[f"session 34's {what} alone off", "-", "-"] +
             sum((errors(without(t, what), g) for t, g in calls), [])
             for what in ("clusters", "16-col floor", "few-col k bound", "all three")]
    committed = (perfmodel.SKINNY_SPLIT_K, perfmodel.library_grid_cap(GRID))
    saved = perfmodel.SKINNY_SPLIT_K
    try:
        for split in SPLITS:
            perfmodel.SKINNY_SPLIT_K = split
            for cap in CAPS:
                mark = " *" if (split, cap) == committed else ""
                rows.append([f"skinny rule{mark}", str(split), str(cap)] +
                            sum((errors(perfmodel.skinny_blocks(t, cap), g) for t, g in calls),
                                []))
    finally:
        perfmodel.SKINNY_SPLIT_K = saved
    cap = perfmodel.library_grid_cap(GRID)
    rows.append(["the device's narrow tiles", str(perfmodel.SKINNY_SPLIT_K), str(cap)] +
                sum((errors(perfmodel.skinny_blocks(t, cap, device_narrow_cols(name)), g)
                     for (name, _), (t, g) in zip(SETS, calls)), []))
    head = ["rule", "split k", "cap"]
    for (name, what), (t, _) in zip(SETS, calls):
        head += [f"{name.rsplit('/', 1)[-1]} mean ({len(t)})", "> 2x"]
    return format_table(head, rows)


def companion_table() -> str:
    from bench_transfer import CAL, device_profile, fit_inputs, stable
    from roofsim.calibration.fit import measurement_table, sm_restriction_of
    from roofsim.calibration.measurements import FIT
    from roofsim.hardware import derive_sm_restricted, load_hardware
    h200 = load_hardware("h200")
    profile = device_profile("h200")
    whole = fit_inputs("h200").measurements
    fitted = set(whole["case_id"][whole["split"] == FIT])
    rows = []
    for folder in COMPANIONS:
        m = stable(CAL / folder / "measurements.csv")
        t = measurement_table(m)
        spec = derive_sm_restricted(h200, sm_restriction_of(CAL / folder))
        err = np.abs(profile.predict_launch_s(t, spec) / m["kernel_s"] - 1.0)
        unpaired = ~np.isin(m["case_id"], sorted(fitted)) & np.isfinite(err)
        thin = perfmodel.one_block_per_sm(t) & perfmodel.skinny_products(t)
        other = np.isin(t.kind, ("gemm", "linear")) & ~thin
        rows.append([folder] + [f"{100 * err[s].mean():.2f} ({s.sum()})" if s.any() else "-"
                                for s in (unpaired & thin, unpaired & other)])
    whole = whole.select(whole.stable)
    wt = measurement_table(whole)
    err = np.abs(profile.predict_launch_s(wt, h200) / whole["kernel_s"] - 1.0)
    held = (whole["split"] != FIT) & np.isfinite(err)
    thin = perfmodel.one_block_per_sm(wt) & perfmodel.skinny_products(wt)
    other = np.isin(wt.kind, ("gemm", "linear")) & ~thin
    rows.append(["whole chip, held-out rows"] + [f"{100 * err[s].mean():.2f} ({s.sum()})"
                                                 for s in (held & thin, held & other)])
    return format_table(["rows", "skinny products", "other products"], rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--companions", action="store_true",
                    help="also score the profile on the companions' unpaired shapes")
    args = ap.parse_args(argv)
    print("1. skinny products' grid against the recorded one: |log(model / recorded)|")
    print(grid_table())
    if args.companions:
        print("\n2. H200 profile on the 8- / 16-SM companions' shapes the fit left out, MAPE %")
        print(companion_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
