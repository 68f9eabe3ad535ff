"""Measure the reference end to end on a GPU (issue 7): vision, prefill and one decode step per
crop grid, as wall time and as kernel time, with NVML state beside every row.

    PYTHONPATH=. python3 benchmarks/measure_e2e.py --out $OUT            # on the GPU machine
    PYTHONPATH=. python3 benchmarks/measure_e2e.py --device cpu --tiny --out /tmp/e2e   # a check
    PYTHONPATH=. python3 benchmarks/measure_e2e.py --grids 2x3 --prompt-tokens 131 \
        --stages decode --batch 1,8,32 --out $OUT     # batched decode at KV 1024 (issue 13)

What runs: the transformers-based reference (roofsim.reference: bf16, SDPA, transformers'
default experts implementation, random weights), built once on the device, fed through the
stage cases of roofsim.reference.stages:
- vision:  the global view (1024) + rows x cols crops (640), SAM -> CLIP -> projector -> layout;
- prefill: image tokens + --prompt-tokens prompt tokens as inputs_embeds, fresh KV cache,
           lm_head on the last position;
- decode:  one token with a KV cache already holding the prefill length (kv_len = image
           tokens + prompt tokens), lm_head on that token.
--batch B1,B2,... (default 1) measures prefill and decode at each batch B: B sequences of the
same length in one prefill (lm_head on each one's last position), a decode step over B
sequences with a KV cache of B rows, each holding kv_len positions. The vision stage is
measured at batch 1 only (B requests run it B times: the model loops over images), once per
grid whatever --batch says. Rows name their batch (tokens and kv_len stay per sequence).
Per (grid, stage), after --warmup forwards:
- wall time: CUDA events around one forward, --repeats times, fresh inputs made (and the
  device synchronized) before each; median, min and max;
- kernel time: --profile-repeats forwards under torch.profiler (ProfilerActivity.CUDA); the sum
  of GPU kernel durations of one forward and their count (median over the profiled forwards),
  and apart from it the memcpy / memset activity the profiler reports;
- the NVML state (clocks, power, temperature, throttle reasons) right after the stage.
Outputs under --out, written as they are measured (a run cut short keeps its rows):
  e2e.csv           one row per (grid, stage, batch); files written before the batch column
                    existed hold batch 1 (roofsim.e2e.row_batch reads them so)
  kernels.csv.gz    every kernel of the last profiled forward: the case's crop grid
                    (image_grid), name, duration, launching op, launch grid (blocks) and
                    block (threads)
  provenance.json   device snapshot before and after, versions, settings, command, date
A short table is printed last. Never changes clocks, power or modes.

Copy the results to calibration/<device>/e2e/ (device = roofsim.calibration.device's id). These
measurements are a test set for `roofsim predict`: nothing is ever fitted to them.
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from roofsim.e2e import DECODE_GRAPH   # a decode step replayed as a CUDA graph (--graph)

DEFAULT_GRIDS = "1x2,2x2,2x3,3x3,4x5,5x6,6x10,8x10,10x10"
STAGES = ("vision", "prefill", "decode")
STATE_FIELDS = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "temp_c", "throttle")
ROW_FIELDS = (
    "grid", "rows", "cols", "crops", "image_tokens", "prompt_tokens", "stage", "batch", "tokens",
    "kv_len", "status", "error",
    "wall_median_s", "wall_min_s", "wall_max_s", "wall_repeats",
    "kernel_s", "kernel_min_s", "kernel_max_s", "kernel_count",
    "memcpy_s", "memcpy_count", "memset_s", "memset_count", "profiler_device_s",
    "profile_repeats", "host_s", "host_probe_s", "host_probe_repeats_s",
    "wall_held_median_s", "wall_held_min_s",
) + STATE_FIELDS + ("timestamp",)
# kernels.csv.gz: `image_grid` is the case's crop grid ('2x3'); `grid` / `block` the kernel's
# launch (blocks, threads per block) as CUPTI recorded it, as in measure_models.py. Until session
# 21 the launch's block count overwrote the case's grid in one `grid` column: in the traces
# written since launch shapes were recorded (session 12: calibration/h200*/e2e-fresh26 to -47,
# e2e-host), `grid` holds blocks (0 for memcpy / memset) and a kernel row's crop grid is lost
# (each such file profiles the cases in e2e.csv's order); the older ones hold the crop grid.
KERNEL_FIELDS = ("image_grid", "stage", "batch", "index", "category", "name", "duration_s",
                 "op", "input_dims", "grid", "block")
GPU_CATEGORIES = ("kernel", "gpu_memcpy", "gpu_memset")


METHOD = ("wall: CUDA events around one forward, median of repeats, fresh inputs and a device "
          "sync before each; kernel: sum of GPU kernel durations of one forward from "
          "torch.profiler's trace (ProfilerActivity.CUDA), median of the profiled forwards; "
          "memcpy/memset listed apart")


def sdpa_enabled(torch) -> dict:
    """Which SDPA backends PyTorch may pick on this machine (provenance)."""
    cuda = torch.backends.cuda
    return {"flash": cuda.flash_sdp_enabled(), "efficient": cuda.mem_efficient_sdp_enabled(),
            "cudnn": getattr(cuda, "cudnn_sdp_enabled", lambda: None)(),
            "math": cuda.math_sdp_enabled()}


def parse_grid(text: str) -> tuple[int, int]:
    try:
        r, c = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--grids: {text!r} is not RxC (e.g. 2x3)") from None
    if r < 1 or c < 1:
        raise SystemExit(f"--grids: {text!r}: rows and columns must be >= 1")
    return r, c


def parse_batches(text: str) -> list[int]:
    """--batch: comma-separated batch sizes >= 1, in the order given, each once."""
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"--batch: {text!r} is not a comma-separated list of integers") from None
    if not out or any(b < 1 for b in out):
        raise SystemExit(f"--batch: {text!r}: give one or more batch sizes >= 1")
    return list(dict.fromkeys(out))


def stage_batches(stage: str, batches: list[int]) -> list[int]:
    """The batches a stage is measured at: the vision stage is one image (batch 1)."""
    return [1] if stage == "vision" else batches


def tiny_spec():
    """A small variant for a CPU check of this script: 2 layers everywhere, small views."""
    from roofsim.reference.spec import DEEPSEEK_OCR
    s = DEEPSEEK_OCR
    return replace(s, sam=replace(s.sam, layers=2, global_layers=(1,)),
                   clip=replace(s.clip, layers=2),
                   decoder=replace(s.decoder, layers=2, vocab=512),
                   global_size=256, crop_size=128)


# ---- profiling ---------------------------------------------------------------------------

def chrome_trace(prof) -> tuple[list[dict], dict]:
    """(events, cpu_op event by External id) of a profiled region, from the profiler's Chrome
    trace (written to a temporary file and read back)."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            trace = json.load(f)
    finally:
        os.unlink(path)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    ops = {}
    for e in events:
        if e.get("cat") == "cpu_op":
            ext = (e.get("args") or {}).get("External id")
            if ext is not None:
                ops[ext] = e
    return events, ops


