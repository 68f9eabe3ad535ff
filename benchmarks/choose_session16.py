"""The two choices of session 16 (issue 11), regenerated: attention's waves and the companions at
24, 32 and 48 SMs.

    python benchmarks/choose_session16.py

1. Which kinds stretch by their waves between SM counts (roofsim.perfmodel.WAVE_KINDS). The H200
   profile as session 15 left it (its own rows and mixed-fresh to mixed-fresh5, companions at
   40, 16, 8 and 64 SMs) is fitted with WAVE_KINDS = (), ('attention',) (the choice) and
   ('attention', 'conv2d'), and scored on the SM-restricted runs of mixed-fresh6 to -10 (test
   sets then, none fitted): the kernel MAPE of every row, of attention's and of conv2d's.
2. Which further companions (roofsim.calibration.profile: each shape's SM-parallel share). With
   the chosen waves, the H200's rows and mixed-fresh to mixed-fresh9 (session 16's --more sets)
   are fitted with companions at 40, 16, 8 and 64 SMs, with those and 24, 32 and 48 (the
   restricted runs of mixed-fresh9, -8 and -5: the choice), and with 56 as well (mixed-fresh7's),
   and scored on sets neither fitted nor a companion (rows whose case the fit split holds left
   out): the kernel samples at 24, 32, 56, 72 and 96 SMs, conv-fresh, narrow-fresh at 32 SMs,
   mixed-fresh10, and the H200's own held-out rows.

calibration/README.md and roofsim.perfmodel.WAVE_KINDS quote what it prints. Each fit takes
about 20 s (seven in all).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import roofsim.perfmodel as perfmodel  # noqa: E402
from bench_transfer import CAL, stable  # noqa: E402
from choose_companions import BASE, SESSION15_MORE, mape  # noqa: E402
from roofsim.calibration.fit import (DeviceProbes, companion_from_folder,  # noqa: E402
                                     fit_profile, joined_measurements, probe_files,
                                     sm_restriction_of)
from roofsim.calibration.measurements import FIT, HOLDOUT  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

SESSION15_COMPANIONS = BASE + ("h200-sm64/mixed-fresh3",)
WAVE_CANDIDATES = {"none": (), "attention": ("attention",),
                   "attention, conv2d": ("attention", "conv2d")}
WAVE_TESTS = (("h200-sm40", "mixed-fresh6"), ("h200-sm104", "mixed-fresh6"),
              ("h200-sm56", "mixed-fresh7"), ("h200-sm72", "mixed-fresh7"),
              ("h200-sm32", "mixed-fresh8"), ("h200-sm112", "mixed-fresh8"),
              ("h200-sm24", "mixed-fresh9"), ("h200-sm120", "mixed-fresh9"),
              ("h200-sm48", "mixed-fresh10"), ("h200-sm104", "mixed-fresh10"))
SESSION16_MORE = SESSION15_MORE + ("mixed-fresh6", "mixed-fresh7", "mixed-fresh8", "mixed-fresh9")
COMPANION_CANDIDATES = {
    "session 15": (),
    "8, 16, 40, 64": (),
    "+ 24, 32, 48": ("h200-sm24/mixed-fresh9", "h200-sm32/mixed-fresh8", "h200-sm48/mixed-fresh5"),
    "+ 24, 32, 48, 56": ("h200-sm24/mixed-fresh9", "h200-sm32/mixed-fresh8",
                         "h200-sm48/mixed-fresh5", "h200-sm56/mixed-fresh7")}
COMPANION_TESTS = (("h200-sm24", ""), ("h200-sm32", ""), ("h200-sm56", ""), ("h200-sm72", ""),
                   ("h200-sm96", ""), ("h200-sm24", "conv-fresh"), ("h200-sm56", "conv-fresh"),
                   ("h200-sm32", "narrow-fresh"), ("h200-sm48", "mixed-fresh10"),
                   ("h200-sm104", "mixed-fresh10"))


def h200_rows(more: tuple[str, ...]):
    """The stable rows of the H200 and of its `more` sets."""
    m = joined_measurements(CAL / "h200", [CAL / "h200" / f for f in more])
    return m.select(m.stable)


def fit_h200(more: tuple[str, ...], companions: tuple[str, ...]):
    """The H200's profile on its rows and the `more` sets' (fit split), with these companions;
    and the rows it was fitted on."""
    hw = load_hardware("h200")
    m = h200_rows(more)
    rows = m.select(m["split"] == FIT)
    probes = DeviceProbes.read(*probe_files(CAL / "h200"), hw)
    comps = tuple(companion_from_folder(CAL / f) for f in companions)
    return probes.apply(fit_profile(rows, hw, device_name="h200", ident="h200",
                                    companions=comps)), m


def test_set(folder: str, name: str, fitted: set):
    """A restricted set's stable rows whose case the fit did not take, and its SM count."""
    path = CAL / folder / name if name else CAL / folder
    t = stable(path / "measurements.csv")
    return t.select(~np.isin(t["case_id"], sorted(fitted))), sm_restriction_of(path)


