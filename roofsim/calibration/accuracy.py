"""Prediction accuracy on measured kernels: calibrated vs uncalibrated roofline, per kind.

Both predictions go through the engine (roofsim.engine.simulate, CUDA-graph launch mode, as the
kernels were timed, each launch with the graph gap after it: Timing.issued_s, and every input
cold, l2_warm=False): uncalibrated = the spec's roofline with its default efficiencies and launch
floor; calibrated = the same with the profile. Error of a row = |predicted - measured| /
measured; MAPE is its mean (in %), `within_10` the share of rows with error <= 10%.
"""

from __future__ import annotations

import numpy as np

from ..engine import simulate
from ..hardware import HardwareSpec
from .measurements import Measurements

ALL = "overall"


def evaluate(m: Measurements, profile, hardware: HardwareSpec) -> dict[str, np.ndarray]:
    """Measured and predicted per-launch seconds for the stable rows of `m`."""
    from .measurements import measurement_table
    m = m.select(m.stable)
    if len(m) == 0:
        z = np.zeros(0)
        return {"kind": np.zeros(0, dtype=object), "dtype": np.zeros(0, dtype=object),
                "case_id": np.zeros(0, dtype=object), "measured": z, "calibrated": z,
                "roofline": z}
    table = measurement_table(m)
    calibrated = simulate(table, hardware, profile, l2_warm=False).issued_s \
        if profile is not None else np.full(len(m), np.nan)
    return {"kind": m["kind"], "dtype": m["dtype"], "case_id": m["case_id"],
            "measured": m["kernel_s"], "calibrated": calibrated,
            "roofline": simulate(table, hardware, l2_warm=False).issued_s}


def _stats(measured, predicted) -> tuple[float, float]:
    err = np.abs(predicted - measured) / measured
    return float(100 * err.mean()), float(np.mean(err <= 0.10))


def accuracy_table(result: dict[str, np.ndarray]) -> list[dict]:
    """Per kind (then overall): rows, MAPE %, share within +-10%, calibrated and roofline."""
    out = []
    kinds = list(dict.fromkeys(result["kind"].tolist()))
    for kind in sorted(kinds) + [ALL]:
        sel = np.ones(len(result["kind"]), bool) if kind == ALL else result["kind"] == kind
        if not sel.any():
            continue
        meas = result["measured"][sel]
        cal_mape, cal_w = _stats(meas, result["calibrated"][sel])
        roof_mape, roof_w = _stats(meas, result["roofline"][sel])
        out.append({"kind": kind, "rows": int(sel.sum()),
                    "calibrated_mape_pct": cal_mape, "calibrated_within_10": cal_w,
                    "roofline_mape_pct": roof_mape, "roofline_within_10": roof_w})
    return out


def format_accuracy(rows: list[dict]) -> str:
    from ..textable import format_table
    headers = ["kind", "rows", "calibrated MAPE %", "within 10%", "roofline MAPE %",
               "within 10%"]
    body = [[r["kind"], r["rows"], round(r["calibrated_mape_pct"], 1),
             round(r["calibrated_within_10"], 2), round(r["roofline_mape_pct"], 1),
             round(r["roofline_within_10"], 2)] for r in rows]
    return format_table(headers, body)
