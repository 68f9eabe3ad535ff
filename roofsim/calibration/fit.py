"""Fit a calibration profile from a measurements CSV, and check it on the held-out rows.

`fit_profile` keeps, per (kind, dtype), the measured shapes of the 'fit' split with their
efficiency relative to the measuring device's roofs (see roofsim.calibration.profile).
`fit_directory` does the whole step for a calibration folder: read measurements.csv, name the
hardware spec, fit, write profile.json and accuracy.json (held-out MAPE per kind, calibrated and
uncalibrated), and return a printable summary.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..hardware import HardwareSpec, load_hardware
from ..kernels import records_from_params
from ..records import SHAPE_PARAMS, RecordTable
from .accuracy import accuracy_table, evaluate, format_accuracy
from .device import device_id
from .baseline import fit_baseline, peak_terms
from .features import features
from .interpolate import (LocalLinear, LocalLinearSettings, learn_weights, mape_of_logs,
                          mape_shift)
from .measurements import FIT, HOLDOUT, SPLIT_SEED, HOLDOUT_FRACTION, Measurements, read_measurements
from .profile import SIBLING_DTYPES, CalibrationProfile, GroupModel
from .run import MEASUREMENTS_FILE, PROFILE_FILE, PROVENANCE_FILE, read_provenance

ACCURACY_FILE = "accuracy.json"
MIN_GROUP_SHAPES = 3    # fewer measured shapes: no opinion on the group
MIN_LEARN_SHAPES = 20   # fewer: default feature weights, no offset
BORROW_WEIGHT = 2.0     # initial distance between a group's own shapes and its sibling dtype's
NEIGHBOUR_CHOICES = (6, 12, 24)   # neighbours per prediction, chosen per group by leave-one-out


def measurement_table(m: Measurements) -> RecordTable:
    """Records (work per launch from roofsim.kernels) for measured rows, in row order."""
    params = {p: m[p] for p in SHAPE_PARAMS if not np.isnan(m[p]).all()}
    return records_from_params(m["kind"], params, m["dtype"], name=m["case_id"])


def fit_group(kind: str, dtype: str, table: RecordTable, measured_s: np.ndarray,
              hardware: HardwareSpec, settings: LocalLinearSettings, learn: bool = True,
              borrowed: np.ndarray | None = None, sibling: str = "") -> GroupModel:
    """One (kind, dtype): baseline by robust least squares, then the residual surface's feature
    weights, estimator, neighbour count and MAPE offset by leave-one-out on the group's own rows.
    `borrowed` marks rows of the sibling dtype (same kernels, same element size) that join the
    neighbours, kept apart from the group's own by one more feature whose weight is learned."""
    n = len(measured_s)
    borrowed = np.zeros(n, dtype=bool) if borrowed is None else np.asarray(borrowed, bool)
    own = ~borrowed
    terms = peak_terms(table, hardware)
    baseline = fit_baseline(terms, measured_s)     # the sibling dtype runs the same kernels
    residual = np.log(measured_s / baseline.time_s(terms))
    cols = {p: table.params[:, i] for i, p in enumerate(SHAPE_PARAMS)}
    x = np.column_stack([features(kind, cols, dtype, hardware.sm_count),
                         borrowed * BORROW_WEIGHT])
    weights = np.ones(x.shape[1])
    offset = 0.0
    estimator, neighbours = settings.estimator, settings.neighbours
    if learn and own.sum() >= MIN_LEARN_SHAPES:
        weights = learn_weights(x, residual, settings, scored=own)
        # Estimator and neighbour count that predict the group's own shapes best.
        best = None
        for est in ("linear", "median"):
            for k in NEIGHBOUR_CHOICES:
                trial = replace(settings, estimator=est, neighbours=k)
                loo = LocalLinear(x * weights, residual, trial).leave_one_out()[own]
                shift = mape_shift(loo, residual[own])
                err = mape_of_logs(loo + shift, residual[own])
                if best is None or err < best[0]:
                    best = (err, est, shift, k)
        _, estimator, offset, neighbours = best
    roof = np.maximum(terms.max(axis=1), 1e-12)
    return GroupModel(kind=kind, dtype=dtype, params=table.params, efficiency=roof / measured_s,
                      measured=np.asarray(measured_s, dtype=np.float64),
                      baseline=baseline, weights=weights, offset=offset, estimator=estimator,
                      neighbours=neighbours, borrowed=borrowed,
                      sibling=sibling if borrowed.any() else "")


