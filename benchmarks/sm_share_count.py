"""Does the SM-parallel share depend on the SM count? roofsim.calibration.profile's
sm_fraction_at with the SM count as a coordinate (SM_COUNT_WEIGHT) against one share for all
counts (issue 11).

    python benchmarks/sm_share_count.py

1. For every shape the H200 timed whole and on the two largest companions (16 and 40 SMs), the two-point
   law's share f from each companion (roofsim.calibration.fit.sm_fractions), per kind: the
   median of each, and how far the 16-SM time is missed when f comes from the 40-SM run, or
   from the mean of the two (what one interpolator over both companions' points tends to).
   These are the fit's own shapes: no interpolation, only the law.
2. The committed H200 profile, as written (the SM count a coordinate of the share's
   interpolation) and with the companions' counts dropped (one share for every count, as
   before), on
   rows the fit never saw: the companions' held-out shapes (8, 16 and 40 SMs) and the kernel
   sets of SM counts no companion ran (24, 32, 56, 72, 96).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim.calibration.fit import sm_fractions  # noqa: E402
from roofsim.calibration.measurements import (HOLDOUT, measurement_table,  # noqa: E402
                                              read_measurements)
from roofsim.calibration.profile import load_profile  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402
from roofsim.perfmodel import parallel_scale  # noqa: E402

CAL = ROOT / "calibration"
LAW_COUNTS = (16, 40)              # part 1: the two companions that timed the most shapes
COMPANIONS = (8, 16, 40)
OTHER_COUNTS = (24, 32, 56, 72, 96)


def stable(path: Path):
    m = read_measurements(path)
    return m.select(m.stable)


def law_part(h200) -> None:
    whole = stable(CAL / "h200" / "measurements.csv")
    row = {cid: i for i, cid in enumerate(whole["case_id"])}
    table = measurement_table(whole)
    ratio = {}
    for n in LAW_COUNTS:
        c = stable(CAL / f"h200-sm{n}" / "measurements.csv")
        scale = parallel_scale(table, h200.sm_count, n, h200.grid_sms)
        for j, cid in enumerate(c["case_id"]):
            i = row.get(cid)
            if i is not None:
                ratio.setdefault(cid, {})[n] = (c["kernel_s"][j] / whole["kernel_s"][i], scale[i])
    lo, hi = LAW_COUNTS
    print(f"1. shapes timed whole and on {lo} and {hi} SMs: share f of the two-point law\n")
    print(f"{'kind':13s} {'shapes':>6s} {'f' + str(lo):>6s} {'f' + str(hi):>6s}  "
          f"{lo}-SM time from f{hi}: MAPE  bias   from mean f: MAPE")
    rows = {}
    for cid, d in ratio.items():
        if len(d) == 2:
            rows.setdefault(cid.split("|")[0], []).append((*d[lo], *d[hi]))
    for kind in sorted(rows, key=lambda k: -len(rows[k])):
        r = np.array(rows[kind])
        f_lo, f_hi = sm_fractions(1.0, r[:, 0], r[:, 1]), sm_fractions(1.0, r[:, 2], r[:, 3])
        from_hi = ((1 - f_hi) + f_hi * r[:, 1]) / r[:, 0] - 1
        mean = (f_lo + f_hi) / 2
        from_mean = ((1 - mean) + mean * r[:, 1]) / r[:, 0] - 1
        print(f"{kind:13s} {len(r):6d} {np.median(f_lo):6.2f} {np.median(f_hi):6.2f}  "
              f"{100 * np.mean(np.abs(from_hi)):22.1f} {100 * np.median(from_hi):+5.1f} "
              f"{100 * np.mean(np.abs(from_mean)):13.1f}")


def profile_part(h200) -> None:
    prof = load_profile(CAL / "h200")
    merged = dataclasses.replace(prof, groups={k: dataclasses.replace(g, sm_counts=None)
                                               for k, g in prof.groups.items()})
    sets = []
    for n in COMPANIONS:
        m = stable(CAL / f"h200-sm{n}" / "measurements.csv")
        sets.append((f"{n} SMs held-out", m.select(m["split"] == HOLDOUT), n))
    for n in OTHER_COUNTS:
        sets.append((f"{n} SMs (no companion)", stable(CAL / f"h200-sm{n}" / "measurements.csv"),
                     n))
    print("\n2. the committed H200 profile on rows the fit never saw (MAPE %)\n")
    print(f"{'set':24s} {'rows':>5s}  {'one share':>9s}  {'by SM count':>11s}")
    for label, m, n in sets:
        table, spec = measurement_table(m), derive_sm_restricted(h200, n)
        err = [100 * float(np.nanmean(np.abs(p.predict_launch_s(table, spec) / m["kernel_s"] - 1)))
               for p in (merged, prof)]
        print(f"{label:24s} {len(m):5d}  {err[0]:9.2f}  {err[1]:11.2f}")


def main() -> int:
    h200 = load_hardware("h200")
    law_part(h200)
    profile_part(h200)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
