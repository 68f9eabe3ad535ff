"""Streaming kernels whose operands fit in L2, timed cold and warm, over a sweep of sizes.

In a model, the activations a kernel reads were just written by the kernel before it: under
about half the L2 they are still cached, and the launch streams them at the L2's bandwidth
rather than HBM's. The calibration harness times every launch cold (L2 flushed, input sets
rotated), so a profile cannot see this; this script measures it, per kernel kind and size, on
the whole GPU or inside a CUDA green context of N SMs (the per-SM side of the L2's bandwidth).

Per case (a kind and dtype of the calibration's runners, roofsim.calibration.runners, at a size
from a geometric sweep of the bytes read, 0.25 MiB to 1.5 x the L2, each size jittered by the
seed so that two seeds give different shapes):
- cold_s: the harness's per-launch time (CudaTimer.time);
- warm_s: a CUDA graph of the same number of launches on ONE input set, replayed without a
  flush: what stays in L2 of the inputs and the output is read and written there.
Both include the graph's node gap.

    PYTHONPATH=. python3 benchmarks/measure_l2_resident.py --sms 16 --seed 1 --out $OUT/l2

Writes <out>/l2-resident-sm<N>.csv and <out>/l2-resident-sm<N>.json (provenance, NVML state
before and after, the SMs a probe kernel ran on), prints a short table. Never changes clocks,
power or modes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from gpu_physics import cold_warm_rows, write_rows_csv  # noqa: E402  (one timer, one writer)

# (kind, dtype, inputs read, the row length of the row kinds: 0 for flat ones)
GROUPS = (("elementwise", "bfloat16", 2, 0), ("silu", "bfloat16", 1, 0),
          ("gelu", "float32", 1, 0), ("copy", "bfloat16", 1, 0),
          ("elementwise", "float32", 2, 0), ("silu", "float32", 1, 0),
          ("layernorm", "bfloat16", 1, 1280), ("rmsnorm", "bfloat16", 1, 4096),
          ("softmax", "bfloat16", 1, 1024), ("reduction", "bfloat16", 1, 768))
ELEMENT_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


def cases(seed: int, l2_bytes: float, sizes: int) -> list[dict]:
    """Each group at `sizes` sizes of bytes read, geometric from 0.25 MiB to 1.5 x the L2,
    each multiplied by a factor in [0.8, 1.25) drawn from `seed`."""
    from roofsim.calibration.suites import Case
    rng = np.random.default_rng(seed)
    base = np.geomspace(0.25 * 2**20, 1.5 * l2_bytes, sizes)
    out = []
    for kind, dtype, inputs, cols in GROUPS:
        for target in base * rng.uniform(0.8, 1.25, len(base)):
            elements = max(int(target / (inputs * ELEMENT_BYTES[dtype])), 1)
            if cols:
                params = {"rows": max(elements // cols, 1), "cols": cols}
            else:
                params = {"numel": elements}
            out.append({"case_id": Case.make(kind, dtype, params).case_id, "kind": kind,
                        "dtype": dtype, "params": params})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sms", type=int, default=0, help="run on N SMs (green context; 0: all)")
    ap.add_argument("--seed", type=int, default=1, help="jitter of the sizes (a new set: a new seed)")
    ap.add_argument("--sizes", type=int, default=14, help="sizes per group")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds; stop starting cases after")
    args = ap.parse_args(argv)

    import torch
    from roofsim.calibration.green import restrict_sms
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.timing import CudaTimer

    restriction = restrict_sms(args.sms)
    nv = Nvml()
    before = nv.snapshot()
    timer = CudaTimer()
    l2 = float(torch.cuda.get_device_properties(0).L2_cache_size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = cold_warm_rows(cases(args.seed, l2, args.sizes), ("case_id", "kind", "dtype"), torch,
                          timer, nv, args.budget, t0)
    tag = f"sm{args.sms}"
    write_rows_csv(out / f"l2-resident-{tag}.csv", rows)
    doc = {"what": "streaming kernels cold vs warm (L2-resident) over a size sweep "
                   "(benchmarks/measure_l2_resident.py)",
           "command": "python3 " + " ".join(sys.argv),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "seed": args.seed, "sm_restriction": restriction.as_dict(), "l2_bytes": l2,
           "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(), "device": torch.cuda.get_device_name(0),
           "device_before": before, "device_after": nv.snapshot(),
           "elapsed_s": round(time.perf_counter() - t0, 1)}
    (out / f"l2-resident-{tag}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    ok = [r for r in rows if r["status"] == "ok"]
    print(f"{tag}: {len(ok)}/{len(rows)} cases, probed SMs {restriction.probed}")
    print(f"{'case':44s} {'MiB set':>8s} {'cold us':>9s} {'warm us':>9s} {'cold/warm':>9s}")
    for r in ok:
        print(f"{r['case_id'][:44]:44s} {r['set_bytes'] / 2**20:8.2f} {r['cold_s'] * 1e6:9.2f} "
              f"{r['warm_s'] * 1e6:9.2f} {r['cold_s'] / r['warm_s']:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
