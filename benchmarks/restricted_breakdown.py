"""Where the H200 profile's kernel errors on fewer SMs come from (issue 11), by kind and product
class, on the fresh kernel sets timed both on the whole chip and on fewer SMs.

    python benchmarks/restricted_breakdown.py

The H200's profile as benchmarks/bench_transfer.py fits it (the inputs its profile.json records,
the device probes) predicts each set's stable rows on the whole chip and on the spec derived to
each restricted count (rows whose shape the profile fitted left out, as bench_transfer does). Per
kind: rows, MAPE, median signed error and the points of the set's
MAPE the kind carries (sum of its |errors| over every row of the set). For the gemm / linear
rows, by the kernel class the model gives them (roofsim.perfmodel: `persistent` nvjet products,
the aligned skinny ones, the misaligned ones' CUTLASS 2.x fallbacks): MAPE on the whole chip and
on fewer SMs, and the error of the predicted SM stretch (time on fewer SMs / on the whole chip,
predicted over measured) on the cases timed at both. Last, how far the same suite timed again in
another process lands from the first run (REPEATS): the measurement's own spread.
calibration/README.md quotes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, FIT, device_profile, fit_inputs, stable  # noqa: E402
from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.fit import measurement_table, sm_restriction_of  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

# fresh kernel sets (bench_transfer.FRESH_KERNEL_SETS) with a whole-chip run: (set, restricted)
PAIRS = (("mixed-fresh11", ("h200-sm24", "h200-sm40")),
         ("mixed-fresh13", ("h200-sm24", "h200-sm56")))
PRODUCT_CLASSES = ("persistent", "skinny", "misaligned")
# The same suite timed again in another process (<folder>/<set>-repeat): how far a second run of
# the same shapes lands from the first, the floor no model of these rows can go below.
REPEATS = (("h200", "mixed-fresh13"), ("h200-sm24", "mixed-fresh13"))


def h200_profile():
    """The H200's profile as bench_transfer fits it, and the case ids of its fit rows."""
    m = fit_inputs("h200").measurements
    return device_profile("h200"), set(m["case_id"][m.stable & (m["split"] == FIT)])


def predicted(profile, fitted: set, folder: str, name: str):
    """(rows, their table, predicted seconds) of a set's stable rows on its SM count, bar the
    shapes the profile fitted (as bench_transfer scores the kernel sets)."""
    path = CAL / folder / name
    m = stable(path / "measurements.csv")
    m = m.select(~np.isin(m["case_id"], sorted(fitted)))
    sms = sm_restriction_of(path)
    hw = load_hardware("h200")
    spec = derive_sm_restricted(hw, sms) if sms else hw
    table = measurement_table(m)
    return m, table, profile.predict_launch_s(table, spec)


def product_class(table) -> np.ndarray:
    """'persistent', 'skinny' or 'misaligned' for gemm / linear records, '' for the rest."""
    prod = np.isin(table.kind, ("gemm", "linear"))
    mis = perfmodel.misaligned_operands(table)
    pers = perfmodel.persistent(table)
    return np.where(~prod, "", np.where(mis, "misaligned", np.where(pers, "persistent",
                                                                     "skinny")))


def kinds_table(label: str, m, pred) -> None:
    err = pred / m["kernel_s"] - 1.0
    ok = np.isfinite(err)
    err, kinds = err[ok], m["kind"][ok]
    rows = []
    for k in np.unique(kinds):
        e = err[kinds == k]
        rows.append([k, len(e), f"{100 * np.mean(np.abs(e)):.1f}", f"{100 * np.median(e):+.1f}",
                     f"{100 * np.sum(np.abs(e)) / len(err):.2f}"])
    rows.sort(key=lambda r: -float(r[4]))
    print(f"\n{label}: {len(err)} rows, MAPE {100 * np.mean(np.abs(err)):.1f} %")
    print(format_table(["kind", "rows", "MAPE %", "median %", "points"], rows))


def classes_table(label: str, whole, restricted) -> None:
    (mw, tw, pw), (mr, tr, pr) = whole, restricted
    at = {c: i for i, c in enumerate(mw["case_id"])}
    cls = product_class(tr)
    rows = []
    for c in PRODUCT_CLASSES:
        sel = np.flatnonzero(cls == c)
        both = np.array([(j, at[mr["case_id"][j]]) for j in sel if mr["case_id"][j] in at])
        er = np.abs(pr[sel] / mr["kernel_s"][sel] - 1.0)
        if len(both):
            j, i = both[:, 0], both[:, 1]
            ew = np.abs(pw[i] / mw["kernel_s"][i] - 1.0)
            stretch = (pr[j] / pw[i]) / (mr["kernel_s"][j] / mw["kernel_s"][i])
            cells = [f"{100 * np.nanmean(ew):.1f}", f"{100 * np.nanmean(np.abs(stretch - 1)):.1f}",
                     f"{np.median(mr['kernel_s'][j] / mw['kernel_s'][i]):.2f}"]
        else:
            cells = ["-", "-", "-"]
        rows.append([c, len(sel), f"{100 * np.nanmean(er):.1f}"] + cells)
    print(f"\n{label}: gemm / linear by kernel class")
    print(format_table(["class", "rows", "MAPE % here", "MAPE % whole chip", "stretch error %",
                        "measured stretch (median)"], rows))


def repeats_table() -> None:
    rows = []
    for folder, name in REPEATS:
        a = stable(CAL / folder / name / "measurements.csv")
        b = stable(CAL / folder / f"{name}-repeat" / "measurements.csv")
        at = {c: i for i, c in enumerate(a["case_id"])}
        both = np.array([(at[c], j) for j, c in enumerate(b["case_id"]) if c in at])
        r = b["kernel_s"][both[:, 1]] / a["kernel_s"][both[:, 0]]
        rows.append([f"{folder} {name}", len(r), f"{np.median(r):.3f}",
                     f"{100 * np.mean(np.abs(r - 1)):.2f}",
                     f"{100 * np.percentile(np.abs(r - 1), 90):.1f}"])
    print("\nthe same shapes timed again (<set>-repeat / <set>)")
    print(format_table(["set", "rows", "median ratio", "mean |ratio - 1| %", "90th pct %"], rows))


def main() -> int:
    profile, fitted = h200_profile()
    for name, restricted in PAIRS:
        whole = predicted(profile, fitted, "h200", name)
        kinds_table(f"{name}, whole H200", whole[0], whole[2])
        for folder in restricted:
            r = predicted(profile, fitted, folder, name)
            kinds_table(f"{name}, {folder}", r[0], r[2])
            classes_table(f"{name}, {folder}", whole, r)
    repeats_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
