"""Where an eager forward of the reference leaves the GPU idle: one profiled forward per stage
with host (CPU op, CUDA runtime) and device (kernel, memcpy, memset) events on one timeline.

    PYTHONPATH=. python3 benchmarks/trace_eager.py --grid 4x5 --out $OUT/trace   # on the GPU
    python benchmarks/trace_eager.py --summarize calibration/h200/trace           # anywhere

Per stage (vision, prefill, decode at --grid, --prompt-tokens): --warmup forwards, one timed
forward (CUDA events: wall; perf_counter: host), then one forward under torch.profiler
(CPU + CUDA activities). Written: events-<stage>.csv.gz (every host op, runtime call and
device event: category, name, start and duration in us from the forward's first host event,
the aten op that launched a device event) and summary.json; printed: wall, kernel sum, the
GPU's idle time inside the forward, its longest idle gaps with the host op that ended each, and
the CUDA runtime calls that blocked longest (syncs, allocations). The profiler slows the host;
the gaps' places, not their lengths, are what this shows. Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure_e2e import Timer, chrome_trace, parse_grid  # noqa: E402  (one harness)

DEVICE_CATS = ("kernel", "gpu_memcpy", "gpu_memset")
HOST_CATS = ("cpu_op", "cuda_runtime", "cuda_driver")


def trace_events(prof) -> list[dict]:
    """Host and device events of the profiled forward, times in us from its first host event."""
    events, ops = chrome_trace(prof)
    ops = {ext: e.get("name", "") for ext, e in ops.items()}
    out = []
    for e in events:
        cat = e.get("cat")
        if cat not in DEVICE_CATS + HOST_CATS or "dur" not in e:
            continue
        ext = (e.get("args") or {}).get("External id")
        out.append({"cat": cat, "name": e.get("name", "")[:120], "ts": float(e["ts"]),
                    "dur": float(e["dur"]), "op": ops.get(ext, "") if cat in DEVICE_CATS else ""})
    t0 = min(e["ts"] for e in out if e["cat"] in HOST_CATS)
    for e in out:
        e["ts"] -= t0
    out.sort(key=lambda e: e["ts"])
    return out


def idle_gaps(events: list[dict]) -> tuple[float, float, list[dict]]:
    """(GPU busy us, window us, gaps): the union of device intervals from the first host event to
    the last device end, and every idle gap with what the host ran just before it ended."""
    dev = [e for e in events if e["cat"] in DEVICE_CATS]
    host = [e for e in events if e["cat"] == "cpu_op"]
    busy, gaps, end = 0.0, [], 0.0
    for e in dev:
        if e["ts"] > end:
            launched = [h for h in host if h["ts"] <= e["ts"] and h["ts"] >= end]
            gaps.append({"start_us": end, "idle_us": e["ts"] - end, "next": e["name"][:60],
                         "next_op": e["op"], "host_ops_in_gap": len(launched)})
        busy += max(0.0, e["ts"] + e["dur"] - max(end, e["ts"]))
        end = max(end, e["ts"] + e["dur"])
    return busy, end, gaps


def read_events(path: Path) -> list[dict]:
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    for e in rows:
        e["ts"], e["dur"] = float(e["ts"]), float(e["dur"])
    return rows


def summarize(folder: Path) -> None:
    """From committed events: per grid and stage, the stream syncs and the host op that made
    each; for the host-to-device uploads (a _to_copy holding a cudaMemcpyAsync), their host time
    with the sync's wait taken out (median)."""
    import statistics
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(d.glob("events-*.csv.gz")):
            ev = read_events(path)
            ops = [e for e in ev if e["cat"] == "cpu_op"]
            rt = [e for e in ev if e["cat"] == "cuda_runtime"]
            syncs = [e for e in rt if e["name"] == "cudaStreamSynchronize"]
            within = {}
            for e in syncs:
                outer = [o["name"] for o in ops if o["ts"] <= e["ts"] and
                         o["ts"] + o["dur"] >= e["ts"] + e["dur"]]
                key = outer[0] if outer else "(none)"
                within[key] = within.get(key, 0) + 1
            uploads = []
            for c in (o for o in ops if o["name"] == "aten::_to_copy"):
                inside = [r for r in rt if r["ts"] >= c["ts"] and
                          r["ts"] + r["dur"] <= c["ts"] + c["dur"]]
                if any("Memcpy" in r["name"] for r in inside):
                    wait = sum(r["dur"] for r in inside if "Synchronize" in r["name"])
                    uploads.append(c["dur"] - wait)
            line = (f"{d.name} {path.name[7:-len('.csv.gz')]:8} stream syncs {len(syncs):3d}"
                    + (f" (inside {within})" if within else ""))
            if uploads:
                line += (f"; {len(uploads)} uploads, host time without the wait: median "
                         f"{statistics.median(uploads):.1f} us")
            print(line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summarize", help="print the sync analysis of a committed trace folder")
    ap.add_argument("--out")
    ap.add_argument("--grid", default="4x5")
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--stages", default="vision,prefill,decode")
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args(argv)
    if args.summarize:
        summarize(Path(args.summarize))
        return 0
    if not args.out:
        ap.error("--out is required to trace")
    import torch
    import transformers
    from torch.profiler import ProfilerActivity, profile
    from roofsim.reference.models import build_decoder, build_vision
    from roofsim.reference.spec import DEEPSEEK_OCR
    from roofsim.reference.stages import decode_case, prefill_case, vision_case
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec, dtype, dev = DEEPSEEK_OCR, torch.bfloat16, "cuda"
    grid = parse_grid(args.grid)
    seq = spec.image_tokens(grid) + args.prompt_tokens
    stages = [s for s in args.stages.split(",") if s]
    vision = build_vision(spec, dev, dtype) if "vision" in stages else None
    decoder = build_decoder(spec, dev, dtype) if {"prefill", "decode"} & set(stages) else None
    timer = Timer(torch, dev)
    summary = {"grid": args.grid, "prompt_tokens": args.prompt_tokens, "torch": torch.__version__,
               "transformers": transformers.__version__,
               "device": torch.cuda.get_device_name(), "stages": {}}
    for stage in stages:
        case = (vision_case(grid, spec=spec, device=dev, dtype=dtype, module=vision)
                if stage == "vision" else
                prefill_case(seq, spec=spec, device=dev, dtype=dtype, module=decoder)
                if stage == "prefill" else
                decode_case(seq, spec=spec, device=dev, dtype=dtype, module=decoder))
        with torch.no_grad():
            def fresh():
                a, kw = case.make_inputs()
                timer.sync()
                return lambda: case.module(*a, **kw)
            for _ in range(args.warmup):
                fresh()()
            wall, host = timer.wall(fresh())
            run = fresh()
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                t0 = time.perf_counter()
                run()
                traced_host = time.perf_counter() - t0
                timer.sync()
        events = trace_events(prof)
        busy, window, gaps = idle_gaps(events)
        kernel = sum(e["dur"] for e in events if e["cat"] == "kernel")
        runtime = sorted((e for e in events if e["cat"] == "cuda_runtime"),
                         key=lambda e: -e["dur"])[:12]
        gaps.sort(key=lambda g: -g["idle_us"])
        s = {"wall_ms": wall * 1e3, "host_ms": host * 1e3, "traced_host_ms": traced_host * 1e3,
             "kernel_ms": kernel / 1e3, "window_ms": window / 1e3, "gpu_busy_ms": busy / 1e3,
             "gpu_idle_ms": (window - busy) / 1e3,
             "gaps_over_50us": sum(g["idle_us"] > 50 for g in gaps),
             "idle_in_gaps_over_50us_ms":
                 sum(g["idle_us"] for g in gaps if g["idle_us"] > 50) / 1e3,
             "longest_gaps": gaps[:15],
             "longest_runtime_calls": [{"name": e["name"], "us": e["dur"], "at_us": e["ts"]}
                                       for e in runtime]}
        summary["stages"][stage] = s
        with gzip.open(out / f"events-{stage}.csv.gz", "wt", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["cat", "name", "ts", "dur", "op"])
            w.writeheader()
            w.writerows(events)
        print(f"{stage:8} wall {s['wall_ms']:8.2f} ms (host {s['host_ms']:7.2f})  kernels "
              f"{s['kernel_ms']:7.2f}  traced: window {s['window_ms']:7.2f} gpu idle "
              f"{s['gpu_idle_ms']:7.2f} ({s['gaps_over_50us']} gaps > 50 us: "
              f"{s['idle_in_gaps_over_50us_ms']:.2f} ms)", flush=True)
        for g in gaps[:5]:
            print(f"    idle {g['idle_us']:8.0f} us at {g['start_us'] / 1e3:8.2f} ms before "
                  f"{g['next_op'] or g['next']}")
        for e in runtime[:4]:
            print(f"    runtime {e['name'][:40]:40} {e['dur']:8.0f} us at {e['ts'] / 1e3:8.2f} ms")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
