"""How cuBLAS's persistent products stretch on fewer SMs than their grid, and the choice of
roofsim.perfmodel.BALANCED_TAIL_TILES (issue 11, session 20).

    python benchmarks/persistent_stretch.py [--tails 0,0.5,1,2,inf]

1. Measured: the aligned, not skinny gemm / linear products (nvjet, perfmodel.persistent) of the
   kernel sets timed on the whole H200 and on 88-128 SMs (the same shapes; calibration/h200/
   <set> and h200-sm<N>/<set>), compute-bound ones (above 400 TFLOP/s on the whole chip): their
   time on N SMs over their whole-chip time, by the model's tiles (perfmodel.library_blocks),
   beside what whole rounds of the grid (ceil(132 / N)) and the tiles' waves over the SMs
   (ceil(tiles / N) / ceil(tiles / 132)) say for the SM-parallel part.
2. Measured: CUTLASS 3's grouped GEMM (the MoE experts of the reference's prefill) on the whole
   H200 and on 128 SMs (calibration/h200*/e2e-fresh18), beside whole rounds.
3. The choice: for each tail value, the H200's profile refitted on what it was fitted on when
   the tail was chosen (check_balanced_tiles.h200_as_chosen), scored on every SM-restricted kernel set (MAPE on the rows whose shape the whole
   chip's fit left out, their mean) and on the reference's vision and prefill stages at 96-128
   SMs (mean |error| over the SM-restricted end-to-end sets). perfmodel's comment quotes it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import (CAL, KERNEL_TEST_SETS, device_profile,  # noqa: E402
                            restricted_devices, restricted_e2e, stable, stage_rows)
from check_balanced_tiles import h200_as_chosen  # noqa: E402
from restricted_breakdown import predicted  # noqa: E402
from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.fit import measurement_table, sm_restriction_of  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.e2e import load_e2e  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

# kernel sets timed on the whole H200 and on many SMs (set, SM count)
HIGH_PAIRS = (("mixed-fresh2", 88), ("mixed-fresh5", 96), ("mixed-fresh3", 104),
              ("mixed-fresh6", 104), ("mixed-fresh10", 104), ("mixed-fresh8", 112),
              ("mixed-fresh2", 120), ("mixed-fresh9", 120), ("mixed-fresh4", 128))
TILE_BINS = ((528, 1000), (1000, 3500), (3500, np.inf))
COMPUTE_BOUND_TFLOPS = 400.0
GROUPED_SET, GROUPED_SMS = "e2e-fresh18", 128
GRID = 132.0
# Sets timed after the choice (session 20's fresh check, benchmarks/check_balanced_tiles.py;
# session 21's, benchmarks/grouped_idle_blocks.py):
# left out of table 3, so that it shows what the choice was made on.
TIMED_AFTER = ("mixed-fresh17", "mixed-fresh18", "mixed-fresh19", "mixed-fresh20", "e2e-fresh44",
               "e2e-fresh45")
WHOLE_ROUNDS = 1e9      # a tail this long: every extra round a whole one ('inf')


def stretch_part(profile) -> None:
    rows = []
    for name, sms in HIGH_PAIRS:
        mw, _, _ = predicted(profile, set(), "h200", name)
        mr, tr, _ = predicted(profile, set(), f"h200-sm{sms}", name)
        at = {c: i for i, c in enumerate(mw["case_id"])}
        idx = np.array([at.get(c, -1) for c in mr["case_id"]])
        pers = perfmodel.balanced(tr)
        j = np.flatnonzero((idx >= 0) & pers)
        t, whole = tr.select(j), mw["kernel_s"][idx[j]]
        flops = 2 * np.prod([np.nan_to_num(t.param(p), nan=1.0) for p in ("m", "n", "k", "batch")],
                            axis=0)
        tiles = perfmodel.library_blocks(t, GRID)
        rows += [(sms, tiles[q], mr["kernel_s"][j[q]] / whole[q]) for q in range(len(j))
                 if flops[q] / whole[q] > COMPUTE_BOUND_TFLOPS * 1e12]
    data = np.array(rows)
    out = []
    for sms in sorted(set(data[:, 0])):
        for lo, hi in TILE_BINS:
            d = data[(data[:, 0] == sms) & (data[:, 1] > lo) & (data[:, 1] <= hi)]
            if len(d) < 3:
                continue
            tiled = np.median(np.ceil(d[:, 1] / sms) / np.ceil(d[:, 1] / GRID))
            out.append([f"{sms:.0f}", f"{lo}-{hi:g}", len(d), f"{np.median(d[:, 2]):.2f}",
                        f"{np.percentile(d[:, 2], 10):.2f}-{np.percentile(d[:, 2], 90):.2f}",
                        f"{np.ceil(GRID / sms):.0f}", f"{tiled:.2f}", f"{GRID / sms:.2f}"])
    print("1. compute-bound persistent nvjet products: time on N SMs / on the whole H200")
    print(format_table(["SMs", "tiles", "rows", "measured median", "10-90 %", "whole rounds",
                        "tiles' waves (median)", "SM ratio"], out))


def grouped_part() -> None:
    total = {}
    for folder in (CAL / "h200" / GROUPED_SET, CAL / f"h200-sm{GROUPED_SMS}" / GROUPED_SET):
        with gzip.open(folder / "kernels.csv.gz", "rt", newline="") as f:
            for r in csv.DictReader(f):
                if r["stage"] == "prefill" and "GroupProblemShape" in r["name"]:
                    key = (r["grid"], folder.parent.name)
                    total[key] = total.get(key, 0.0) + float(r["duration_s"])
    grids = sorted({g for g, _ in total})
    out = [[g, f"{1e3 * total[(g, 'h200')]:.3f}",
            f"{1e3 * total[(g, f'h200-sm{GROUPED_SMS}')]:.3f}",
            f"{total[(g, f'h200-sm{GROUPED_SMS}')] / total[(g, 'h200')]:.2f}",
            f"{np.ceil(GRID / GROUPED_SMS):.0f}"] for g in grids]
    print(f"\n2. CUTLASS 3 grouped GEMM, prefill of {GROUPED_SET}: whole H200 vs {GROUPED_SMS} SMs")
    print(format_table(["grid", "whole ms", f"{GROUPED_SMS} SMs ms", "ratio", "whole rounds"],
                       out))


def restricted_sets() -> list[tuple[Path, str]]:
    """Every SM-restricted kernel set: the companions' and transfer samples' own rows and the
    test sets of bench_transfer (KERNEL_TEST_SETS)."""
    sets = [(d / "measurements.csv", d.name) for d, _ in restricted_devices()]
    sets += [(CAL / f / n / "measurements.csv", f"{f} {n}") for f, n in KERNEL_TEST_SETS
             if f != "h200" and n not in TIMED_AFTER]
    return sets


def choice_part(tails: list[float]) -> None:
    hw = load_hardware("h200")
    sets = restricted_sets()
    e2e = [(label, folder, s) for label, folder, s in restricted_e2e()
           if s >= 96 and folder.name not in TIMED_AFTER]
    rows = []
    for tail in tails:
        perfmodel.BALANCED_TAIL_TILES = tail
        profile, fitted = h200_as_chosen()
        mapes = []
        for path, _ in sets:
            m = stable(path)
            m = m.select(~np.isin(m["case_id"], sorted(fitted)))
            spec = derive_sm_restricted(hw, sm_restriction_of(path.parent))
            err = profile.predict_launch_s(measurement_table(m), spec) / m["kernel_s"] - 1.0
            mapes.append(100 * np.mean(np.abs(err[np.isfinite(err)])))
        stage = {"vision": [], "prefill": []}
        for label, folder, s in e2e:
            meas, _ = load_e2e(folder)
            for r in stage_rows(meas, derive_sm_restricted(hw, s), profile, "h200", label, ""):
                if r["stage"] in stage:
                    stage[r["stage"]].append(abs(r["error"]))
        rows.append([f"{tail:g}" if tail < WHOLE_ROUNDS else "whole rounds", f"{np.mean(mapes):.2f}", f"{max(mapes):.2f}",
                     f"{100 * np.mean(stage['vision']):.2f}",
                     f"{100 * np.mean(stage['prefill']):.2f}"])
    print(f"\n3. the tail's choice: the H200 refitted at each value; {len(sets)} SM-restricted "
          f"kernel sets, {len(e2e)} end-to-end sets at 96-128 SMs")
    print(format_table(["tail (tile times)", "mean MAPE %", "worst set %",
                        "vision mean |error| %", "prefill mean |error| %"], rows))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tails", default="0,0.5,1,2,inf",
                    help="tail values to refit at (tile times; inf: whole rounds)")
    args = ap.parse_args(argv)
    chosen = perfmodel.BALANCED_TAIL_TILES
    stretch_part(device_profile("h200"))
    grouped_part()
    try:
        choice_part([min(float(x), WHOLE_ROUNDS) for x in args.tails.split(",")])
    finally:
        perfmodel.BALANCED_TAIL_TILES = chosen
    return 0


if __name__ == "__main__":
    sys.exit(main())
