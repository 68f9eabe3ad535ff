"""The kernels of one decode step over a StaticCache, profiled outside a CUDA graph (issue 16).

benchmarks/measure_models.py --graph times the step replayed as a CUDA graph, where
torch.profiler sees one graph launch and no kernels. This script runs the same step (the same
StaticCache of kv_len + 1 positions, filled by a prefill of kv_len tokens, random weights) on
the stream under torch.profiler, so its kernels and their durations can be compared with
roofsim's static-cache capture (roofsim.workloads.hf, graph_parts).

    PYTHONPATH=. python3 benchmarks/profile_static_step.py --out $OUT/static \
        --models llama-3.1-8b --batch 1,8 --decode-kv 1024,8192

Writes <out>/<model>/kernels.csv (batch, kv_len, repeat, category, name, op, input_dims,
duration_s) and <out>/provenance.json (roofsim.calibration.run.software_versions: torch, CUDA,
cuDNN, the device and host CPU; transformers; NVML state before and after); prints per case the
kernel time and the ten ops that take most of it. Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure_e2e import gpu_events  # noqa: E402  (one trace reader)
from measure_models import int_list  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="llama-3.1-8b")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--decode-kv", default="1024,8192")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    batches = int_list("--batch", args.batch)
    kvs = int_list("--decode-kv", args.decode_kv)

    import torch
    import transformers
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.run import software_versions
    from roofsim.workloads.hf import build
    from roofsim.workloads.hf.configs import model_config

    from roofsim.errors import UserError
    try:
        configs = [model_config(name) for name in args.models.split(",") if name]
    except UserError as err:
        raise SystemExit(str(err)) from None
    if not torch.cuda.is_available():
        raise SystemExit("profile_static_step.py: no CUDA device (the step's kernels are what it "
                         "measures)")
    nv = Nvml()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prov = {"what": "kernels of a StaticCache decode step, profiled on the stream",
            "software": software_versions(), "transformers": transformers.__version__,
            "command": " ".join(["profile_static_step.py"] + (sys.argv[1:] if argv is None
                                                              else list(argv))),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device_before": nv.snapshot()}
    for mc in configs:
        model = build.build_model(mc, "cuda", torch.bfloat16)
        cfg = build.text_config(model)
        kwarg = build.cache_kwarg(model)
        folder = out / mc.name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "kernels.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["batch", "kv_len", "repeat", "category", "name", "op", "input_dims",
                        "duration_s"])
            for b in batches:
                for kv in kvs:
                    cache = transformers.StaticCache(config=cfg, max_cache_len=kv + 1)
                    with torch.no_grad():
                        model(input_ids=build.token_ids(b, kv, cfg.vocab_size, "cuda"),
                              use_cache=True, logits_to_keep=1, **{kwarg: cache})
                    lengths = [t for t in (getattr(layer, "cumulative_length", None)
                                           for layer in cache.layers)
                               if isinstance(t, torch.Tensor)]
                    ids = build.token_ids(b, 1, cfg.vocab_size, "cuda")

                    def step():
                        for t in lengths:
                            t.fill_(kv)
                        with torch.no_grad():
                            model(input_ids=ids, use_cache=True, logits_to_keep=1,
                                  **{kwarg: cache})
                    for _ in range(2):
                        step()
                    torch.cuda.synchronize()
                    totals = []
                    by_op = collections.Counter()
                    for r in range(args.repeats):
                        with torch.profiler.profile(activities=[
                                torch.profiler.ProfilerActivity.CPU,
                                torch.profiler.ProfilerActivity.CUDA]) as prof:
                            step()
                            torch.cuda.synchronize()
                        events = gpu_events(prof)
                        totals.append(sum(e["duration_s"] for e in events))
                        for e in events:
                            w.writerow([b, kv, r, e["category"], e["name"], e["op"],
                                        e["input_dims"], e["duration_s"]])
                            if r == 0:
                                by_op[e["op"]] += e["duration_s"]
                    totals.sort()
                    top = ", ".join(f"{op} {s * 1e3:.2f}" for op, s in by_op.most_common(10))
                    print(f"{mc.name} b={b} kv={kv}: kernels {totals[len(totals) // 2] * 1e3:.2f}"
                          f" ms; {top}", flush=True)
                    del cache
                    torch.cuda.empty_cache()
        del model
        torch.cuda.empty_cache()
    prov["device_after"] = nv.snapshot()
    (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
