"""How much each kernel family's time follows HBM bandwidth: the H100 SXM over the H200 on the
shapes both timed, measured and as the H200 profile predicts (issue 11, session 26).

    python benchmarks/hbm_sensitivity.py [--min-us 50]

The two Hopper chips have the same SMs and clocks (132 at 1,980 MHz) and differ in HBM (3.35
against 4.8 TB/s, 1.43x) and L2. A family whose time follows HBM takes up to 1.43x longer on the
H100; one bound by its SMs the same. For every shape in both devices' stable calibration rows (the
same case id, fit or held out) longer than --min-us on the H200, per family: the measured ratio
(median, 10th and 90th percentiles) and the ratio the committed H200 profile predicts for the same
records on the two specs. A predicted ratio well above the measured one is a fit that put the
time in T_hbm (a low eta_memory) where the shapes on one device could not tell it from the
SM-side terms: calibration/README.md, session 26. This reads the H100's calibration rows; no fit
or constant was chosen with it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, fit_inputs  # noqa: E402
from roofsim.calibration.fit import measurement_table  # noqa: E402
from roofsim.calibration.profile import family_name, load_profile  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.kernels._common import layout_of  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-us", type=float, default=50.0,
                    help="shapes at least this long on the H200 (default 50 us)")
    args = ap.parse_args(argv)
    rows = {}
    for dev in ("h200", "h100-sxm"):
        m = fit_inputs(dev).measurements
        rows[dev] = m.select(m.stable)
    h200, h100 = rows["h200"], rows["h100-sxm"]
    where = {c: i for i, c in enumerate(h100["case_id"])}
    both = np.array([i for i, c in enumerate(h200["case_id"]) if c in where], dtype=int)
    a = h200.select(both)
    b = h100.select(np.array([where[c] for c in a["case_id"]], dtype=int))
    keep = a["kernel_s"] >= args.min_us * 1e-6
    a, b = a.select(keep), b.select(keep)
    table = measurement_table(a)
    profile = load_profile(CAL / "h200")
    predicted = profile.predict_launch_s(table, load_hardware("h100-sxm")) / \
        profile.predict_launch_s(table, load_hardware("h200"))
    measured = b["kernel_s"] / a["kernel_s"]
    layouts = layout_of(a["kind"], lambda n: a[n])
    families = np.array([family_name(k, lay) for k, lay in zip(a["kind"], layouts)])
    out = []
    for fam in sorted(set(families)):
        sel = (families == fam) & np.isfinite(predicted)
        if sel.sum() < 3:
            continue
        r = measured[sel]
        out.append([fam, str(int(sel.sum())), f"{np.median(r):.3f}",
                    f"{np.percentile(r, 10):.2f} .. {np.percentile(r, 90):.2f}",
                    f"{np.median(predicted[sel]):.3f}"])
    print(f"H100 SXM / H200 time on the shapes both timed (>= {args.min_us:g} us on the H200)")
    print(format_table(["family", "shapes", "measured", "10th .. 90th", "H200 profile"], out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
