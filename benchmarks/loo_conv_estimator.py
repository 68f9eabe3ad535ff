"""Leave-one-out error of conv2d's residual interpolation against its estimator and neighbours.

    python benchmarks/loo_conv_estimator.py [--device h200]

Fits the profile of calibration/<device> as the committed one is fitted (its fit rows and the
companions it names), then, per conv2d family (the implicit GEMM, the patch embedding, the
pointwise 1x1), predicts every fitted shape's residual from the others with the local linear
regression and with the neighbours' weighted median (roofsim.calibration.interpolate), at
several neighbour counts, and prints the leave-one-out MAPE (as a time error). cuDNN picks
among kernels whose times differ up to 2x between neighbouring shapes; where neighbours split
between a fast and a slow choice, the weighted median is the MAPE-optimal summary, where a
linear fit through them lands between. roofsim.calibration.profile.FAMILY_SETTINGS holds the
least-error setting of each family. Held-out rows and the test sets play no part.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from roofsim.calibration.interpolate import LocalLinearSettings  # noqa: E402
from roofsim.calibration.profile import FAMILY_SETTINGS  # noqa: E402
from loo_bandwidth import refit, residual_loo_errors  # noqa: E402  (one leave-one-out)

NEIGHBOURS = (12, 16, 24, 32, 48)
ESTIMATORS = ("linear", "median")


def loo_mape(g, sm_count: float, settings: LocalLinearSettings) -> float:
    return 100.0 * float(np.nanmean(residual_loo_errors(g, sm_count, settings)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="h200")
    args = ap.parse_args(argv)
    profile, _ = refit(args.device)
    base = LocalLinearSettings()
    for g in sorted((g for g in profile.groups.values() if g.kind == "conv2d"),
                    key=lambda g: (g.family, g.dtype)):
        print(f"{g.family} {g.dtype}: {len(g.residual)} fitted shapes, LOO MAPE %  "
              f"(chosen: {FAMILY_SETTINGS.get(g.family, {}) or 'the default'})")
        print(f"  {'neighbours':>10}  " + "  ".join(f"{e:>7}" for e in ESTIMATORS))
        for k in NEIGHBOURS:
            row = [loo_mape(g, profile.sm_count, replace(base, estimator=e, neighbours=k))
                   for e in ESTIMATORS]
            print(f"  {k:>10}  " + "  ".join(f"{v:7.2f}" for v in row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
