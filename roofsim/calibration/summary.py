"""A short table of a calibration folder's measurements: per (kind, dtype) the rows timed and
failed, the median launch time, and the median and best efficiency against the datasheet roofs
of the measuring device's spec (when one is named like the device).

    python -m roofsim.calibration.summary calibration/h100-sxm
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..textable import format_table
from ..errors import UserError
from .measurements import read_measurements
from .run import MEASUREMENTS_FILE


def summary_table(out: Path) -> str:
    m = read_measurements(out / MEASUREMENTS_FILE)
    eff = np.full(len(m), np.nan)
    spec_note = ""
    try:
        from .fit import hardware_for
        from .measurements import measurement_table
        from ..perfmodel import peak_roof_s
        spec, _ = hardware_for(out, None)
        ok = m.ok
        eff[ok] = peak_roof_s(measurement_table(m.select(ok)), spec) / m["kernel_s"][ok]
        spec_note = f"efficiency = roof time at {spec.id} datasheet peaks / measured time"
    except UserError as err:
        spec_note = f"(no efficiency: {err})"
    keys = [f"{k}|{d}" for k, d in zip(m["kind"], m["dtype"])]
    rows = []
    for key in sorted(set(keys)):
        sel = np.array([k == key for k in keys])
        good = sel & m.ok
        t = m["kernel_s"][good]
        e = eff[good]
        kind, dtype = key.split("|")
        rows.append([kind, dtype, int(good.sum()), int((sel & ~m.ok).sum()),
                     round(float(np.median(t)) * 1e6, 1) if len(t) else "",
                     round(float(np.nanmedian(e)), 3) if np.isfinite(e).any() else "",
                     round(float(np.nanmax(e)), 3) if np.isfinite(e).any() else ""])
    rows.append(["all", "", int(m.ok.sum()), int((~m.ok).sum()), "", "", ""])
    return format_table(["kind", "dtype", "ok", "failed", "median us", "median eff", "max eff"],
                        rows) + "\n" + spec_note


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m roofsim.calibration.summary CALIBRATION_DIR", file=sys.stderr)
        return 2
    try:
        print(summary_table(Path(argv[0])))
    except UserError as err:
        print(f"roofsim: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
