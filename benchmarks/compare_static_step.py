"""A StaticCache decode step's kernels as measured (calibration/h200/static, by
benchmarks/profile_static_step.py) against what roofsim predicts for the step CUDA-graph mode
replays (Workload.graph_parts), per model, batch and KV length (issue 16).

    python benchmarks/compare_static_step.py [--device h200]

Prints, per case: the step's measured kernel time and its packed attention
(aten::_cudnn_attention_forward, repeat 0) beside the predicted step kernel time and attention
records, on the device's calibration profile. The model's configuration is the one its
calibration/<device>/e2e/<model> measurements recorded.
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_wall_accuracy import CAL, device_setup  # noqa: E402
from roofsim.e2e import load_model_e2e, measured_model  # noqa: E402
from roofsim.engine import simulate  # noqa: E402
from roofsim.predict import request_for  # noqa: E402
from roofsim.workloads import workload  # noqa: E402

ATTENTION_OP = "aten::_cudnn_attention_forward"


def measured(path: Path) -> dict[tuple[int, int], tuple[float, float]]:
    """(batch, kv) -> (step kernel seconds, attention seconds), the first repeat."""
    out = collections.defaultdict(lambda: [0.0, 0.0])
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        for r in csv.DictReader(f):
            if r["repeat"] != "0" or r["category"] != "kernel":
                continue
            key = (int(r["batch"]), int(r["kv_len"]))
            out[key][0] += float(r["duration_s"])
            if r["op"] == ATTENTION_OP:
                out[key][1] += float(r["duration_s"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="h200")
    args = ap.parse_args(argv)
    hw, profile = device_setup(args.device)
    print(f"{'model':16s} {'batch':>5s} {'KV':>6s}  {'step ms meas':>12s} {'pred':>7s}  "
          f"{'attention ms meas':>17s} {'pred':>7s} {'error':>7s}")
    for folder in sorted((CAL / args.device / "static").iterdir()):
        files = sorted(folder.glob("kernels.csv*")) if folder.is_dir() else []
        if not files:
            continue
        _, prov = load_model_e2e(CAL / args.device / "e2e" / folder.name)
        wl = workload(measured_model(CAL / args.device / "e2e" / folder.name, prov))
        for (b, kv), (step, attn) in sorted(measured(files[0]).items()):
            req = request_for(wl, None, kv, 1, b)
            pred_step = pred_attn = 0.0
            for parts in wl.graph_parts(req).values():
                for recs, weight in parts:
                    t = simulate(recs, hw, profile).time_s * weight
                    pred_step += float(t.sum())
                    pred_attn += float(t[recs.kind == "attention"].sum())
            print(f"{folder.name:16s} {b:5d} {kv:6d}  {step * 1e3:12.2f} {pred_step * 1e3:7.2f}  "
                  f"{attn * 1e3:17.2f} {pred_attn * 1e3:7.2f} {pred_attn / attn - 1:+7.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