def gpu_events(prof) -> list[dict]:
    """GPU activity of a profiled region from the profiler's Chrome trace: one dict per kernel,
    memcpy or memset, in start order, with the aten op that launched it (via External id)."""
    events, ops = chrome_trace(prof)
    out = []
    for e in events:
        cat = e.get("cat")
        if cat not in GPU_CATEGORIES or "dur" not in e:
            continue
        args = e.get("args") or {}
        op = ops.get(args.get("External id"), {})
        out.append({"category": cat, "name": e.get("name", ""), "ts": float(e.get("ts", 0.0)),
                    "duration_s": float(e["dur"]) * 1e-6, "op": op.get("name", ""),
                    "input_dims": json.dumps((op.get("args") or {}).get("Input Dims", ""),
                                             separators=(",", ":")),
                    **launch_shape(args)})
    out.sort(key=lambda r: r["ts"])
    return out


def launch_shape(args: dict) -> dict:
    """A kernel's launch as Kineto records it (CUPTI): blocks in the grid, threads per block,
    dynamic + static shared memory per block (bytes), registers per thread; 0 where absent."""
    def count(v):
        return math.prod(int(x) for x in v) if isinstance(v, (list, tuple)) and v else 0
    return {"grid": count(args.get("grid")), "block": count(args.get("block")),
            "smem": int(args.get("shared memory", 0) or 0),
            "regs": int(args.get("registers per thread", 0) or 0)}


def profiler_device_s(prof) -> float:
    """Cross-check of the trace sum: self device time summed over the profiler's op averages."""
    total = 0.0
    for e in prof.key_averages():
        v = getattr(e, "self_device_time_total", None)
        if v is None:
            v = getattr(e, "self_cuda_time_total", 0.0)
        total += float(v or 0.0)
    return total * 1e-6


PROFILED_CALLS = 3


