"""Accuracy of batched predictions (issue 13): `roofsim predict [--model] --batch B` against the
batched rows of the end-to-end measurements: decode steps at batch > 1 (e.g. 8 and 32 at KV
1024) and batched prefills (e.g. 4 x 1024 tokens), of
- transformers models: calibration/<device>/e2e/<model>/ (benchmarks/measure_models.py);
- DeepSeek-OCR's decoder: calibration/<device>/e2e/e2e.csv and each --ocr-e2e folder
  (benchmarks/measure_e2e.py --batch), model "deepseek-ocr", case 'RxC b=B'.
Batch-1 rows are bench_models_accuracy.py's and bench_e2e_accuracy.py's; a DeepSeek-OCR batch-1
row of the same grid and stage as a batched one is printed beside it, labelled, and left out of
the summary.

    python benchmarks/bench_batch_accuracy.py [--device h200] [--e2e DIR] [--models a,b]
        [--ocr-e2e DIR ...] [--calibration DIR] [--json out.json]

Predictions come from roofsim.e2e.compare_model_e2e and compare_e2e, the paths `roofsim
predict` takes. Measurements are a test set: nothing is fitted to them. Prints one table (with
the predicted decode throughput B / step) and, per model and stage, the largest error and how
many cases are within the 15% target; exit status 0 when there was something to compare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_e2e_accuracy import print_model_comparisons  # noqa: E402
from roofsim.calibration.profile import load_profile  # noqa: E402
from roofsim.e2e import (E2E_FILE, E2E_STAGES, compare_e2e,  # noqa: E402
                         compare_model_e2e, load_e2e, load_model_e2e, measured_model,
                         model_folders, row_batch)
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.stages import DECODE  # noqa: E402


BESIDE = " (batch 1: not summarized)"


def batched(rows: list[dict]) -> list[dict]:
    """The rows of batch > 1 (decode steps and prefills of several sequences)."""
    return [r for r in rows if row_batch(r) > 1]


def measured_ok(r: dict) -> bool:
    """A row with a GPU kernel time (not failed, not a CPU check run)."""
    return r.get("status", "ok") == "ok" and float(r.get("kernel_s") or 0) > 0


def ocr_rows(rows: list[dict]) -> list[dict]:
    """DeepSeek-OCR's measured batched rows and the batch-1 rows of the same grid and stage."""
    many = [r for r in batched(rows) if measured_ok(r)]
    keys = {(r["grid"], r["stage"]) for r in many}
    ones = [r for r in rows if row_batch(r) == 1 and measured_ok(r)
            and (r["grid"], r["stage"]) in keys]
    return ones + many


def ocr_folders(root: Path, extra: list[str]) -> list[Path]:
    """The DeepSeek-OCR measurement folders: root (where it holds e2e.csv) and --ocr-e2e's."""
    found = [root] if (root / E2E_FILE).is_file() else []
    found += [Path(d) for d in extra]
    return list({f.resolve(): f for f in found}.values())


def tput(c) -> str:
    return f"{c.batch / c.predicted_s:.0f}" if c.stage == DECODE else "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="h200")
    ap.add_argument("--e2e", help="folder of model folders (default calibration/<device>/e2e)")
    ap.add_argument("--models", default="", help="only these models (comma-separated)")
    ap.add_argument("--ocr-e2e", action="append", default=[], metavar="DIR",
                    help="a further DeepSeek-OCR measurement folder (benchmarks/measure_e2e.py "
                         "--batch; repeatable)")
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
        for c in compare_model_e2e(model, rows, hw, profile):
            comps.append(c)
            table.append([c.model, c.stage, c.case, round(c.predicted_s * 1e3, 3),
                          round(c.measured_s * 1e3, 3), f"{c.error:+.1%}", tput(c)])
    for folder in ocr_folders(root, args.ocr_e2e):
        rows, prov = load_e2e(folder)
        rows = ocr_rows(rows)
        if not batched(rows):
            continue
        print(f"deepseek-ocr ({folder}): measured on {prov.get('device_name', '?')} "
              f"({prov.get('date', '?')}, transformers {prov.get('transformers', '?')})")
        ocr = compare_e2e(rows, hw, profile)
        for c in sorted(ocr, key=lambda c: (E2E_STAGES.index(c.stage), c.image_tokens, c.batch)):
            if c.batch > 1:
                comps.append(c)
            table.append([c.model, c.stage, c.case + ("" if c.batch > 1 else BESIDE),
                          round(c.predicted_s * 1e3, 3), round(c.measured_s * 1e3, 3),
                          f"{c.error:+.1%}", tput(c)])
    if not comps:
        print(f"{root}: no batched measurements (benchmarks/measure_models.py --batch 8,32 "
              "--prefill-batch 4, or benchmarks/measure_e2e.py --batch, writes them)")
        return 1
    print_model_comparisons(hw, profile, ["model", "stage", "case", "predicted ms",
                                          "measured ms", "error", "pred tokens/s"],
                            table, comps, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
