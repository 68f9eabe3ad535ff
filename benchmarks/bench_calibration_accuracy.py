"""Calibration accuracy on held-out kernels, per device and across devices.

For every calibration folder with measurements (calibration/<device>/measurements.csv), fit a
profile on the rows of the 'fit' split (70%) and predict the rows of the 'holdout' split (30%,
never used in the fit; the split is a fixed hash of the case id, stored in the CSV), beside the
uncalibrated roofline of the same spec on the same rows. Prints MAPE and the share within +-10%
per kind and overall, then the cross-device table (fit on one device's fit rows, predict the
other's held-out rows through the efficiencies relative to each spec's roofs), and draws
predicted vs measured (log-log) per device.

    python benchmarks/bench_calibration_accuracy.py [--devices h100-sxm h200] [--plot-dir DIR]
                                                    [--write]

--write also stores each device's profile.json and accuracy.json (what
`roofsim calibrate --fit-only` writes). Needs no GPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim.calibration.accuracy import accuracy_table, evaluate, format_accuracy  # noqa: E402
from roofsim.calibration.fit import (fit_directory, fit_profile, hardware_for,  # noqa: E402
                                     sm_restriction_of)
from roofsim.calibration.measurements import FIT, HOLDOUT, read_measurements  # noqa: E402
from roofsim.calibration.profile import load_profile  # noqa: E402
from roofsim.data import data_dir  # noqa: E402
from roofsim.io import stored_file  # noqa: E402


def plot(result: dict, title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 6.0))
    meas = result["measured"] * 1e6
    ax.scatter(meas, result["roofline"] * 1e6, s=3, alpha=0.35, color="tab:gray",
               label="roofline (uncalibrated)")
    ax.scatter(meas, result["calibrated"] * 1e6, s=3, alpha=0.5, color="tab:blue",
               label="calibrated")
    lo, hi = meas.min() * 0.5, meas.max() * 2
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="black",
                    alpha=0.08, label="+-10%")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi),
           xlabel="measured time per launch (us)", ylabel="predicted time per launch (us)",
           )
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", markerscale=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", nargs="*", help="calibration folder names (default: all)")
    parser.add_argument("--plot-dir", type=Path, help="where to draw (default: each device's "
                        "calibration folder)")
    parser.add_argument("--write", action="store_true",
                        help="also write each device's profile.json and accuracy.json")
    args = parser.parse_args(argv)
    root = data_dir("calibration")
    # Whole-GPU calibrations; SM-restricted runs (calibration/<device>-sm<N>/) are test sets of
    # benchmarks/bench_transfer.py, not devices to fit.
    names = args.devices or sorted(d.name for d in root.iterdir()
                                   if stored_file(d / "measurements.csv").is_file()
                                   and not sm_restriction_of(d))
    profiles, held, specs = {}, {}, {}
    for name in names:
        out = root / name
        t0 = time.perf_counter()
        if args.write:
            fit_directory(out, command="python benchmarks/bench_calibration_accuracy.py --write")
            profile = load_profile(out)
            spec = profile.hardware
        else:
            m = read_measurements(out / "measurements.csv")
            spec, dev = hardware_for(out, None)
            profile = fit_profile(m.select(m["split"] == FIT), spec, device_name=dev)
        fit_s = time.perf_counter() - t0
        m = read_measurements(out / "measurements.csv")
        held[name] = m.select(m["split"] == HOLDOUT)
        profiles[name], specs[name] = profile, spec
        result = evaluate(held[name], profile, spec)
        rows = accuracy_table(result)
        overall = rows[-1]
        print(f"\n== {name} ({profile.device_name}): fit on {int((m['split'] == FIT).sum())} "
              f"rows in {fit_s:.1f} s; held-out {overall['rows']} rows ==")
        print(format_accuracy(rows))
        plot_dir = args.plot_dir or out
        plot_dir.mkdir(parents=True, exist_ok=True)
        path = plot_dir / "predicted_vs_measured.png"
        plot(result, f"{profile.device_name}, {overall['rows']} held-out kernels\nMAPE: "
                     f"calibrated {overall['calibrated_mape_pct']:.1f}%, roofline "
                     f"{overall['roofline_mape_pct']:.1f}%", path)
        print(f"plot: {path}")
    if len(names) > 1:
        print("\n== cross-device: profile fitted on one device, predicting the other's "
              "held-out rows ==")
        summary = []
        for src in names:
            for dst in names:
                if src == dst:
                    continue
                result = evaluate(held[dst], profiles[src], specs[dst])
                rows = accuracy_table(result)
                print(f"\nfit on {src}, predict {dst}:")
                print(format_accuracy(rows))
                o = rows[-1]
                summary.append((src, dst, o["rows"], o["calibrated_mape_pct"],
                                o["calibrated_within_10"], o["roofline_mape_pct"]))
        print("\nsummary (overall):")
        for src, dst, n, mape, w10, roof in summary:
            own = accuracy_table(evaluate(held[dst], profiles[dst], specs[dst]))[-1]
            print(f"  {src} -> {dst}: {n} rows, MAPE {mape:.1f}% (within 10%: {w10:.2f}); "
                  f"{dst}'s own profile {own['calibrated_mape_pct']:.1f}%; uncalibrated "
                  f"roofline {roof:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
