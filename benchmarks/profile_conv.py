"""What F.conv2d runs on the GPU: its kernels per call, for the calibration's conv2d shapes, in
the two memory formats a model hands it (issue 11: conv2d's held-out error).

The harness times F.conv2d on a contiguous NCHW input (roofsim.kernels.conv.conv2d_runner).
Inside a model the input is often a permuted NHWC tensor (SAM's neck: channels_last strides),
and cuDNN's choice of kernels (layout transforms, implicit GEMM on tensor cores, cuBLAS for a
1x1 window, the legacy CUDA-core implicit_convolve_sgemm) follows the format, the channel counts
and the window. This script takes conv2d rows of a measurements CSV, and for each row and format
(`contiguous`, `channels_last`)
- times it as the harness does (roofsim.calibration.timing.CudaTimer: graph replays, cold L2),
- profiles three eager calls with torch.profiler and keeps the kernels of one call (name,
  calls per conv, mean duration).

    PYTHONPATH=. python3 benchmarks/profile_conv.py --out $OUT/conv \
        --measurements calibration/h200/measurements.csv --split holdout --budget 240

Writes <out>/cases.csv (case_id, split, the conv parameters, format, kernel_s, kernel_min_s,
kernel_max_s, kernels per call, their summed duration), <out>/kernels.csv (case_id, format,
name, calls, duration_s) and <out>/provenance.json (roofsim.calibration.run.software_versions,
NVML state before and after). Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from measure_e2e import profile_once  # noqa: E402  (one trace reader)

CONV_PARAMS = ("batch", "c_in", "c_out", "h", "w", "kernel", "stride", "padding", "bias")
FORMATS = ("contiguous", "channels_last")


def conv_rows(path: Path, split: str, limit: int) -> list[dict]:
    """Stable conv2d rows of a measurements CSV (`split`: fit, holdout or all), in file order."""
    from roofsim.calibration.measurements import read_measurements
    m = read_measurements(path)
    keep = m.stable & (m["kind"] == "conv2d")
    if split != "all":
        keep &= m["split"] == split
    m = m.select(keep)
    rows = []
    for i in range(len(m)):
        p = {k: int(m[k][i]) if m[k][i] == m[k][i] else None for k in CONV_PARAMS}
        rows.append({"case_id": m["case_id"][i], "split": m["split"][i], **p})
    return rows[:limit] if limit else rows


def make_inputs(p: dict, fmt: str, torch):
    """The harness's inputs (roofsim.kernels.conv.conv2d_runner), in memory format `fmt`."""
    from roofsim.kernels.conv import conv2d_runner
    params = {k: v for k, v in p.items() if k in CONV_PARAMS and v is not None}
    fn, make = conv2d_runner(params, "bfloat16", "cuda")

    def make_fmt():
        xs = make()
        if fmt == "channels_last":
            xs = (xs[0].contiguous(memory_format=torch.channels_last),) + tuple(xs[1:])
        return xs
    return fn, make_fmt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--measurements", default="calibration/h200/measurements.csv")
    ap.add_argument("--split", default="holdout", choices=("fit", "holdout", "all"))
    ap.add_argument("--limit", type=int, default=0, help="at most this many rows (0: all)")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds; stops between cases")
    args = ap.parse_args(argv)

    import torch
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.run import software_versions
    from roofsim.calibration.timing import CudaTimer
    if not torch.cuda.is_available():
        raise SystemExit("profile_conv.py: no CUDA device")
    rows = conv_rows(Path(args.measurements), args.split, args.limit)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nv = Nvml()
    prov = {"what": "F.conv2d kernels per call and harness timing, contiguous vs channels_last",
            "software": software_versions(), "measurements": args.measurements,
            "split": args.split, "cases_selected": len(rows),
            "command": " ".join(["profile_conv.py"] + (sys.argv[1:] if argv is None
                                                       else list(argv))),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device_before": nv.snapshot()}
    timer = CudaTimer()
    start = time.monotonic()
    done = 0
    case_cols = ["case_id", "split", *CONV_PARAMS, "format", "kernel_s", "kernel_min_s",
                 "kernel_max_s", "kernels_per_call", "kernel_sum_s"]
    with open(out / "cases.csv", "w", newline="") as fc, \
            open(out / "kernels.csv", "w", newline="") as fk:
        wc = csv.DictWriter(fc, fieldnames=case_cols)
        wc.writeheader()
        wk = csv.writer(fk)
        wk.writerow(["case_id", "format", "name", "calls", "duration_s"])
        for row in rows:
            if time.monotonic() - start > args.budget:
                break
            for fmt in FORMATS:
                try:
                    fn, make = make_inputs(row, fmt, torch)
                    res = timer.time(fn, make)
                    kernels = profile_once(fn, make(), torch)
                except Exception as err:   # one failed case must not lose the others
                    print(f"{row['case_id']} {fmt}: {type(err).__name__}: {err}"[:200])
                    torch.cuda.synchronize()
                    continue
                wc.writerow({**{k: row[k] for k in ("case_id", "split", *CONV_PARAMS)},
                             "format": fmt, "kernel_s": res.kernel_s,
                             "kernel_min_s": res.kernel_min_s, "kernel_max_s": res.kernel_max_s,
                             "kernels_per_call": sum(k["calls"] for k in kernels),
                             "kernel_sum_s": sum(k["calls"] * k["duration_s"] for k in kernels)})
                for k in kernels:
                    wk.writerow([row["case_id"], fmt, k["name"], k["calls"], k["duration_s"]])
                timer.release()
            done += 1
            fc.flush()
            fk.flush()
    prov["cases_done"] = done
    prov["device_after"] = nv.snapshot()
    (out / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
    print(f"profile_conv: {done} of {len(rows)} cases in {time.monotonic() - start:.0f} s")
    # a short table: the kernel families and how often each format runs them
    fam = collections.Counter()
    with open(out / "kernels.csv") as f:
        for r in csv.DictReader(f):
            name = r["name"]
            key = ("xmma" if "xmma" in name and "fprop" in name else
                   "nvjet" if "nvjet" in name else
                   "implicit_convolve_sgemm" if "implicit_convolve" in name else
                   "nchwToNhwc" if "nchwToNhwc" in name else
                   "nhwcToNchw" if "nhwcToNchw" in name else name[:40])
            fam[(r["format"], key)] += 1
    for (fmt, key), n in sorted(fam.items(), key=lambda x: -x[1])[:25]:
        print(f"  {fmt:14s} {n:5d}  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
