"""Would more kernel runs on fewer SMs lower the H200 profile's restricted-SM error? (issue 11)

    python benchmarks/check_more_companions.py [FOLDER,FOLDER,...]

Refits the H200's profile as benchmarks/bench_transfer.py does (the inputs its profile.json
records), once as committed and once with the given restricted runs added as companions
(default: the scored fresh sets at 24-48 SMs, h200-sm24/mixed-fresh11 and -13,
h200-sm32/mixed-fresh12, h200-sm40/mixed-fresh11, h200-sm48/mixed-fresh10 and -12). Each profile
then predicts the restricted sets' stable rows whose shape the whole-chip fit left out, and the
script prints the MAPE of both side by side. mixed-fresh15 at 24 and 32 SMs and the sets at 56-112
SMs are in neither fit; the added sets are marked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, fit_inputs, stable  # noqa: E402
from roofsim.calibration.fit import (DeviceProbes, companion_from_folder,  # noqa: E402
                                     fit_profile, joined_measurements, measurement_table,
                                     probe_files, sm_restriction_of)
from roofsim.calibration.measurements import FIT  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

EXTRA = ("h200-sm24/mixed-fresh11", "h200-sm24/mixed-fresh13", "h200-sm32/mixed-fresh12",
         "h200-sm40/mixed-fresh11", "h200-sm48/mixed-fresh10", "h200-sm48/mixed-fresh12")
# A companion row counts only where its shape is a fit row of the whole chip (fit_profile pairs
# them by case id): the whole-chip runs of the same suites, joined as `more` sets.
EXTRA_MORE = ("h200/mixed-fresh11", "h200/mixed-fresh13")
SCORED = ("h200-sm24/mixed-fresh15", "h200-sm32/mixed-fresh15", "h200-sm56/mixed-fresh13",
          "h200-sm72/mixed-fresh14", "h200-sm112/mixed-fresh14", "h200-sm104/mixed-fresh10",
          "h200/mixed-fresh15") + EXTRA


def profile_with(extra: tuple[str, ...], more: tuple[str, ...] = ()):
    inputs = fit_inputs("h200")
    m = joined_measurements(CAL / "h200", list(inputs.more) + [CAL / f for f in more]) \
        if more else inputs.measurements
    m = m.select(m.stable)
    companions = tuple(inputs.companions) + tuple(companion_from_folder(CAL / f) for f in extra)
    probes = DeviceProbes.read(*probe_files(CAL / "h200"), load_hardware("h200"))
    prof = probes.apply(fit_profile(m.select(m["split"] == FIT), load_hardware("h200"),
                                    device_name="h200", ident="h200", companions=companions))
    return prof, set(m["case_id"][m["split"] == FIT])


def mape(prof, fitted: set, folder: str) -> float:
    path = CAL / folder
    m = stable(path / "measurements.csv")
    m = m.select(~np.isin(m["case_id"], sorted(fitted)))
    sms = sm_restriction_of(path)
    hw = load_hardware("h200")
    err = prof.predict_launch_s(measurement_table(m), derive_sm_restricted(hw, sms) if sms
                                else hw) / m["kernel_s"] - 1.0
    return float(100 * np.mean(np.abs(err[np.isfinite(err)])))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = tuple(argv[0].split(",")) if argv else EXTRA
    more = tuple(argv[1].split(",")) if len(argv) > 1 else EXTRA_MORE
    base, fitted = profile_with(())
    comp, _ = profile_with(extra)
    both, fitted_both = profile_with(extra, more)
    rows = [[f, f"{mape(base, fitted, f):.2f}", f"{mape(comp, fitted, f):.2f}",
             f"{mape(both, fitted_both, f):.2f}",
             "added" if f in extra or f.replace("-sm", "/").split("/")[0] + "/" + f.split("/")[-1]
             in more or f in more else ""] for f in SCORED]
    print(format_table(["set", "MAPE % committed", "+ companions", "+ companions and their "
                        "whole-chip runs", ""], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
