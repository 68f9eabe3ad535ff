"""The figures behind roofsim.perfmodel's library grid (LIBRARY_TILE_OUTPUTS, LIBRARY_GRID_SHARE,
block_rounds), from calibration/h200/launch-grids (issue 11).

    python benchmarks/summarize_launch_grids.py

Reads the kernels benchmarks/profile_gemm_kernels.py recorded per product row (the grid, threads
and shared memory CUPTI gave each launch) and prints, per kernel family of the rows' main kernel
(the longest): rows, median grid, median shared memory per block; the grid roofsim gives (128 x
128 tiles with split-K: matrix_ctas; and library_blocks) beside the measured one; for the rows
whose 64 x 8 tiles would fill the SMs, the measured grid's quantiles (fit and held-out split);
and how often the grid inside a green context of 40 SMs equals the whole chip's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from roofsim.calibration.fit import measurement_table  # noqa: E402
from roofsim.calibration.measurements import read_measurements  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.perfmodel import (LIBRARY_TILE_OUTPUTS, library_blocks,  # noqa: E402
                               matrix_ctas, one_block_per_sm, product_outputs)
from summarize_gemm_rounds import main_kernel_rows  # noqa: E402  (one reader of a call's kernels)

GRIDS = ROOT / "calibration/h200/launch-grids"
FAMILIES = (("nvjet", "cuBLAS nvjet"), ("GemmUniversal", "CUTLASS 3 (grouped)"),
            ("cutlass", "CUTLASS 2.x"), ("xmma", "cuBLAS xmma"))


def family(name: str) -> str:
    return next((f for key, f in FAMILIES if key in name), "other")


def main_kernels(folder: Path) -> dict[str, dict]:
    """case_id -> the main kernel of that row's call (summarize_gemm_rounds.main_kernel_rows):
    name, grid, smem."""
    return {c: {"name": r["name"], "grid": int(r["grid"]), "smem": int(r["smem"])}
            for c, r in main_kernel_rows(folder / "kernels.csv.gz").items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--measurements", default=str(ROOT / "calibration/h200/measurements.csv"))
    args = ap.parse_args(argv)
    whole = main_kernels(GRIDS / "h200-products")
    m = read_measurements(args.measurements)
    m = m.select(np.isin(m["case_id"], list(whole)))
    table = measurement_table(m)
    ours = matrix_ctas(table, 132.0)
    lib = library_blocks(table, 132.0)
    grid = np.array([whole[c]["grid"] for c in m["case_id"]], dtype=float)
    smem = np.array([whole[c]["smem"] for c in m["case_id"]], dtype=float)
    fam = np.array([family(whole[c]["name"]) for c in m["case_id"]])
    rows = []
    for f in sorted(set(fam)):
        s = fam == f
        rows.append([f, int(s.sum()), np.median(grid[s]), round(np.median(smem[s]) / 1024),
                     np.median(np.minimum(ours[s], 132)), round(float(np.mean(ours[s] < 20)), 2),
                     np.median(np.minimum(lib[s], 132))])
    print("main kernel per product row, whole H200 (grid = blocks launched)")
    print(format_table(["family", "rows", "median grid", "smem KiB", "matrix_ctas (<=132)",
                        "share < 20", "library_blocks"], rows))
    sel = one_block_per_sm(table) & (fam == "cuBLAS nvjet")
    fills = sel & (np.ceil(product_outputs(table) / LIBRARY_TILE_OUTPUTS) >= 132) & (ours < 132)
    rows = []
    for split in ("fit", "holdout"):
        s = fills & (m["split"] == split)
        q = np.percentile(grid[s], [10, 25, 50, 75, 90]) if s.any() else [np.nan] * 5
        rows.append([split, int(s.sum()), *[float(x) for x in q]])
    print("\nnvjet rows whose 64 x 8 tiles would fill 132 SMs but 128 x 128 tiles do not: grid")
    print(format_table(["split", "rows", "p10", "p25", "median", "p75", "p90"], rows))
    sm40 = main_kernels(GRIDS / "h200-sm40-products")
    same = sum(whole[c]["grid"] == sm40[c]["grid"] for c in sm40 if c in whole)
    close = sum(abs(whole[c]["grid"] - sm40[c]["grid"]) <= 0.25 * whole[c]["grid"]
                for c in sm40 if c in whole)
    print(f"\ninside a green context of 40 SMs: {same} of {len(sm40)} rows launch the whole "
          f"chip's grid, {close} within 25 % of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
