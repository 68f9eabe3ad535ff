"""How a persistent GEMM's launch meets an SM-restricted H200 (issue 11: the rounds rule on
67-131 SMs, calibration/h200/persistent-rounds).

roofsim.perfmodel.waves assumes the libraries size a persistent kernel's grid for the 132 SMs
the device reports and that, on n < 132 SMs, its resident blocks run in ceil(grid / n) rounds
(2 on 104-128 SMs). Measured, products with few tiles per SM stretch 1.5-1.9x there, products
with many tiles 1.1-1.4x, and kernels with 4-CTA clusters 1.00x on 120 SMs but 1.7-1.9x on
104 and 112. What the rule needs and no trace so far recorded is the launch itself: the grid
the library chose, the block, the shared memory and registers per block (which set how many
blocks an SM holds at once), and how that grid and the time change with the SM count.

For each product shape (bf16 F.linear, the calibration's `linear` runner) this records, under
torch.profiler, every kernel of one call with its launch geometry (the Chrome trace's grid,
block, shared memory, registers per thread, and occupancy fields where the profiler gives
them), and the call's time as calibration times kernels (CudaTimer: CUDA-graph replays, cold
L2), on the SMs this process runs on:

    PYTHONPATH=. python3 benchmarks/probe_persistent_grid.py --out $OUT/grid --sms 112

Writes <out>/sm<N>/launches.csv (shape, kernel, launch fields), <out>/sm<N>/times.csv (shape,
seconds) and <out>/sm<N>/provenance.json (requested and probed SMs, software, NVML before and
after). Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from measure_e2e import chrome_trace  # noqa: E402  (one trace reader)

# (m, n, k): DeepSeek-OCR's prefill products (2913 rows), few-tile and many-tile shapes of
# calibration/h200/persistent-rounds (2-CTA and 4-CTA cluster kernels there), and aligned
# products from one tile per SM to about ten.
SHAPES = ((2913, 1280, 1280), (2913, 1280, 6848), (2913, 6848, 1280), (1536, 1280, 1280),
          (3072, 1280, 1280), (1218, 960, 2240), (1024, 1280, 1280), (4096, 1792, 1280),
          (8192, 6848, 1280), (10151, 3968, 3072), (6144, 1280, 6848), (512, 1280, 6848),
          (2048, 2048, 2048), (4096, 4096, 4096), (8192, 8192, 8192), (16384, 1024, 1024))
LAUNCH_FIELDS = ("grid", "block", "shared memory", "registers per thread", "blocks per SM",
                 "warps per SM", "est. achieved occupancy %", "cluster")


def launches(fn, inputs, torch) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile
    fn(*inputs)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn(*inputs)
        torch.cuda.synchronize()
    events, _ = chrome_trace(prof)
    out = []
    for e in events:
        if e.get("cat") != "kernel":
            continue
        args = e.get("args") or {}
        row = {"kernel": e.get("name", ""), "duration_s": float(e.get("dur", 0.0)) * 1e-6}
        for f in LAUNCH_FIELDS:
            v = args.get(f)
            row[f] = json.dumps(v, separators=(",", ":")) if v is not None else ""
        out.append(row)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sms", type=int, default=0, help="run on N SMs (a green context); 0: all")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds; 0: no limit")
    args = ap.parse_args(argv)
    import torch
    from roofsim.calibration.green import restrict_sms
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.run import software_versions
    from roofsim.calibration.runners import runner_for, runner_table
    from roofsim.calibration.timing import CudaTimer
    if not torch.cuda.is_available():
        raise SystemExit("probe_persistent_grid.py: no CUDA device")
    restriction = restrict_sms(args.sms or None)
    out = Path(args.out) / f"sm{args.sms}"
    out.mkdir(parents=True, exist_ok=True)
    nv = Nvml()
    before = nv.snapshot()
    timer = CudaTimer()
    table = runner_table()
    start, done = time.monotonic(), 0
    with open(out / "launches.csv", "w", newline="") as fl, \
            open(out / "times.csv", "w", newline="") as ft:
        wl = csv.DictWriter(fl, ["m", "n", "k", "kernel", "duration_s", *LAUNCH_FIELDS])
        wl.writeheader()
        wt = csv.writer(ft)
        wt.writerow(["m", "n", "k", "kernel_s", "kernel_min_s", "kernel_max_s"])
        for m, n, k in SHAPES:
            if args.budget and time.monotonic() - start > args.budget:
                break
            fn, make = runner_for("linear", table)({"m": m, "n": n, "k": k, "bias": 0},
                                                   "bfloat16", "cuda")
            for row in launches(fn, make(), torch):
                wl.writerow({"m": m, "n": n, "k": k, **row})
            r = timer.time(fn, make)
            wt.writerow([m, n, k, r.kernel_s, r.kernel_min_s, r.kernel_max_s])
            done += 1
            print(f"sm{args.sms:<4d} {m:6d} x {n:5d} x {k:5d}  {r.kernel_s * 1e6:9.1f} us")
    prov = {"command": " ".join(sys.argv), "finished": datetime.now(timezone.utc).isoformat(),
            "sm_restriction": restriction.as_dict(), "shapes": done, "of": len(SHAPES),
            "software": software_versions(), "nvml_before": before,
            "nvml_after": nv.snapshot()}
    (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
