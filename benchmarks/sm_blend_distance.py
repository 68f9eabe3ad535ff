"""How far the companions' SM-parallel share is trusted: roofsim.calibration.profile's
SM_BLEND_DISTANCE, against the companions' held-out shapes.

    python benchmarks/sm_blend_distance.py

The committed H200 profile predicts the rows its companions timed on fewer SMs (16 and 40) whose
shapes the fit never saw (split 'holdout'), for each blend distance (a huge one: the hard cutoff
at MAX_DISTANCE, as before the blend). Only these rows choose the constant; bench_transfer.py's
test sets do not. Then the case that showed the problem: DeepSeek-OCR's prefill MoE product at
grid 3x6, prompt 1000 (64 groups of 291 x 1792 x 1280), as calibration/h200*/e2e-fresh7 traced
it on the whole chip and on 24 SMs, against the profile's prediction with the cutoff and with
the blend.
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
        moe_example(prof, h200, cal)
    finally:
        profile_module.SM_BLEND_DISTANCE = keep
    return 0


MOE_DIMS = "[[18618,1280],[64,1280,1792],[64],[],[]]"   # the traced call's input shapes


def moe_example(prof, h200, cal) -> None:
    import csv
    import gzip
    from roofsim.kernels import records_from_params
    times = {}
    for sms, folder in ((132, cal / "h200" / "e2e-fresh7"), (24, cal / "h200-sm24" / "e2e-fresh7")):
        with gzip.open(folder / "kernels.csv.gz", "rt", newline="") as f:
            d = [float(r["duration_s"]) for r in csv.DictReader(f)
                 if r["stage"] == "prefill" and r["grid"] == "3x6" and r["category"] == "kernel"
                 and r["input_dims"] == MOE_DIMS
                 and r["name"].startswith("_ZN7cutlass13device_kernel")]   # not its prepare kernel
        times[sms] = float(np.median(d))
    table = records_from_params("grouped_gemm", {"batch": [64.0], "m": [18618 / 64],
                                                 "n": [1792.0], "k": [1280.0], "bias": [0.0]},
                                "bfloat16")
    print(f"\nMoE product {MOE_DIMS} (grid 3x6, prompt 1000), measured: "
          f"{times[132] * 1e6:.0f} us whole chip, {times[24] * 1e6:.0f} us on 24 SMs "
          f"({times[24] / times[132]:.1f}x)")
    sm24 = derive_sm_restricted(h200, 24)
    for d in (1e9, 4.0):
        profile_module.SM_BLEND_DISTANCE = d
        ratio = prof.predict_launch_s(table, sm24)[0] / prof.predict_launch_s(table, h200)[0]
        label = "cutoff only" if d >= 1e8 else f"blend distance {d:g}"
        print(f"  predicted 24 SMs / whole chip, {label}: {ratio:.1f}x")


if __name__ == "__main__":
    raise SystemExit(main())
