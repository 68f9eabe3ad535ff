"""The fit-row figures behind the model's chosen constants (issue 11), regenerated.

    python benchmarks/choose_constants.py [--devices h200,h100-sxm] [--only NAME]

Session 9 chose three constants by what they do to the calibration's fit rows alone (no held-out
row, no test set): for each candidate value it refits each device's profile (its fit rows, with
the companions its committed profile names) and prints
- ALIGN_WIDTH_EXPONENT (roofsim.perfmodel: how the misaligned fallback's rate rises with its load
  width): the physics-only MAPE of the misaligned gemm / linear fit rows, and of all fit rows;
- CONV_TILE_N / CONV_TILE_K (roofsim.perfmodel.conv_executed_share: the channel steps cuDNN's
  tensor-core implicit GEMMs pad to): the physics-only MAPE of the conv2d fit rows, and of all;
- CONV_PATH_WEIGHT (roofsim.calibration.features: how far apart the residual's interpolation
  puts conv2d shapes on different cuDNN paths): the leave-one-out MAPE of the conv2d fit rows'
  residuals (as in benchmarks/loo_bandwidth.py), and of every group's.
The committed value is marked '*'. Physics-only: the kind parameters' model without the
per-shape residual, which is what a constant of the physics changes; leave-one-out: each shape's
residual predicted from the others, which is what an interpolation setting changes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from loo_bandwidth import loo_errors  # noqa: E402  (one leave-one-out)

from roofsim import perfmodel  # noqa: E402
from roofsim.calibration import features  # noqa: E402
from roofsim.calibration.fit import (companion_from_folder, fit_profile,  # noqa: E402
                                     hardware_for, measurement_table)
from roofsim.calibration.interpolate import LocalLinearSettings  # noqa: E402
from roofsim.calibration.measurements import FIT, read_measurements  # noqa: E402
from roofsim.calibration.profile import load_profile  # noqa: E402
from roofsim.calibration.run import MEASUREMENTS_FILE  # noqa: E402

CAL = ROOT / "calibration"


@dataclass(frozen=True)
class Choice:
    name: str
    module: object
    attrs: tuple[str, ...]          # the module attributes one value sets
    values: tuple[tuple, ...]       # candidate values, one per attribute
    criterion: str                  # 'physics' or 'loo'
    rows: str                       # which rows the criterion reads: 'misaligned' or a kind


CHOICES = (
    Choice("ALIGN_WIDTH_EXPONENT", perfmodel, ("ALIGN_WIDTH_EXPONENT",),
           ((0.0,), (0.25,), (0.5,), (0.75,), (1.0,)), "physics", "misaligned"),
    Choice("CONV_TILE_N / CONV_TILE_K", perfmodel, ("CONV_TILE_N", "CONV_TILE_K"),
           ((32.0, 32.0), (64.0, 32.0), (64.0, 64.0)), "physics", "conv2d"),
    Choice("CONV_PATH_WEIGHT", features, ("CONV_PATH_WEIGHT",),
           ((0.0,), (4.0,), (8.0,)), "loo", "conv2d"),
)


@dataclass(frozen=True)
class Device:
    name: str
    fit: object                     # its fit rows (Measurements)
    spec: object
    companions: tuple


def device(name: str) -> Device:
    out = CAL / name
    committed = load_profile(out)
    comps = tuple(companion_from_folder(out.parent / c["folder"])
                  for c in committed.meta.get("companions", []))
    spec, _ = hardware_for(out, None)
    m = read_measurements(out / MEASUREMENTS_FILE)
    return Device(name, m.select(m["split"] == FIT), spec, comps)


def physics_mape(profile, dev: Device, rows: np.ndarray) -> float:
    m = dev.fit.select(rows)
    pred = profile._predict(measurement_table(m), dev.spec, residual=False)
    err = np.abs(pred / m["kernel_s"] - 1.0)
    return 100.0 * float(err[np.isfinite(err)].mean())


def criterion(choice: Choice, dev: Device) -> tuple[float, float]:
    """(the criterion on the choice's rows, on every row) for the module's current values."""
    profile = fit_profile(dev.fit, dev.spec, device_name=dev.name, companions=dev.companions)
    if choice.criterion == "loo":
        only = {k: g for k, g in profile.groups.items() if g.kind == choice.rows}
        part = loo_errors(replace(profile, groups=only), LocalLinearSettings())[0]
        return part, loo_errors(profile, LocalLinearSettings())[0]
    kind = dev.fit["kind"]
    if choice.rows == "misaligned":
        rows = np.isin(kind, ("gemm", "linear")) & \
            perfmodel.misaligned_operands(measurement_table(dev.fit))
    else:
        rows = kind == choice.rows
    return physics_mape(profile, dev, rows), physics_mape(profile, dev, np.ones(len(kind), bool))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", default="h200,h100-sxm")
    ap.add_argument("--only", help="one choice's name (default: all)")
    args = ap.parse_args(argv)
    devices = [device(d) for d in args.devices.split(",")]
    for choice in CHOICES:
        if args.only and args.only != choice.name:
            continue
        committed = tuple(getattr(choice.module, a) for a in choice.attrs)
        what = "physics-only MAPE %" if choice.criterion == "physics" else "leave-one-out MAPE %"
        print(f"\n{choice.name} ({what}: {choice.rows} fit rows / all)")
        print(f"{'value':>14}  " + "  ".join(f"{d.name:>18}" for d in devices))
        try:
            for value in choice.values:
                for a, v in zip(choice.attrs, value):
                    setattr(choice.module, a, v)
                cells = [criterion(choice, d) for d in devices]
                mark = "*" if value == committed else " "
                label = " / ".join(f"{v:g}" for v in value)
                print(f"{label:>13}{mark}  " + "  ".join(f"{a:8.2f} / {b:7.2f}" for a, b in cells))
        finally:
            for a, v in zip(choice.attrs, committed):
                setattr(choice.module, a, v)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
