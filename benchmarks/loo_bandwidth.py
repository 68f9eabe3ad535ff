"""Leave-one-out error of calibration's interpolation against its kernel width.

    python benchmarks/loo_bandwidth.py [--device h200] [--companion DIR ...]

Fits the profile of calibration/<device> (the fit rows and companions the committed profile
records) once, then for each bandwidth_scale (roofsim.calibration.interpolate: the
Gaussian's width as a share of the k-th neighbour's distance) predicts every fitted shape's
residual, and every companion shape's SM-parallel share, from the others. Prints the residual's
leave-one-out MAPE (as a time error, exp(predicted - measured residual) - 1) and the share's
mean absolute error. The setting's default is the scale where the residual's error is least;
held-out rows (split 'holdout') and the test sets of bench_transfer.py play no part here.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim.calibration.fit import (companion_from_folder, fit_profile,  # noqa: E402
                                     hardware_for, recorded_fit_inputs)
from roofsim.calibration.interpolate import LocalLinear, LocalLinearSettings  # noqa: E402
from roofsim.calibration.measurements import FIT  # noqa: E402
from roofsim.calibration.profile import RESIDUAL_BOUND, group_features  # noqa: E402

SCALES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)


def residual_loo_errors(g, sm_count: float, settings: LocalLinearSettings) -> np.ndarray:
    """Each fitted shape's residual in group g predicted from the others, as a time error
    |exp(predicted - measured residual) - 1|."""
    x = group_features(g.kind, g.params, g.dtype, sm_count)
    r = np.clip(LocalLinear(x, g.residual, settings).leave_one_out(),
                -RESIDUAL_BOUND, RESIDUAL_BOUND)
    return np.abs(np.exp(r - g.residual) - 1.0)


def refit(device: str, companions: list[str] | None = None):
    """The profile of calibration/<device> fitted again on the fit rows the committed profile
    records (roofsim.calibration.fit.recorded_fit_inputs: its own and its further sets'), with
    `companions` (folders; None: those the committed profile names)."""
    out = ROOT / "calibration" / device
    inputs = recorded_fit_inputs(out)
    names = [str(f) for f in inputs.companion_folders] if companions is None else companions
    comps = inputs.companions if companions is None else \
        tuple(companion_from_folder(Path(c)) for c in companions)
    spec, name = hardware_for(out, None)
    m = inputs.measurements
    return fit_profile(m.select(m["split"] == FIT), spec, device_name=name,
                       companions=comps), names


def loo_errors(profile, settings: LocalLinearSettings) -> tuple[float, float]:
    """(residual LOO MAPE %, SM-share LOO mean absolute error) over the profile's groups."""
    res, share = [], []
    for g in profile.groups.values():
        res.append(residual_loo_errors(g, profile.sm_count, settings))
        if g.sm_fraction is not None and len(g.sm_fraction) > 3:
            xs = group_features(g.kind, g.sm_params, g.dtype, profile.sm_count, share=True)
            f = LocalLinear(xs, g.sm_fraction, settings).leave_one_out()
            share.append(np.abs(np.clip(f, 0.0, 1.0) - g.sm_fraction))
    res = np.concatenate(res)
    res = res[np.isfinite(res)]
    share = np.concatenate(share) if share else np.zeros(0)
    share = share[np.isfinite(share)]
    return 100.0 * float(res.mean()), float(share.mean()) if len(share) else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="h200")
    ap.add_argument("--companion", action="append", default=None,
                    help="companion folder (default: those the committed profile names)")
    args = ap.parse_args(argv)
    profile, names = refit(args.device, args.companion)
    print(f"{args.device}: {len(profile.groups)} groups, companions "
          f"{[Path(c).name for c in names] or 'none'}")
    print(f"{'bandwidth_scale':>15}  {'residual LOO MAPE %':>19}  {'SM share LOO MAE':>16}")
    for s in SCALES:
        mape, mae = loo_errors(profile, replace(LocalLinearSettings(), bandwidth_scale=s))
        print(f"{s:15.2f}  {mape:19.2f}  {mae:16.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
