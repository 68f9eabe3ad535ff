"""End-to-end accuracy (issue 7): predicted vs measured GPU kernel time per stage and crop grid.

    python benchmarks/bench_e2e_accuracy.py                       # calibration/h200, reference
    python benchmarks/bench_e2e_accuracy.py --device h200 --plot e2e-accuracy.svg
    python benchmarks/bench_e2e_accuracy.py --calibration /tmp/fit --implementation flash

Measured: calibration/<device>/e2e/e2e.csv (benchmarks/measure_e2e.py on that GPU: the sum of
kernel durations of one forward from torch.profiler). Predicted: `roofsim.predict.predict` for
the same grid and prompt, decode = one step at the measured cache length, on the device's
hardware spec with the kernel-level calibration profile (calibration/<device>/profile.json, or
--calibration). The end-to-end measurements are a test set: nothing is fitted to them.

Prints one row per (grid, stage) with the error, then the largest error per stage against the
15% target; --plot writes a log-log plot of predicted vs measured (SVG or PNG by extension).
The capture depends on the transformers version: a version other than the measurement's is
reported, since its kernels can differ (e.g. the MoE masking of transformers 5.17).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from roofsim.calibration.profile import load_profile  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.e2e import E2E_STAGES, TARGET_ERROR, compare_e2e, load_e2e  # noqa: E402
from roofsim.predict import IMPLEMENTATIONS  # noqa: E402

STAGE_MARKERS = {"vision": "o", "prefill": "s", "decode": "^"}


def version_note(prov: dict) -> str:
    try:
        import transformers
        here = transformers.__version__
    except ImportError:
        return "transformers is not installed here: the reference cannot be captured"
    there = prov.get("transformers")
    if there and there != here:
        return (f"note: measured with transformers {there}, captured here with {here}; "
                f"their kernels can differ")
    return ""


def print_model_comparisons(hw, profile, header, table, comps, json_path=None) -> None:
    """The transformers-model benches' output: the table of cases, the per-model summary
    (summarize) and, with `json_path`, every comparison as JSON."""
    print(f"\npredicted on {hw.id}, calibration {profile.device_name}\n")
    print(format_table(header, table))
    print()
    summarize(comps, label=lambda c: f"{c.model:18}")
    if json_path:
        Path(json_path).write_text(json.dumps([c.as_dict() for c in comps], indent=1) + "\n")


def summarize(comps, label=lambda c: "") -> bool:
    """Per (label, stage): the largest error and how many cases are within the target; prints
    whether the target is met everywhere and returns it."""
    ok = True
    for who in dict.fromkeys(label(c) for c in comps):
        for stage in E2E_STAGES:
            sel = [c for c in comps if c.stage == stage and label(c) == who]
            if not sel:
                continue
            worst = max(sel, key=lambda c: abs(c.error))
            within = sum(abs(c.error) <= TARGET_ERROR for c in sel)
            ok &= within == len(sel)
            print(f"{who + ' ' if who else ''}{stage:8} largest error {worst.error:+.1%} at "
                  f"{worst.case}; within {TARGET_ERROR:.0%}: {within}/{len(sel)}")
    print(f"target ({TARGET_ERROR:.0%} everywhere): {'met' if ok else 'not met'}")
    return ok


def plot(comparisons, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.0, 5.5))
    lo = min(min(c.measured_s, c.predicted_s) for c in comparisons) * 1e3 / 1.5
    hi = max(max(c.measured_s, c.predicted_s) for c in comparisons) * 1e3 * 1.5
    xs = [lo, hi]
    ax.plot(xs, xs, color="black", lw=1, label="predicted = measured")
    ax.fill_between(xs, [x * (1 - TARGET_ERROR) for x in xs], [x * (1 + TARGET_ERROR) for x in xs],
                    color="0.85", label=f"within {TARGET_ERROR:.0%}")
    for stage in E2E_STAGES:
        sel = [c for c in comparisons if c.stage == stage]
        if not sel:
            continue
        ax.scatter([c.measured_s * 1e3 for c in sel], [c.predicted_s * 1e3 for c in sel],
                   marker=STAGE_MARKERS[stage], label=stage + (" step" if stage == "decode" else ""),
                   zorder=3)
        for c in sel:
            ax.annotate(c.grid, (c.measured_s * 1e3, c.predicted_s * 1e3), fontsize=6,
                        xytext=(3, -3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured GPU kernel time (ms)")
    ax.set_ylabel("predicted GPU kernel time (ms)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="h200", help="calibration/<device> and hardware/<device>")
    ap.add_argument("--e2e", help="measurement folder (default calibration/<device>/e2e)")
    ap.add_argument("--calibration", help="profile folder or file (default calibration/<device>)")
    ap.add_argument("--implementation", default="reference", choices=IMPLEMENTATIONS)
    ap.add_argument("--plot", help="write a log-log plot here (.svg or .png)")
    ap.add_argument("--json", help="write the comparison rows here")
    args = ap.parse_args(argv)

    e2e = Path(args.e2e) if args.e2e else ROOT / "calibration" / args.device / "e2e"
    rows, prov = load_e2e(e2e)
    hw = load_hardware(args.device)
    profile = load_profile(args.calibration or ROOT / "calibration" / args.device)
    comps = compare_e2e(rows, hw, profile, implementation=args.implementation)

    print(f"{args.implementation} on {hw.id}, calibration {profile.device_name}, measured "
          f"{prov.get('device_name', '?')} ({prov.get('date', '?')}, torch {prov.get('torch', '?')}, "
          f"transformers {prov.get('transformers', '?')})")
    note = version_note(prov)
    if note:
        print(note)
    print()
    table = [[c.grid, c.stage, c.image_tokens, round(c.predicted_s * 1e3, 3),
              round(c.measured_s * 1e3, 3), f"{c.error:+.1%}", round(c.predicted_launches),
              c.measured_kernels] for c in comps]
    print(format_table(["grid", "stage", "image tokens", "predicted ms", "measured ms", "error",
                        "pred kernels", "meas kernels"], table))
    print()
    summarize(comps)
    if args.plot:
        plot(comps, Path(args.plot), f"{args.implementation} on {hw.id}: predicted vs measured "
                                     f"kernel time")
        print(f"plot: {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps([c.as_dict() for c in comps], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