def kind_mape(profile, t, spec, kind: str) -> str:
    sel = t["kind"] == kind
    return f"{mape(profile, t.select(sel), spec):.2f}" if sel.any() else "-"


def waves_table() -> None:
    hw = load_hardware("h200")
    chosen = perfmodel.WAVE_KINDS
    columns = {}
    try:
        for label, kinds in WAVE_CANDIDATES.items():
            perfmodel.WAVE_KINDS = kinds
            profile, m = fit_h200(SESSION15_MORE, SESSION15_COMPANIONS)
            fitted = set(m["case_id"][m["split"] == FIT])
            col = []
            for folder, name in WAVE_TESTS:
                t, n = test_set(folder, name, fitted)
                spec = derive_sm_restricted(hw, n)
                col.append((f"{mape(profile, t, spec):.2f}", kind_mape(profile, t, spec,
                                                                       "attention"),
                            kind_mape(profile, t, spec, "conv2d")))
            columns[label] = col
    finally:
        perfmodel.WAVE_KINDS = chosen
    rows = [[f"{folder} {name}"] + [" / ".join(columns[c][i]) for c in WAVE_CANDIDATES]
            for i, (folder, name) in enumerate(WAVE_TESTS)]
    print("1. kinds that stretch by their waves (WAVE_KINDS), session 15's fit rows and "
          "companions;\n   kernel MAPE % of every row / attention's / conv2d's")
    print(format_table(["set"] + list(WAVE_CANDIDATES), rows))


def companions_table() -> None:
    hw = load_hardware("h200")
    columns, held = {}, {}
    joined = h200_rows(SESSION16_MORE)
    fitted = set(joined["case_id"][joined["split"] == FIT])
    own_held = joined.select(joined["split"] == HOLDOUT)
    for label, extra in COMPANION_CANDIDATES.items():
        more = SESSION15_MORE if label == "session 15" else SESSION16_MORE
        profile, _ = fit_h200(more, SESSION15_COMPANIONS + extra)
        col = []
        for folder, name in COMPANION_TESTS:
            t, n = test_set(folder, name, fitted)
            col.append(mape(profile, t, derive_sm_restricted(hw, n)))
        columns[label] = col
        held[label] = mape(profile, own_held, hw)
    rows = [[f"{folder} {name or 'sample'}"] + [f"{columns[c][i]:.2f}"
                                                  for c in COMPANION_CANDIDATES]
            for i, (folder, name) in enumerate(COMPANION_TESTS)]
    rows.append(["mean"] + [f"{np.mean(columns[c]):.2f}" for c in COMPANION_CANDIDATES])
    rows.append([f"h200 held-out ({len(own_held)})"] + [f"{held[c]:.2f}"
                                                       for c in COMPANION_CANDIDATES])
    print("\n2. companions (SM counts), attention's waves; the H200's rows and mixed-fresh to -9"
          " ('session 15':\n   to -5, companions at 8, 16, 40 and 64 SMs); kernel MAPE % of sets"
          " neither fitted nor a\n   companion (rows whose case the fit split of mixed-fresh to -9"
          " holds left out)")
    print(format_table(["set"] + list(COMPANION_CANDIDATES), rows))


def main() -> int:
    waves_table()
    companions_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
