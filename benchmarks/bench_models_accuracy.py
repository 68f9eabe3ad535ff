"""Accuracy of `roofsim predict --model` against the end-to-end measurements committed under
calibration/<device>/e2e/<model>/ (benchmarks/measure_models.py): predicted vs measured GPU
kernel time of every measured prefill (P tokens, batch B), decode step (KV length L, batch B)
and vision case, and their kernel counts.

    python benchmarks/bench_models_accuracy.py [--device h200] [--models llama-3.1-8b,...]
        [--e2e DIR] [--calibration DIR] [--json out.json]

Predictions come from roofsim.e2e.compare_model_e2e, the path `roofsim predict --model` takes
(a prefill row is a request of P prompt tokens; a decode row one step with L positions cached).
Measurements are a test set: nothing is fitted to them. A folder measured inside a green context
(measure_models.py --sms N: its provenance records the SM count) is predicted on the device's
spec derived to those SMs (`roofsim hardware derive`). Prints one table and, per model and
stage, the largest error and how many cases are within the 15% target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_e2e_accuracy import print_model_comparisons, version_note  # noqa: E402
from roofsim.calibration.profile import load_profile  # noqa: E402
from roofsim.e2e import (compare_model_e2e, load_model_e2e, measured_model,  # noqa: E402
                         model_folders)
from roofsim.calibration.fit import sm_restriction_of  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="h200", help="calibration/<device> and hardware/<device>")
    ap.add_argument("--e2e", help="folder of model folders (default calibration/<device>/e2e)")
    ap.add_argument("--models", default="", help="only these models (comma-separated)")
    ap.add_argument("--calibration", help="profile folder or file (default calibration/<device>)")
    ap.add_argument("--json", help="write the comparison rows here")
    args = ap.parse_args(argv)

    root = Path(args.e2e) if args.e2e else ROOT / "calibration" / args.device / "e2e"
    folders = model_folders(root)
    wanted = [m for m in args.models.split(",") if m]
    if wanted:
        folders = [f for f in folders if f.name in wanted]
    if not folders:
        print(f"{root}: no model measurements (benchmarks/measure_models.py writes them)")
        return 1
    hw = load_hardware(args.device)
    profile = load_profile(args.calibration or ROOT / "calibration" / args.device)
    comps = []
    for folder in folders:
        rows, prov = load_model_e2e(folder)
        model = measured_model(folder, prov)
        print(f"{model.name}: measured on {prov.get('device_name', '?')} ({prov.get('date', '?')}, "
              f"torch {prov.get('torch', '?')}, transformers {prov.get('transformers', '?')})")
        note = version_note(prov)
        if note:
            print(f"  {note}")
        sms = sm_restriction_of(folder)     # measure_models.py --sms N: that SM count's spec
        if sms:
            print(f"  on {sms} SMs (a green context): predicted on {hw.id} derived to {sms} SMs")
        comps += compare_model_e2e(model, rows, derive_sm_restricted(hw, sms) if sms else hw,
                                   profile)
    print_model_comparisons(
        hw, profile,
        ["model", "stage", "case", "predicted ms", "measured ms", "error", "pred kernels",
         "meas kernels"],
        [[c.model, c.stage, c.case, round(c.predicted_s * 1e3, 3), round(c.measured_s * 1e3, 3),
          f"{c.error:+.1%}", round(c.predicted_launches), c.measured_kernels] for c in comps],
        comps, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
