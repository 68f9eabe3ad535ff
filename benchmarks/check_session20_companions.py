"""Session 20's second change to the H200's fit data (issue 11): the whole-chip runs of
mixed-fresh16 and -17 joined, their runs at 24, 32 and 40 SMs taken as companions. Its fresh set,
mixed-fresh18, scored with the H200 fitted before (check_balanced_tiles.h200_as_chosen) and
after (the committed inputs, as benchmarks/bench_transfer.py fits them).

    python benchmarks/check_session20_companions.py

MAPE on each set's stable rows whose shape the respective fit left out. calibration/README.md
(session 20) quotes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import FIT, device_profile, fit_inputs  # noqa: E402
from check_balanced_tiles import h200_as_chosen  # noqa: E402
from check_more_companions import mape  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402

SETS = ("h200/mixed-fresh18", "h200-sm8/mixed-fresh18", "h200-sm16/mixed-fresh18",
        "h200-sm24/mixed-fresh18", "h200-sm32/mixed-fresh18", "h200-sm40/mixed-fresh18",
        "h200-sm48/mixed-fresh18")


def main() -> int:
    before, fitted_before = h200_as_chosen()
    m = fit_inputs("h200").measurements
    after = device_profile("h200")
    fitted_after = set(m["case_id"][m.stable & (m["split"] == FIT)])
    rows = [[s, f"{mape(before, fitted_before, s):.2f}", f"{mape(after, fitted_after, s):.2f}"]
            for s in SETS]
    print(format_table(["set", "MAPE % before", "MAPE % after (committed fit)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
