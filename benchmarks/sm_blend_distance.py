"""How far the companions' SM-parallel share is trusted: roofsim.calibration.profile's
SM_BLEND_DISTANCE, against the companions' held-out shapes.

    python benchmarks/sm_blend_distance.py

The committed H200 profile predicts the rows its companions timed on fewer SMs (16 and 40) whose
shapes the fit never saw (split 'holdout'), for each blend distance (a huge one: the hard cutoff
at MAX_DISTANCE, as before the blend). Only these rows choose the constant; bench_transfer.py's
test sets do not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim.calibration import profile as profile_module  # noqa: E402
from roofsim.calibration.fit import companion_from_folder  # noqa: E402
from roofsim.calibration.measurements import HOLDOUT, measurement_table  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

DISTANCES = (1e9, 6.0, 4.0, 3.0, 2.0, 1.5)


def main() -> int:
    cal = ROOT / "calibration"
    prof = profile_module.load_profile(cal / "h200")
    h200 = load_hardware("h200")
    sets = []
    for c in prof.meta.get("companions", []):
        comp = companion_from_folder(cal / c["folder"])
        m = comp.measurements.select(comp.measurements.stable &
                                     (comp.measurements["split"] == HOLDOUT))
        sets.append((comp.sm_count, m, measurement_table(m),
                     derive_sm_restricted(h200, comp.sm_count)))
    print(f"{'blend distance':>14}  " + "  ".join(f"{n:>3} SMs MAPE %" for n, *_ in sets))
    keep = profile_module.SM_BLEND_DISTANCE
    try:
        for d in DISTANCES:
            profile_module.SM_BLEND_DISTANCE = d
            row = []
            for n, m, table, spec in sets:
                p = prof.predict_launch_s(table, spec)
                row.append(100 * float(np.nanmean(np.abs(p / m["kernel_s"] - 1))))
            label = "cutoff only" if d >= 1e8 else f"{d:g}"
            print(f"{label:>14}  " + "  ".join(f"{v:14.2f}" for v in row))
    finally:
        profile_module.SM_BLEND_DISTANCE = keep
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
