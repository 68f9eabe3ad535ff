"""How many blocks cuDNN's one-query attention kernel launches (issue 11): the split of the keys
that a decode step's SDPA call runs with, by heads, batch and cached keys.

The reference's decode step calls SDPA with one query per head (DynamicCache, no mask); on the
H200 that runs cuDNN's sm80 flash fprop (16 query rows), splitting the keys over blocks. In
calibration/h200*/e2e*/kernels.csv.gz its grid is 10 heads x 1 / 4 / 8 / 16 splits at 500 /
910 / 1184 / 2174+ keys, where roofsim.perfmodel.split_factor gives 1 / 3 / 4 / 8-14. This
script times q[b, h, 1, d] against k / v [b, h, kv, d] (bf16, d = 128) as the harness times
kernels (roofsim.calibration.timing.CudaTimer: graph replays, cold L2) and records the kernels of
one call with their launch grid (measure_e2e.profile_once: CUPTI's blocks).

    PYTHONPATH=. python3 benchmarks/probe_decode_attention_grid.py --out $OUT/grid \
        [--heads 4,10,16,32] [--batch 1,2,8] [--kv 256,...] [--sms N]

Writes <out>/cases.csv (heads, batch, kv, kernel_s, main kernel, its grid, every kernel) and
provenance.json. Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from measure_e2e import profile_once  # noqa: E402  (one trace reader)
from measure_models import int_list  # noqa: E402
from probe_static_attention import ProbeRun  # noqa: E402  (one probe setup)

HEAD_DIM = 128
KV = "256,384,512,640,768,896,1024,1280,1536,2048,3072,4096,8192,16384"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--heads", default="4,10,16,32")
    ap.add_argument("--batch", default="1,2,8")
    ap.add_argument("--kv", default=KV)
    ap.add_argument("--sms", type=int, default=0)
    args = ap.parse_args(argv)
    import torch
    import torch.nn.functional as F
    from roofsim.calibration.timing import CudaTimer
    run = ProbeRun.start("blocks of SDPA's one-query (decode) attention kernel by heads, batch, "
                         "keys", "probe_decode_attention_grid.py", argv, args.sms, args.out)
    timer = CudaTimer()
    rows = []
    for h in int_list("--heads", args.heads):
        for b in int_list("--batch", args.batch):
            for kv in int_list("--kv", args.kv):
                try:
                    q = torch.randn(b, h, 1, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
                    k = torch.randn(b, h, kv, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
                    v = torch.randn(b, h, kv, HEAD_DIM, device="cuda", dtype=torch.bfloat16)

                    def fn(q, k, v):
                        return F.scaled_dot_product_attention(q, k, v)
                    res = timer.time(fn, lambda: (q, k, v))
                    kernels = profile_once(fn, (q, k, v), torch)
                except Exception as err:
                    print(f"h={h} b={b} kv={kv}: {type(err).__name__}: {err}"[:200])
                    continue
                main_k = max(kernels, key=lambda r: r["calls"] * r["duration_s"]) if kernels \
                    else {"name": "", "grid": 0, "block": 0, "duration_s": 0.0}
                rows.append({"heads": h, "batch": b, "kv": kv, "kernel_s": res.kernel_s,
                             "main_kernel": main_k["name"][:120], "main_grid": main_k["grid"],
                             "main_block": main_k["block"], "main_s": main_k["duration_s"],
                             "kernels": json.dumps([[r["name"][:80], r["grid"], r["calls"],
                                                     r["duration_s"]] for r in kernels])})
                print(f"h={h:3d} b={b:2d} kv={kv:6d} {res.kernel_s * 1e6:8.1f} us  grid "
                      f"{main_k['grid']:5d}  {main_k['name'][:60]}")
    run.finish(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