def profile_once(fn, inputs, torch) -> list[dict]:
    """Kernels of one call of fn(*inputs): PROFILED_CALLS eager calls profiled, grouped by kernel
    name (calls per call of fn, mean duration)."""
    from torch.profiler import ProfilerActivity, profile
    fn(*inputs)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(PROFILED_CALLS):
            fn(*inputs)
        torch.cuda.synchronize()
    by, launch = collections.defaultdict(list), {}
    for e in gpu_events(prof):
        by[e["name"]].append(e["duration_s"])
        launch[e["name"]] = {k: e[k] for k in ("grid", "block", "smem", "regs")}
    return [{"name": name, "calls": len(d) / PROFILED_CALLS, "duration_s": sum(d) / len(d),
             **launch[name]} for name, d in by.items()]


def summarize_gpu(events: list[dict]) -> dict:
    s = {}
    for cat, key in (("kernel", "kernel"), ("gpu_memcpy", "memcpy"), ("gpu_memset", "memset")):
        sel = [e["duration_s"] for e in events if e["category"] == cat]
        s[f"{key}_s"] = math.fsum(sel)
        s[f"{key}_count"] = len(sel)
    return s


# ---- one stage ---------------------------------------------------------------------------

class Timer:
    def __init__(self, torch, device):
        self.torch = torch
        self.cuda = torch.device(device).type == "cuda"

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def wall(self, fn) -> tuple[float, float]:
        """(device wall time from CUDA events, host time) of fn(); host timers on CPU."""
        torch = self.torch
        self.sync()
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0 = time.perf_counter()
            start.record()
            fn()
            end.record()
            host = time.perf_counter() - t0
            end.synchronize()
            return start.elapsed_time(end) * 1e-3, host
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        return t, t

    def held(self, fn, hold_s: float) -> float:
        """Device time of fn() (CUDA events) with the GPU held busy for about hold_s
        (torch.cuda._sleep) before the start event, so that the host has issued fn's work by the
        time the GPU reaches it: the GPU's time alone, without the launch an idle stream waits
        for. CUDA only."""
        from roofsim.calibration.timing import ASSUMED_CLOCK_HZ
        torch = self.torch
        self.sync()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(int(hold_s * ASSUMED_CLOCK_HZ))
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e-3


# A graph replay timed again with the GPU held busy (torch.cuda._sleep) before its start event,
# so that the host's cudaGraphLaunch is over before the GPU reaches the graph: wall_held is the
# graph's GPU time alone, wall less wall_held the launch latency an idle stream exposes.
GRAPH_HOLD_S = 5e-3


def time_graph(step, reset, torch, timer: Timer, warmup: int, repeats: int,
               profile_repeats: int = 0) -> tuple[dict, list[dict]]:
    """(row, kernels) of `step` (one decode step over a StaticCache) captured as a CUDA graph
    and replayed, `reset` (the cache's length set back) before each replay: wall time per replay
    on an idle stream and held (GRAPH_HOLD_S), the host's time in graph.replay(), and, with
    `profile_repeats`, the kernels of the replay as torch.profiler's trace gives them (CUPTI
    records each kernel node of a replayed graph): their summed time and count (median over the
    profiled replays), so that a graph's wall time splits into its kernels and what the graph
    adds between them. CUDA only (RuntimeError elsewhere: the caller records the row as
    skipped)."""
    from torch.profiler import ProfilerActivity, profile
    if not timer.cuda:
        raise RuntimeError("CUDA graphs need a CUDA device")
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(stream):
        for _ in range(2):                      # warm up allocations outside the graph
            reset()
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    reset()
    with torch.no_grad(), torch.cuda.graph(graph):
        step()
    for _ in range(warmup):
        reset()
        graph.replay()
    walls, hosts = [], []
    for _ in range(repeats):
        reset()
        timer.sync()
        w, h = timer.wall(graph.replay)
        walls.append(w)
        hosts.append(h)
    held = []
    for _ in range(repeats):
        reset()
        held.append(timer.held(graph.replay, GRAPH_HOLD_S))
    # host_s: how long graph.replay() held the host (cudaGraphLaunch and the events), median
    row = {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
           "wall_max_s": max(walls), "wall_repeats": repeats,
           "host_s": statistics.median(hosts),
           "wall_held_median_s": statistics.median(held), "wall_held_min_s": min(held)}
    sums, last = [], []
    for _ in range(profile_repeats):
        reset()
        timer.sync()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            graph.replay()
            timer.sync()
        last = gpu_events(prof)          # kernels, and any memcpy / memset nodes
        sums.append(summarize_gpu(last))
    if sums:
        row.update(profiled_median(sums))
    return row, last


