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
Session 17 added one:
- MISALIGNED_TILE / MISALIGNED_SPLIT_CHUNK (roofsim.perfmodel: the tile and split-K of the
  misaligned products' CUTLASS 2.x kernels): the leave-one-out MAPE of the misaligned gemm /
  linear fit rows' residuals, of every group's, and how well the blocks it gives match the
  grids CUPTI recorded for the H200's misaligned fit rows (LAUNCH_GRIDS: mean |log ratio|).
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

from loo_bandwidth import loo_errors, residual_loo_errors  # noqa: E402  (leave-one-out)

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
    # (128, 256), the committed value: TILE and SPLIT_CHUNK, as every other product takes them
    # (the smaller ones were left out for what they do on fewer SMs: roofsim.perfmodel's
    # comment above MISALIGNED_TILE); the recorded grids' fit is printed beside
    # (misaligned_grid_fit).
    Choice("MISALIGNED_TILE / MISALIGNED_SPLIT_CHUNK", perfmodel,
           ("MISALIGNED_TILE", "MISALIGNED_SPLIT_CHUNK"),
           ((128.0, 256.0), (64.0, 256.0), (64.0, 128.0), (64.0, 64.0), (64.0, 32.0),
            (32.0, 64.0)), "loo", "misaligned"),
)
# The launch grids CUPTI recorded for the H200's product rows (session 12): the misaligned
# choice's second criterion, read on the fit split only.
LAUNCH_GRIDS = CAL / "h200" / "launch-grids" / "h200-products" / "kernels.csv.gz"


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
    if choice.criterion == "loo" and choice.rows == "misaligned":
        part = []
        for g in profile.groups.values():
            if g.kind in perfmodel.MISALIGNED_TILE_KINDS:
                err = residual_loo_errors(g, profile.sm_count, profile.residual_settings(g.family))
                part.append(err[perfmodel.misaligned_products(g.table())])
        part = np.concatenate(part)
        return 100.0 * float(part[np.isfinite(part)].mean()), \
            loo_errors(profile, LocalLinearSettings())[0]
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


def recorded_grids() -> dict[str, float]:
    """case id -> the grid of its product kernel (the largest grid of the call's kernels bar
    cuBLASLt's split-K reduction, epilogue and memsets), from LAUNCH_GRIDS."""
    import csv
    import gzip
    out: dict[str, float] = {}
    with gzip.open(LAUNCH_GRIDS, "rt") as f:
        for r in csv.DictReader(f):
            name = r["name"]
            if "splitKreduce" in name or "epilogue" in name or name.startswith("Memset"):
                continue
            out[r["case_id"]] = max(out.get(r["case_id"], 0.0), float(r["grid"]))
    return out


def misaligned_grid_fit(dev: Device, grids: dict[str, float]) -> float:
    """Mean |log(matrix_ctas / recorded grid)| over the device's misaligned product fit rows
    that LAUNCH_GRIDS recorded (the grid the library sizes for the device's own SM count)."""
    m = dev.fit.select(np.isin(dev.fit["case_id"], sorted(grids)))
    table = measurement_table(m)
    sel = perfmodel.misaligned_products(table)
    pred = perfmodel.matrix_ctas(table, float(dev.spec.grid_sms))[sel]
    rec = np.array([grids[c] for c in m["case_id"][sel]])
    return float(np.mean(np.abs(np.log(pred / rec))))


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
        grids = recorded_grids() if choice.name.startswith("MISALIGNED") else None
        h200 = next((d for d in devices if d.name == "h200"), None) if grids else None
        print(f"{'value':>14}  " + "  ".join(f"{d.name:>18}" for d in devices) +
              ("  grid |log| (h200)" if h200 else ""))
        try:
            for value in choice.values:
                for a, v in zip(choice.attrs, value):
                    setattr(choice.module, a, v)
                cells = [criterion(choice, d) for d in devices]
                mark = "*" if value == committed else " "
                label = " / ".join(f"{v:g}" for v in value)
                grid = f"  {misaligned_grid_fit(h200, grids):18.2f}" if h200 else ""
                print(f"{label:>13}{mark}  " + "  ".join(f"{a:8.2f} / {b:7.2f}" for a, b in cells)
                      + grid)
        finally:
            for a, v in zip(choice.attrs, committed):
                setattr(choice.module, a, v)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
