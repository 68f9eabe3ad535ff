"""Would more kernel runs on fewer SMs lower the H200 profile's restricted-SM error? (issue 11)

    python benchmarks/check_more_companions.py [COMPANIONS [MORE]]

The question session 19 asked before it changed the H200's fit data. Refits the H200's profile
as benchmarks/bench_transfer.py does (the inputs its profile.json records) less what sessions 19
and 20 added to them (SESSION19_*, SESSION20_*), so the baseline is the session-18 fit;
then with COMPANIONS added as companions (comma-separated folders under calibration/; default
EXTRA: h200-sm24/mixed-fresh11 and -13, h200-sm32/mixed-fresh12, h200-sm40/mixed-fresh11,
h200-sm48/mixed-fresh10 and -12); then with MORE's whole-chip runs joined as well (default
EXTRA_MORE: h200/mixed-fresh11 and -13). Each profile predicts the sets' stable rows whose shape
the whole chip's fit left out, and the script prints the three MAPEs side by side and what the
last fit does with each set. mixed-fresh15 at 24 and 32 SMs and the sets at 56-112 SMs are in
none of the three fits. calibration/README.md (session 19) quotes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, fit_inputs  # noqa: E402
from restricted_breakdown import predicted  # noqa: E402
from roofsim.calibration.fit import (DeviceProbes, companion_from_folder,  # noqa: E402
                                     fit_profile, joined_measurements, probe_files)
from roofsim.calibration.measurements import FIT  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402

EXTRA = ("h200-sm24/mixed-fresh11", "h200-sm24/mixed-fresh13", "h200-sm32/mixed-fresh12",
         "h200-sm40/mixed-fresh11", "h200-sm48/mixed-fresh10", "h200-sm48/mixed-fresh12")
# A companion row counts only where its shape is a fit row of the whole chip (fit_profile pairs
# them by case id): the whole-chip runs of the same suites, joined as `more` sets.
EXTRA_MORE = ("h200/mixed-fresh11", "h200/mixed-fresh13")
# What session 19 added to the H200's fit (calibration/README.md): left out of the baseline.
SESSION19_COMPANIONS = ("h200-sm24/mixed-fresh11", "h200-sm24/mixed-fresh13",
                        "h200-sm24/mixed-fresh15", "h200-sm32/mixed-fresh12",
                        "h200-sm32/mixed-fresh15", "h200-sm40/mixed-fresh11",
                        "h200-sm48/mixed-fresh10", "h200-sm48/mixed-fresh12")
SESSION19_MORE = ("h200/mixed-fresh10", "h200/mixed-fresh11", "h200/mixed-fresh12",
                  "h200/mixed-fresh13", "h200/mixed-fresh15")
# What session 20 added (the runs of mixed-fresh16 and -17): left out of every fit here too.
SESSION20_COMPANIONS = ("h200-sm24/mixed-fresh16", "h200-sm32/mixed-fresh16",
                        "h200-sm24/mixed-fresh17", "h200-sm40/mixed-fresh17")
SESSION20_MORE = ("h200/mixed-fresh16", "h200/mixed-fresh17")
SCORED = ("h200-sm24/mixed-fresh15", "h200-sm32/mixed-fresh15", "h200-sm56/mixed-fresh13",
          "h200-sm72/mixed-fresh14", "h200-sm112/mixed-fresh14", "h200-sm104/mixed-fresh10",
          "h200/mixed-fresh15") + EXTRA + (
          # the fresh set of session 19's change (timed after it was chosen): the first column
          # is its MAPE before the change; calibration/transfer.txt has it after
          "h200/mixed-fresh16", "h200-sm24/mixed-fresh16", "h200-sm32/mixed-fresh16")


def h200_without(dropped: tuple[str, ...], extra: tuple[str, ...] = (),
                 more: tuple[str, ...] = ()):
    """The H200 refitted as bench_transfer fits it (its recorded inputs, the device probes) less
    the `dropped` folders (under calibration/), with `extra` as further companions and `more`
    joined; (profile, the case ids of its fit split)."""
    inputs = fit_inputs("h200")
    gone = {(CAL / f).resolve() for f in dropped}
    base_more = [f for f in inputs.more if Path(f).resolve() not in gone]
    base_companions = [c for c, f in zip(inputs.companions, inputs.companion_folders)
                       if Path(f).resolve() not in gone]
    m = joined_measurements(CAL / "h200", base_more + [CAL / f for f in more])
    m = m.select(m.stable)
    companions = tuple(base_companions) + tuple(companion_from_folder(CAL / f) for f in extra)
    probes = DeviceProbes.read(*probe_files(CAL / "h200"), load_hardware("h200"))
    prof = probes.apply(fit_profile(m.select(m["split"] == FIT), load_hardware("h200"),
                                    device_name="h200", ident="h200", companions=companions))
    return prof, set(m["case_id"][m["split"] == FIT])


def profile_with(extra: tuple[str, ...], more: tuple[str, ...] = ()):
    """The session-18 fit of the H200 (its recorded inputs less SESSION19_* and SESSION20_*)
    with `extra` as further companions and `more` joined; (profile, fit case ids)."""
    return h200_without(SESSION19_MORE + SESSION19_COMPANIONS + SESSION20_MORE +
                        SESSION20_COMPANIONS, extra, more)


def mape(prof, fitted: set, folder: str) -> float:
    """MAPE (%) of prof on a set's stable rows whose shape the whole chip's fit left out
    (restricted_breakdown.predicted, as bench_transfer scores the kernel sets)."""
    m, _, pred = predicted(prof, fitted, *folder.split("/"))
    err = pred / m["kernel_s"] - 1.0
    return float(100 * np.mean(np.abs(err[np.isfinite(err)])))


def role(folder: str, extra: tuple[str, ...], more: tuple[str, ...]) -> str:
    """What the last fit does with a scored set: a companion, joined, or its whole-chip run
    joined (its shapes then leave the scored rows)."""
    if folder in extra:
        return "companion"
    if folder in more:
        return "joined"
    return "whole-chip run joined" if f"h200/{folder.split('/')[-1]}" in more else ""


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = tuple(argv[0].split(",")) if argv else EXTRA
    more = tuple(argv[1].split(",")) if len(argv) > 1 else EXTRA_MORE
    base, fitted = profile_with(())
    comp, _ = profile_with(extra)
    both, fitted_both = profile_with(extra, more)
    rows = [[f, f"{mape(base, fitted, f):.2f}", f"{mape(comp, fitted, f):.2f}",
             f"{mape(both, fitted_both, f):.2f}",
             role(f, extra, more)] for f in SCORED]
    print(format_table(["set", "MAPE % session-18 fit", "+ companions", "+ companions and their "
                        "whole-chip runs", "in the last fit"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
