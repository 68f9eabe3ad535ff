"""Which column tile cuBLAS's skinny linears take on the H200, read off their times on 8 SMs
(issue 11, session 45: roofsim.perfmodel.skinny_launch's narrow tiles). Reads committed files
alone:

    python benchmarks/narrow_tile_choice.py [--sets SET[,SET...]]

A linear of 1-8 rows runs one round on the whole chip whatever its tile, so its whole-chip time
says little about its grid; on 8 SMs the grid is the same (the library sizes it for the device)
and runs ceil(blocks / 8) rounds: launches of 56 blocks or more (a 16-column grid of 896 columns
or more, a 64-column one of 3,584) took 5-9x their whole-chip time in these sets, launches of 40
or fewer 1-3.7x. So the ratio of the two times says whether the grid is large: "many" blocks from
RATIO_MANY up, "few" to RATIO_FEW, neither between; the rule's grid is "many" from MANY_BLOCKS,
"few" to FEW_BLOCKS. Where a 64-column grid is narrow's size the column tile is not what is read.

For every bf16 linear of at most perfmodel.SKINNY_NARROW_ROWS rows (aligned, k of at most 3,000)
timed both on the whole H200 and on 8 SMs (calibration/h200/<set> and calibration/h200-sm8/<set>;
'' is the fit rows and their 8-SM companion): the rule's column tile and grid
(perfmodel.skinny_launch on the H200's spec) against what the ratio says, the agreements per set
and every row where they differ; then, for the narrow launches, the rounds the 8-SM time implies
at a 16-column round's time (ROUND_S ...) against the rule's grid's rounds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.measurements import measurement_table, read_measurements  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.io import stored_file  # noqa: E402
from roofsim.textable import format_table  # noqa: E402

CAL = ROOT / "calibration"
SETS = ("", "narrow-fresh2", "narrow-fresh12", "narrow-fresh14", "mixed-fresh18",
        "mixed-fresh19", "mixed-fresh21", "mixed-fresh22", "mixed-fresh32")
RATIO_MANY = 5.0       # 8-SM / whole-chip time from which a launch held many blocks
RATIO_FEW = 4.0        # ... up to which it held few
MANY_BLOCKS = 56.0
FEW_BLOCKS = 40.0
# A narrow grid's round on 8 SMs: ROUND_S + ROUND_PER_K_S x k, from the shapes whose 16-column
# grid was recorded (1 x 1280 x 1280's 80 blocks: 10 rounds in 35 us on 8 SMs, calibration/
# h200-sm8's fit rows; 1,600 columns, 100 blocks, 13 rounds in 41 / 57 / 62 us at k = 1,088 /
# 2,048 / 2,368: narrow-fresh14, -12). It names the rounds, so the grid, of the other narrow
# launches of at most NARROW_MAX_COLS columns (a 64-column block streams 4-8x the bytes a round).
ROUND_S = 1.9e-6
ROUND_PER_K_S = 1.25e-9
NARROW_MAX_COLS = 2400


def timed(folder: Path):
    """The stable rows of a set's measurements, or None where the set is not there."""
    path = stored_file(folder / "measurements.csv")
    if not path.is_file():
        return None
    m = read_measurements(path)
    return m.select(m.stable)


def rows_of(name: str, hw) -> list[dict]:
    """The short linears of one set timed on both, with the rule's grid and what the ratio
    says of it."""
    whole, few = timed(CAL / "h200" / name), timed(CAL / "h200-sm8" / name)
    if whole is None or few is None:
        return []
    t8 = dict(zip(few["case_id"], few["kernel_s"]))
    keep = np.array([c in t8 for c in whole["case_id"]])
    m = whole.select(keep)
    t = measurement_table(m)
    rows = t.param("m") * np.nan_to_num(t.param("batch"), nan=1.0)
    n, k = t.param("n"), t.param("k")
    sel = (t.kind == "linear") & (np.asarray(m["dtype"]) == "bfloat16") & \
        (rows <= perfmodel.SKINNY_NARROW_ROWS) & (n % 8 == 0) & (k % 8 == 0) & \
        (k >= perfmodel.SKINNY_NARROW_MIN_K) & (k <= 3000) & (n >= perfmodel.SKINNY_NARROW_MIN_COLS)
    if not sel.any():
        return []
    sub = t.select(np.flatnonzero(sel))
    launch = perfmodel.skinny_launch(sub, perfmodel.library_grid_cap(hw.grid_sms),
                                     perfmodel.narrow_tile_cols(hw))
    out = []
    for i, j in enumerate(np.flatnonzero(sel)):
        ratio = t8[m["case_id"][j]] / m["kernel_s"][j]
        seen = "many" if ratio >= RATIO_MANY else "few" if ratio <= RATIO_FEW else "?"
        blocks = launch.blocks[i]
        rule = "many" if blocks >= MANY_BLOCKS else "few" if blocks <= FEW_BLOCKS else "?"
        out.append({"set": name or "fit rows", "rows": int(rows[j]), "n": int(n[j]),
                    "k": int(k[j]), "bias": int(np.nan_to_num(t.param("bias")[j])),
                    "rule cols": int(launch.cols[i]), "rule blocks": int(blocks),
                    "8-SM ratio": round(float(ratio), 2), "ratio says": seen,
                    "rule says": rule,
                    "8-SM rounds": round(float(t8[m["case_id"][j]] /
                                               (ROUND_S + ROUND_PER_K_S * k[j])), 1),
                    "rule rounds": int(np.ceil(blocks / 8.0)),
                    "agree": "?" in (seen, rule) or seen == rule})
    return out


def table(rows: list[dict]) -> str:
    """Rows of equal keys as a text table."""
    return format_table(list(rows[0]), [list(r.values()) for r in rows]) if rows else "(none)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", help="comma-separated set names ('' for the fit rows)")
    args = ap.parse_args(argv)
    hw = load_hardware("h200")
    sets = SETS if args.sets is None else tuple(args.sets.split(","))
    every = [r for s in sets for r in rows_of(s, hw)]
    summary = []
    for s in sets:
        mine = [r for r in every if r["set"] == (s or "fit rows")]
        told = [r for r in mine if "?" not in (r["ratio says"], r["rule says"])]
        summary.append({"set": s or "fit rows", "rows": len(mine), "named by both": len(told),
                        "rule agrees": sum(r["agree"] for r in told)})
    told = [r for r in every if "?" not in (r["ratio says"], r["rule says"])]
    summary.append({"set": "all", "rows": len(every), "named by both": len(told),
                    "rule agrees": sum(r["agree"] for r in told)})
    print(table(summary))
    print()
    rounds = [r for r in every if r["ratio says"] == "many" and r["rule cols"] < 64 and
              r["n"] <= NARROW_MAX_COLS]
    near = sum(abs(r["8-SM rounds"] - r["rule rounds"]) <= 1.5 for r in rounds)
    print(f"narrow launches of at most {NARROW_MAX_COLS} columns on the rule's narrow tiles: "
          f"{near} of {len(rounds)} within 1.5 of the rule's rounds on 8 SMs (at the 16-column "
          f"round time); off by more:")
    print(table([{k: v for k, v in r.items() if k != "agree"} for r in rounds
                 if abs(r["8-SM rounds"] - r["rule rounds"]) > 1.5]))
    print()
    print("rows where the rule's tile and the ratio's differ:")
    print(table([{k: v for k, v in r.items() if k != "agree"} for r in every if not r["agree"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
