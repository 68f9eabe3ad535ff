"""The roofline's sort chain on sorts no choice saw (issue 11): calibration/h200/sort-fresh.

    python benchmarks/bench_sort_roofline.py [calibration/h200/sort-fresh]

Times every stable row of each sm*/measurements.csv under the folder with the engine's roofline
(no profile: what a device that never timed sort gets) on the spec it was measured on (the
H200, or `hardware derive h200 --sms N` for a green context), with the sort chain
(roofsim.perfmodel.sort_chain_seconds, in chain_seconds) and without it, and prints the MAPE, the worst error and
how many rows are within 15 %, per SM count and key dtype.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim import engine  # noqa: E402
from roofsim.calibration.fit import measurement_table, sm_restriction_of  # noqa: E402
from roofsim.calibration.measurements import read_measurements  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402


def errors(table, spec, measured) -> np.ndarray:
    return engine.simulate(table, spec).launch_time_s / measured - 1.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", default=str(ROOT / "calibration/h200/sort-fresh"))
    args = ap.parse_args(argv)
    h200 = load_hardware("h200")
    print(f"{'run':6} {'dtype':8} {'rows':>4}  {'MAPE %':>7}  {'worst %':>8}  {'within 15%':>10}  "
          f"{'without chain MAPE %':>20}")
    for run in sorted(Path(args.folder).glob("sm*")):
        m = read_measurements(run / "measurements.csv")
        m = m.select(m.stable)
        sms = sm_restriction_of(run)
        spec = derive_sm_restricted(h200, sms) if sms else h200
        table = measurement_table(m)
        err = errors(table, spec, m["kernel_s"])
        with mock.patch.object(engine, "chain_seconds",
                               lambda t, hw: np.zeros(len(t))):
            bare = errors(table, spec, m["kernel_s"])
        for dtype in sorted(set(m["dtype"])):
            s = m["dtype"] == dtype
            e = err[s]
            print(f"{run.name:6} {dtype:8} {int(s.sum()):4d}  {100 * np.abs(e).mean():7.1f}  "
                  f"{100 * e[np.argmax(np.abs(e))]:+8.1f}  {int((np.abs(e) <= 0.15).sum()):>4d} of "
                  f"{int(s.sum()):<3d}  {100 * np.abs(bare[s]).mean():20.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