def reference_graph_decode(decoder, spec, kv_len: int, batch: int, layers, device, dtype, torch,
                           timer: Timer, warmup: int, repeats: int,
                           profile_repeats: int) -> tuple[dict, list[dict]]:
    """The reference's decode step over a StaticCache of kv_len + 1 positions holding kv_len
    (roofsim.reference.models.make_static_kv_cache), captured as a CUDA graph and replayed
    (time_graph): the step roofsim's graph mode predicts (DeepseekOCR.graph_parts)."""
    from roofsim.reference.models import make_static_kv_cache
    if not timer.cuda:
        raise RuntimeError("CUDA graphs need a CUDA device")
    cache = make_static_kv_cache(spec, kv_len, device, dtype, layers=layers, batch=batch)
    lengths = [layer.cumulative_length for layer in cache.layers]
    x = torch.randn(batch, 1, spec.decoder.hidden, device=device, dtype=dtype)

    def reset():
        for t in lengths:
            t.fill_(kv_len)

    return time_graph(lambda: decoder(x, cache), reset, torch, timer, warmup, repeats,
                      profile_repeats)


def check_repeats(args) -> None:
    """--repeats, --warmup and --profile-repeats of this harness's scripts (here and
    measure_models.py) in range, else one line (SystemExit): a median needs one repeat."""
    if args.repeats < 1 or args.warmup < 0 or args.profile_repeats < 0:
        raise SystemExit("--repeats must be >= 1, --warmup and --profile-repeats >= 0")


def host_probe(torch, timer: Timer, repeat: bool = False) -> float:
    """The host's speed in this process, just now (roofsim.calibration.hostprobe): each wall
    row carries it (host_probe_s, before the case's repeats; host_probe_repeats_s, the median of
    the short readings taken right before each timed repeat, `repeat`)."""
    from roofsim.calibration import hostprobe
    device = "cuda" if timer.cuda else "cpu"
    if repeat:
        return hostprobe.host_probe(torch, device, ops=hostprobe.REPEAT_OPS, rounds=1,
                                    warmup=hostprobe.REPEAT_WARMUP_OPS)
    return hostprobe.host_probe(torch, device)


def measure_case(case, torch, timer: Timer, warmup: int, repeats: int, profile_repeats: int):
    """Wall and kernel time of one stage case. Fresh inputs before every forward."""
    from torch.profiler import ProfilerActivity, profile
    module = case.module

    def fresh():
        args, kwargs = case.make_inputs()
        timer.sync()
        return lambda: module(*args, **kwargs)

    with torch.no_grad():
        for _ in range(warmup):
            fresh()()
        timer.sync()
        probe = host_probe(torch, timer)
        walls, hosts, probes = [], [], []
        for _ in range(repeats):
            run = fresh()
            probes.append(host_probe(torch, timer, repeat=True))
            w, h = timer.wall(run)
            walls.append(w)
            hosts.append(h)
        activities = [ProfilerActivity.CUDA] if timer.cuda else [ProfilerActivity.CPU]
        if timer.cuda:
            activities.append(ProfilerActivity.CPU)     # to name each kernel's aten op
        sums, last = [], []
        for _ in range(profile_repeats):
            run = fresh()
            with profile(activities=activities, record_shapes=True) as prof:
                run()
                timer.sync()
            last = gpu_events(prof)
            sums.append(summarize_gpu(last))
            try:
                sums[-1]["profiler_device_s"] = profiler_device_s(prof)
            except Exception:  # a cross-check only: never lose the row for it
                sums[-1]["profiler_device_s"] = ""
    row = {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
           "wall_max_s": max(walls), "wall_repeats": repeats, "host_s": statistics.median(hosts),
           "host_probe_s": probe, "host_probe_repeats_s": statistics.median(probes)}
    if sums:                                  # --profile-repeats 0: walls only
        row.update(profiled_median(sums))
    return row, last


