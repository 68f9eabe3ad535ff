"""Which cuBLAS / CUTLASS kernel each product shape of a measurements CSV runs (issue 11: the
persistent GEMMs' scaling on 66-131 SMs).

Inside a green context of n SMs the libraries still size a persistent GEMM's grid for the 132
SMs the device reports. roofsim stretches such a kernel's SM-parallel part by its rounds of
resident blocks (roofsim.perfmodel.waves: 2 on 112 SMs); DeepSeek-OCR's prefill products behave
so (1.76x on 120 SMs), but most random shapes of calibration/h200/mixed-fresh grew about in
proportion to the SMs (a median 1.17x on 112). This script records, per gemm / linear /
grouped_gemm row, the kernels one call runs (torch.profiler on the whole GPU, where the
libraries make the same choice), so that the two behaviours can be told apart by kernel.

    PYTHONPATH=. python3 benchmarks/profile_gemm_kernels.py --out $OUT/gemm-kernels \
        --measurements calibration/h200/mixed-fresh/measurements.csv --budget 120 \
        [--kinds gemm,linear,grouped_gemm,conv2d] [--every 4] [--sms 40]
    PYTHONPATH=. python3 benchmarks/profile_gemm_kernels.py --out $OUT/grids \
        --suite benchmarks/suites/skinny_grids.yaml     (a suite's shapes, nothing timed before)

Writes <out>/kernels.csv (case_id, name, calls, duration_s, and the launch CUPTI recorded: grid
= blocks, block = threads per block, smem = shared memory per block in bytes, regs = registers
per thread) and <out>/provenance.json (software versions, NVML state before and after, the SM
restriction). --sms N profiles inside a green context of N SMs (does the library size its grid
for the SMs it runs on, or for the device's?). Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from measure_e2e import profile_once  # noqa: E402  (one trace reader)

KINDS = ("gemm", "linear", "grouped_gemm")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--measurements", help="the ok rows of a measurements CSV")
    src.add_argument("--suite", help="the cases of a kernel suite (kernels/*.yaml)")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds; 0: no limit")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    ap.add_argument("--every", type=int, default=1, help="profile every n-th row")
    ap.add_argument("--sms", type=int, default=0, help="run on N SMs (a green context)")
    args = ap.parse_args(argv)
    import torch
    from roofsim.calibration.green import restrict_sms
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.run import software_versions
    from roofsim.calibration.runners import runner_for, runner_table
    from roofsim.records import SHAPE_PARAMS
    if not torch.cuda.is_available():
        raise SystemExit("profile_gemm_kernels.py: no CUDA device")
    from roofsim.io import stored_file
    from roofsim.io import read_text
    kinds = set(args.kinds.split(","))
    if args.suite:
        from roofsim.calibration.suites import load_suite
        rows = [{"case_id": c.case_id, "kind": c.kind, "dtype": c.dtype, **c.param_dict()}
                for c in load_suite(args.suite) if c.kind in kinds]
    else:
        text = read_text(stored_file(args.measurements), expected="a measurements CSV")
        rows = [r for r in csv.DictReader(io.StringIO(text))
                if r["kind"] in kinds and r["status"] == "ok"]
    rows = rows[::max(args.every, 1)]
    restriction = restrict_sms(args.sms)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nv = Nvml()
    before = nv.snapshot()
    table = runner_table()
    start, done = time.monotonic(), 0
    with open(out / "kernels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "name", "calls", "duration_s", "grid", "block", "smem", "regs"])
        for r in rows:
            if args.budget and time.monotonic() - start > args.budget:
                break
            params = {p: int(float(r[p])) for p in SHAPE_PARAMS if r.get(p) not in (None, "")}
            fn, make = runner_for(r["kind"], table)(params, r["dtype"], "cuda")
            for k in profile_once(fn, make(), torch):
                w.writerow([r["case_id"], k["name"], k["calls"], k["duration_s"], k["grid"],
                            k["block"], k["smem"], k["regs"]])
            done += 1
    prov = {"command": " ".join(sys.argv), "finished": datetime.now(timezone.utc).isoformat(),
            "cases": done, "of": len(rows), "software": software_versions(),
            "sm_restriction": restriction.as_dict(),
            "nvml_before": before,
            "nvml_after": nv.snapshot()}
    (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str))
    print(f"profiled {done} of {len(rows)} product shapes in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
