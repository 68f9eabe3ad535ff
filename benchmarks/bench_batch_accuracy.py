"""Accuracy of batched predictions (issue 13): `roofsim predict --model --batch B` against the
batched rows of the end-to-end measurements under calibration/<device>/e2e/<model>/
(benchmarks/measure_models.py): decode steps at batch > 1 (e.g. 8 and 32 at KV 1024) and
batched prefills (e.g. 4 x 1024 tokens). Batch-1 rows are bench_models_accuracy.py's.

    python benchmarks/bench_batch_accuracy.py [--device h200] [--e2e DIR] [--models a,b]
        [--calibration DIR] [--json out.json]

Predictions come from roofsim.e2e.compare_model_e2e, the path `roofsim predict --model` takes.
Measurements are a test set: nothing is fitted to them. Prints one table (with the predicted
decode throughput B / step) and, per model and stage, the largest error and how many cases are
within the 15% target; exit status 0 when there was something to compare.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_e2e_accuracy import summarize  # noqa: E402
from roofsim.calibration.profile import load_profile  # noqa: E402
from roofsim.e2e import (compare_model_e2e, load_model_e2e, measured_model,  # noqa: E402
                         model_folders)
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.stages import DECODE  # noqa: E402


def batched(rows: list[dict]) -> list[dict]:
    """The rows of batch > 1 (decode steps and prefills of several sequences)."""
    return [r for r in rows if int(r.get("batch") or 1) > 1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="h200")
    ap.add_argument("--e2e", help="folder of model folders (default calibration/<device>/e2e)")
    ap.add_argument("--models", default="", help="only these models (comma-separated)")
    ap.add_argument("--calibration", help="profile folder (default calibration/<device>)")
    ap.add_argument("--hardware", help="hardware spec (default the device's)")
    ap.add_argument("--json", help="write the comparison rows here")
    args = ap.parse_args(argv)
    root = Path(args.e2e) if args.e2e else ROOT / "calibration" / args.device / "e2e"
    wanted = [m for m in args.models.split(",") if m]
    folders = [f for f in model_folders(root) if not wanted or f.name in wanted]
    hw = load_hardware(args.hardware or args.device)
    profile = load_profile(args.calibration or ROOT / "calibration" / args.device)
    comps, table = [], []
    for folder in folders:
        rows, prov = load_model_e2e(folder)
        rows = batched(rows)
        if not rows:
            continue
        model = measured_model(folder, prov)
        print(f"{model.name}: measured on {prov.get('device_name', '?')} "
              f"({prov.get('date', '?')}, transformers {prov.get('transformers', '?')})")
        for r, c in zip([r for r in rows if r.get("status", "ok") == "ok"
                         and float(r.get("kernel_s") or 0) > 0],
                        compare_model_e2e(model, rows, hw, profile)):
            comps.append(c)
            b = int(r["batch"])
            tput = f"{b / c.predicted_s:.0f}" if c.stage == DECODE else "-"
            table.append([c.model, c.stage, c.case, round(c.predicted_s * 1e3, 3),
                          round(c.measured_s * 1e3, 3), f"{c.error:+.1%}", tput])
    if not comps:
        print(f"{root}: no batched measurements (benchmarks/measure_models.py --batch 8,32 "
              "--prefill-batch 4 writes them)")
        return 1
    from roofsim.cli.output import format_table
    print(f"\npredicted on {hw.id}, calibration {profile.device_name}\n")
    print(format_table(["model", "stage", "case", "predicted ms", "measured ms", "error",
                        "pred tokens/s"], table))
    print()
    summarize(comps, label=lambda c: f"{c.model:18}")
    if args.json:
        Path(args.json).write_text(json.dumps([c.as_dict() for c in comps], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