def profiled_median(sums: list[dict]) -> dict:
    """The row fields of a case's profiled runs (summarize_gpu of each): the run of median
    kernel time, the kernel time's min and max, and how many runs were profiled."""
    ks = [s["kernel_s"] for s in sums]
    med = sorted(range(len(ks)), key=lambda i: ks[i])[len(ks) // 2]
    return {**sums[med], "kernel_min_s": min(ks), "kernel_max_s": max(ks),
            "profile_repeats": len(sums)}


# ---- outputs -------------------------------------------------------------------------------

class Outputs:
    """e2e.csv (one row per case) and kernels.csv.gz (every kernel of the last profiled
    forward) of a measurement folder, written as measured: a run cut short keeps its rows."""

    def __init__(self, folder: Path, row_fields, kernel_fields, nv):
        self.row_fields, self.nv = row_fields, nv
        self.f_rows = open(folder / "e2e.csv", "w", newline="")
        self.rows = csv.DictWriter(self.f_rows, fieldnames=row_fields)
        self.rows.writeheader()
        self.f_kern = gzip.open(folder / "kernels.csv.gz", "wt", newline="")
        self.kernels = csv.DictWriter(self.f_kern, fieldnames=kernel_fields, extrasaction="ignore")
        self.kernels.writeheader()

    def write(self, row: dict, kernels, case: dict) -> dict:
        """Stamp `row` with the NVML state and the time, write it and the case's kernels."""
        row.update(self.nv.state())
        row["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.rows.writerow({k: row.get(k, "") for k in self.row_fields})
        self.f_rows.flush()
        for i, k in enumerate(kernels):
            self.kernels.writerow({**case, "index": i, **k})
        self.f_kern.flush()
        return row

    def close(self) -> None:
        self.f_rows.close()
        self.f_kern.close()


# ---- main ----------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (a check)")
    ap.add_argument("--grids", default=DEFAULT_GRIDS, help=f"crop grids RxC (default {DEFAULT_GRIDS})")
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--batch", default="1",
                    help="prefill and decode batch sizes, comma-separated (default 1; vision: 1)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--profile-repeats", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="2-layer model, small views (CPU check)")
    ap.add_argument("--graph", action="store_true",
                    help="also time the decode step replayed as a CUDA graph over a StaticCache "
                         "(stage decode_graph, after decode; skipped without CUDA)")
    ap.add_argument("--sms", type=int, default=0,
                    help="run on N of the GPU's SMs (a CUDA green context; 0: the whole GPU)")
    ap.add_argument("--budget", type=float, default=0.0,
                    help="stop starting new grids after this many seconds (0: no limit)")
    args = ap.parse_args(argv)
    check_repeats(args)
    t_start = time.perf_counter()

    import torch
    import transformers
    from roofsim.calibration.device import current_device_name, device_id
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.run import host_cpu
    from roofsim.reference.models import build_decoder, build_vision
    from roofsim.reference.spec import DEEPSEEK_OCR
    from roofsim.reference.stages import decode_case, prefill_case, vision_case

    grids = [parse_grid(g) for g in args.grids.split(",") if g]
    batches = parse_batches(args.batch)
    stages = [s for s in args.stages.split(",") if s]
    for s in stages:
        if s not in STAGES:
            raise SystemExit(f"--stages: unknown stage {s!r}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device (use --device cpu for a check)")
    spec = tiny_spec() if args.tiny else DEEPSEEK_OCR
    layers = spec.decoder.layers if args.tiny else None
    dtype = torch.bfloat16
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nv = Nvml()
    name = current_device_name() if args.device.startswith("cuda") else "cpu"
    restriction = None
    if args.sms:
        from roofsim.calibration.green import restrict_sms
        restriction = restrict_sms(args.sms)
    prov = {
        "what": "roofsim reference end to end: vision, prefill, one decode step per crop grid",
        "device_id": device_id(name) + (f"-sm{restriction.sms}" if restriction else ""),
        "device_name": name,
        "sm_restriction": restriction.as_dict() if restriction else None,
        "device_before": nv.snapshot(), "torch": torch.__version__,
        "cuda": getattr(torch.version, "cuda", None), "transformers": transformers.__version__,
        "python": platform.python_version(), "host": platform.node(), "host_cpu": host_cpu(),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]) if argv is None else
        "measure_e2e.py " + " ".join(argv),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {"grids": [f"{r}x{c}" for r, c in grids], "prompt_tokens": args.prompt_tokens,
                     "batch": batches,
                     "warmup": args.warmup, "repeats": args.repeats,
                     "profile_repeats": args.profile_repeats, "dtype": "bfloat16",
                     "graph": args.graph,
                     "attention": "sdpa", "experts": "grouped_mm (transformers' default)",
                     "tiny": args.tiny, "device": args.device},
        "spec": spec.as_dict(),
        "method": METHOD,
    }
    if args.device.startswith("cuda"):
        prov["sdpa"] = sdpa_enabled(torch)
    (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str) + "\n")

    print(f"device {name} ({prov['device_id']}), torch {torch.__version__}, transformers "
          f"{transformers.__version__}", flush=True)
    t0 = time.perf_counter()
    vision = build_vision(spec, args.device, dtype) if "vision" in stages else None
    decoder = build_decoder(spec, args.device, dtype, layers=layers) \
        if ("prefill" in stages or "decode" in stages) else None
    timer = Timer(torch, args.device)
    timer.sync()
    print(f"built the reference in {time.perf_counter() - t0:.1f} s", flush=True)

    outputs = Outputs(out, ROW_FIELDS, KERNEL_FIELDS, nv)
    results = []
    try:
        for rows, cols in grids:
            if args.budget and time.perf_counter() - t_start > args.budget:
                print(f"budget reached: grids from {rows}x{cols} not measured", flush=True)
                break
            image_tokens = spec.image_tokens((rows, cols))
            seq = image_tokens + args.prompt_tokens
            plan = [(s, b) for s in stages for b in stage_batches(s, batches)]
            if args.graph and "decode" in stages:
                plan += [(DECODE_GRAPH, b) for b in stage_batches("decode", batches)]
            for stage, batch in plan:
                base = {"grid": f"{rows}x{cols}", "rows": rows, "cols": cols,
                        "crops": rows * cols, "image_tokens": image_tokens,
                        "prompt_tokens": args.prompt_tokens, "stage": stage, "batch": batch}
                if stage == "vision":
                    case = vision_case((rows, cols), spec=spec, device=args.device, dtype=dtype,
                                       module=vision)
                    base.update(tokens=image_tokens, kv_len=0)
                elif stage == "prefill":
                    case = prefill_case(seq, spec=spec, device=args.device, dtype=dtype,
                                        module=decoder, layers=layers, batch=batch)
                    base.update(tokens=seq, kv_len=0)
                elif stage == DECODE_GRAPH:
                    case = None
                    base.update(tokens=1, kv_len=seq)
                else:
                    case = decode_case(seq, spec=spec, device=args.device, dtype=dtype,
                                       module=decoder, layers=layers, batch=batch)
                    base.update(tokens=1, kv_len=seq)
                try:
                    if case is None:
                        try:
                            row, kernels = reference_graph_decode(
                                decoder, spec, seq, batch, layers, args.device, dtype, torch,
                                timer, args.warmup, args.repeats, args.profile_repeats)
                        except Exception as err:   # no CUDA, or a capture this install refuses
                            row, kernels = {"status": "skipped",
                                            "error": f"{type(err).__name__}: {err}"[:300]}, []
                    else:
                        row, kernels = measure_case(case, torch, timer, args.warmup,
                                                    args.repeats, args.profile_repeats)
                    row.setdefault("status", "ok")
                    row.setdefault("error", "")
                except Exception as err:  # OOM or an op that refuses: record it and go on
                    row, kernels = {"status": "failed", "error": f"{type(err).__name__}: {err}"[:300]}, []
                    if timer.cuda:
                        torch.cuda.empty_cache()
                row.update(base)
                results.append(outputs.write(row, kernels, {"image_grid": base["grid"],
                                                            "stage": stage, "batch": batch}))
                print(f"{base['grid']:>6} {stage:<8} b={batch:<3} {row['status']:<6} "
                      f"wall {row.get('wall_median_s', float('nan')) * 1e3:9.3f} ms  kernel "
                      f"{row.get('kernel_s', float('nan')) * 1e3:9.3f} ms  "
                      f"({row.get('kernel_count', 0)} kernels)  {row['error']}", flush=True)
            if timer.cuda:
                torch.cuda.empty_cache()
    finally:
        outputs.close()
        prov["device_after"] = nv.snapshot()
        prov["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str) + "\n")

    print("\ngrid    stage    batch   wall_ms   kernel_ms  kernels  sm_MHz  throttle")
    for r in results:
        print(f"{r['grid']:>6} {r['stage']:<8} {r['batch']:5} "
              f"{r.get('wall_median_s', float('nan')) * 1e3:9.3f} "
              f"{r.get('kernel_s', float('nan')) * 1e3:10.3f} {r.get('kernel_count', 0):8} "
              f"{r.get('sm_clock_mhz', '')!s:>7} {r.get('throttle', '')}")
    failed = [r for r in results if r["status"] == "failed"]   # a skipped graph is no failure
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