def fit_profile(m: Measurements, hardware: HardwareSpec, *, device_name: str = "",
                ident: str = "", settings: LocalLinearSettings | None = None,
                meta: dict | None = None, learn: bool = True) -> CalibrationProfile:
    """A profile from the stable rows of `m` (pass only the rows to fit on)."""
    m = m.select(m.stable)
    if len(m) == 0:
        raise UserError(f"{m.path or 'measurements'}: no successful measurements to fit")
    settings = settings or LocalLinearSettings()
    table = measurement_table(m)
    groups = {}
    keys = np.array([f"{k}|{d}" for k, d in zip(m["kind"], m["dtype"])])
    for key in dict.fromkeys(keys.tolist()):
        rows = np.flatnonzero(keys == key)
        if len(rows) < MIN_GROUP_SHAPES:
            continue
        kind, dtype = key.split("|", 1)
        sibling = SIBLING_DTYPES.get(dtype, "")
        extra = np.flatnonzero(keys == f"{kind}|{sibling}") if sibling else np.zeros(0, int)
        pool = np.concatenate([rows, extra])
        borrowed = np.arange(len(pool)) >= len(rows)
        groups[(kind, dtype)] = fit_group(kind, dtype, table.select(pool), m["kernel_s"][pool],
                                          hardware, settings, learn, borrowed, sibling)
    return CalibrationProfile(device_name=device_name, device_id=ident or device_id(device_name),
                              hardware=hardware, groups=groups, settings=settings,
                              meta=meta or {})


def device_of(out: Path) -> str:
    """The measuring device's name from the folder's provenance ('' if unknown)."""
    for run in reversed(read_provenance(out / PROVENANCE_FILE).get("runs", [])):
        name = (run.get("device_before") or {}).get("name") or \
            (run.get("software") or {}).get("device_torch")
        if name:
            return name
        if run.get("device") == "cpu":
            return "cpu"
    return ""


def hardware_for(out: Path, hardware: str | None) -> tuple[HardwareSpec, str]:
    name = device_of(out)
    spec_name = hardware or (device_id(name) if name else out.name)
    try:
        return load_hardware(spec_name), name
    except UserError as err:
        raise UserError(f"{out}: cannot pick the measuring device's hardware spec ({err}); "
                        f"pass --hardware NAME") from None


def fit_directory(out: str | Path, hardware: str | None = None, command: str = "") -> str:
    out = Path(out)
    m = read_measurements(out / MEASUREMENTS_FILE)
    spec, name = hardware_for(out, hardware)
    fit_rows = m.select(m["split"] == FIT)
    meta = {"fitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "measurements": MEASUREMENTS_FILE,
            "fit_rows": int(fit_rows.stable.sum()),
            "unstable_rows_left_out": int((m.ok & ~m.stable).sum()), "split_seed": SPLIT_SEED,
            "holdout_fraction": HOLDOUT_FRACTION,
            "launch_overhead_us_measured": launch_overhead_us(m)}
    profile = fit_profile(fit_rows, spec, device_name=name or out.name,
                          ident=device_id(name) if name else out.name, meta=meta)
    profile.save(out / PROFILE_FILE)
    held = m.select(m["split"] == HOLDOUT)
    result = evaluate(held, profile, spec)
    rows = accuracy_table(result)
    (out / ACCURACY_FILE).write_text(json.dumps(
        {"device": profile.device_name, "hardware": spec.id, "split": HOLDOUT,
         "produced_by": command, "rows": rows}, indent=1) + "\n")
    return (f"fitted {len(profile.groups)} (kind, dtype) groups on {meta['fit_rows']} shapes -> "
            f"{out / PROFILE_FILE}\nheld-out accuracy on {spec.id} ({len(result['measured'])} "
            f"shapes):\n" + format_accuracy(rows))


def launch_overhead_us(m: Measurements) -> dict:
    """Launch costs seen in the measurements: the fastest kernel in a graph (the graph launch
    floor) and the median eager time of the kernels that fast (host launch overhead)."""
    ok = m.select(m.ok)
    if len(ok) == 0:
        return {}
    t = ok["kernel_s"]
    tiny = t <= np.quantile(t, 0.02)
    eager = ok["eager_s"][tiny]
    eager = eager[np.isfinite(eager)]
    return {"cuda_graph": round(float(t.min()) * 1e6, 3),
            "stream": round(float(np.median(eager)) * 1e6, 3) if len(eager) else None}
