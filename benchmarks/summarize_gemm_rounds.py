"""The figures of calibration/h200/gemm-kernels/README.md and calibration/h200/persistent-rounds/
README.md, from their committed files (issue 11: persistent products on 67-131 SMs).

    python benchmarks/summarize_gemm_rounds.py

1. gemm-kernels: the products roofsim.perfmodel.persistent named persistent before it left out
   misaligned rows (gemm / linear of more than SKINNY_ROWS rows, grouped_gemm), with more
   blocks than SMs and over 20 us on the whole chip, from
   calibration/h200/mixed-fresh (112 SMs) and the 96-SM calibration sample: time on n SMs over
   time on 132, grouped by the kind of main kernel each ran (nvjet with or without cooperative
   tiles or split-K, CUTLASS 2.x for misaligned rows, CUTLASS 3.x grouped, other), with the
   proportional and the rounds stretch.
2. persistent-rounds: every shape's stretch on 104, 112 and 120 SMs beside its main kernel.
"""

from __future__ import annotations

import collections
import csv
import gzip
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from roofsim.calibration.fit import measurement_table  # noqa: E402
from roofsim.calibration.measurements import read_measurements  # noqa: E402
from roofsim.perfmodel import PERSISTENT_KINDS, SKINNY_ROWS, matrix_ctas  # noqa: E402

CAL = ROOT / "calibration"
PRODUCTS = ("gemm", "linear", "grouped_gemm")


def stable_times(path: Path) -> tuple[dict, object]:
    m = read_measurements(path)
    m = m.select(m.stable)
    return dict(zip(m["case_id"], m["kernel_s"])), m


def main_kernel_rows(path: Path) -> dict[str, dict]:
    """case id -> the kernels.csv.gz row (benchmarks/profile_gemm_kernels.py) of the kernel that
    takes most of one call."""
    by: dict[str, tuple[float, dict]] = {}
    with gzip.open(path, "rt", newline="") as f:
        for r in csv.DictReader(f):
            t = float(r["duration_s"]) * float(r["calls"])
            if r["case_id"] not in by or t > by[r["case_id"]][0]:
                by[r["case_id"]] = (t, r)
    return {c: r for c, (_, r) in by.items()}


def main_kernels(path: Path) -> dict[str, str]:
    """case id -> the name of the kernel that takes most of one call."""
    return {c: r["name"] for c, r in main_kernel_rows(path).items()}


def family(name: str) -> str:
    if "nvjet" in name:
        return "cuBLAS nvjet" + (" cooperative" if "coop" in name else "") + \
            (" split-K" if "splitK" in name else "")
    if "Kernel2<cutlass_" in name:
        return "CUTLASS 2.x (misaligned rows)"
    if "cutlass" in name.lower():
        return "CUTLASS 3.x (grouped)"
    return name.split("<")[0][:40]


def stretch_by_family(kernels: Path, whole: Path, restricted: Path, n: int) -> None:
    names = main_kernels(kernels)
    t132, _ = stable_times(whole)
    tn, m = stable_times(restricted)
    m = m.select(np.isin(m["kind"], PRODUCTS) &
                 np.array([c in t132 and c in names for c in m["case_id"]], dtype=bool))
    table = measurement_table(m)
    full = np.array([t132[c] for c in m["case_id"]])
    ratio = m["kernel_s"] / full
    col = lambda name: np.nan_to_num(table.param(name), nan=1.0)   # noqa: E731
    rows = col("m") * np.where(table.kind == "linear", col("batch"), 1.0)
    skinny = np.isin(table.kind, ("gemm", "linear")) & (rows <= SKINNY_ROWS)
    wide = np.isin(table.kind, PERSISTENT_KINDS) & ~skinny      # persistent, bar the alignment
    big = wide & (matrix_ctas(table, 132.0) > n) & (full > 2e-5)
    groups = collections.defaultdict(list)
    for i in np.flatnonzero(big):
        groups[family(names[m["case_id"][i]])].append(ratio[i])
    print(f"{restricted.parent.name}/{restricted.name}, {n} SMs: non-skinny products "
          f"with more blocks than SMs, over 20 us ({int(big.sum())}); "
          f"proportional {132 / n:.2f}, rounds 2")
    for k, v in sorted(groups.items(), key=lambda x: -len(x[1])):
        print(f"  {k:32s} {len(v):3d} shapes  median {np.median(v):.2f}  "
              f"({min(v):.2f}-{max(v):.2f})")


def rounds_per_shape(folder: Path, counts=(104, 112, 120)) -> None:
    names = main_kernels(folder / "gemm-kernels" / "kernels.csv.gz")
    t0, m = stable_times(folder / "sm0" / "measurements.csv")
    tn = {n: stable_times(folder / f"sm{n}" / "measurements.csv")[0] for n in counts}
    print(f"\n{folder.name}: time on n SMs / on 132 " + " ".join(f"x{n}" for n in counts))
    rows = []
    for c in m["case_id"]:
        name = names.get(c, "?")
        k = re.search(r"nvjet_sm90_tst_(\d+x\d+)_\d+x\d+_(\d+x\d+)_", name)
        kernel = f"{k.group(1)} cluster {k.group(2)}" + (" coop" if "coop" in name else "") \
            if k else family(name)
        rows.append((kernel, c.split("|", 2)[2], t0[c],
                     [tn[n][c] / t0[c] if c in tn[n] else float("nan") for n in counts]))
    for kernel, shape, t, r in sorted(rows):
        print(f"  {shape:32s} {t * 1e6:7.1f} us  {kernel:30s} " +
              " ".join(f"{x:5.2f}" for x in r))


def main(argv=None) -> int:
    k = CAL / "h200" / "gemm-kernels"
    stretch_by_family(k / "mixed-fresh" / "kernels.csv.gz",
                      CAL / "h200" / "mixed-fresh" / "measurements.csv",
                      CAL / "h200-sm112" / "mixed-fresh" / "measurements.csv", 112)
    stretch_by_family(k / "sm96" / "kernels.csv.gz", CAL / "h200" / "measurements.csv",
                      CAL / "h200-sm96" / "measurements.csv", 96)
    rounds_per_shape(CAL / "h200" / "persistent-rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
