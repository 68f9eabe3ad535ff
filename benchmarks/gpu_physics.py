"""Microbenchmarks of the quantities roofsim's physical model is built from, on the visible GPU
(optionally restricted to N SMs by a CUDA green context):

- sms:       distinct SMs that kernels ran on (roofsim.calibration.green.probe_sm_count);
- latency:   dependent-load (pointer chase) latency over buffers of several sizes, one thread,
             each launch going on along the cycle where the last stopped: L2-resident sizes give
             the L2 hit latency, large ones the DRAM latency;
- copy:      device-to-device copy (dst.copy_(src)) of 4 KiB .. 2 GiB per direction, on a cold
             L2 (roofsim's harness: CUDA-graph replays over rotating buffers, L2 flushed) and on
             a warm L2 (the same buffers every launch, sizes under the L2): achieved bandwidth
             counts bytes read + written;
- add:       torch.add(a, b, out=c) of bf16 vectors, 4 KiB .. 2 GiB per operand, cold L2: the
             vectorized elementwise kernel (each thread 4 x 16-byte loads in flight) keeps more
             bytes in flight per SM than the copy, so its plateau on few SMs is the per-SM
             bandwidth (hardware sm_mem_bandwidth_gbps); bytes = 2 read + 1 written;
- gemm:      bf16 torch.mm at square and skinny shapes (harness, cold L2);
- launch:    a one-element add: the graph launch floor and the eager launch time.

    PYTHONPATH=. python3 benchmarks/gpu_physics.py --sms 40 --out $OUT/physics

Writes <out>/physics-sm<N>.json (N = 0 for the whole GPU) with the NVML state before and after
and torch's versions, and prints a short table. Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

COPY_SIZES = [2**e for e in range(12, 32)]            # bytes per direction, 4 KiB .. 2 GiB
LATENCY_SIZES = [2**e for e in (20, 22, 24, 26, 28, 30)]   # 1 MiB .. 1 GiB
GEMMS = [(8192, 8192, 8192), (4096, 4096, 4096), (2048, 2048, 2048), (1024, 1024, 1024),
         (16384, 1024, 4096), (1, 4096, 4096), (16, 4096, 4096), (128, 4096, 4096),
         (1024, 1280, 1280)]


# Hops of the chase's warm-up: the whole cycle of every buffer up to 16 MiB (L2-resident on
# Hopper's 50 MB L2), a sixteenth of a 256 MiB one; the timed runs then go on to lines it did
# not reach. Far beyond the L2 (1 GiB) nearly every hop is a DRAM access.
WARM_HOPS = 2**17


def chase_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def _chase(ptr, state_ptr, steps):
        idx = tl.load(state_ptr)   # where the previous launch stopped
        for _ in range(steps):
            idx = tl.load(ptr + idx)
        tl.store(state_ptr, idx)
    return _chase


def latency_ns(torch, size_bytes: int, steps: int = 20000, line: int = 128) -> float:
    """Nanoseconds per dependent load over a random cycle through `size_bytes` (one cache line
    per hop, lines in random order), after a warm-up of WARM_HOPS hops. Every launch goes on
    from where the previous one stopped: restarting at the same line would walk the lines the
    warm-up and the earlier runs just left in the L2 (20,000 hops of 128 bytes, 2.6 MB), and a
    buffer of any size would read as the L2's latency (until session 37 it did: 150-155 ns from
    1 MiB to 1 GiB on the H200 and the H100, calibration/*/physics)."""
    kernel = chase_kernel()
    per_line = line // 8
    lines = max(size_bytes // line, 2)
    order = torch.randperm(lines, device="cuda", dtype=torch.int64)
    buf = torch.zeros(lines * per_line, dtype=torch.int64, device="cuda")
    nxt = torch.roll(order, -1)
    buf[order * per_line] = nxt * per_line
    state = torch.zeros(1, dtype=torch.int64, device="cuda")
    kernel[(1,)](buf, state, min(lines, WARM_HOPS))   # a buffer the L2 holds: all of it warm
    torch.cuda.synchronize()
    times = []
    for _ in range(3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        kernel[(1,)](buf, state, steps)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return statistics.median(times) / steps * 1e9


def graph_per_launch(fn, inputs, launches: int, trials: int, torch, warmup: int = 1) -> float:
    """Per-launch seconds of fn(*inputs) captured `launches` times in one CUDA graph and
    replayed on the same inputs (no L2 flush: they stay warm), the median of `trials`
    replays timed by events. `warmup` eager calls on a side stream come first (allocations
    outside the graph)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            fn(*inputs)
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(launches):
            fn(*inputs)
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(trials):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3 / launches)
    del graph
    return statistics.median(times)


def warm_copy_s(torch, nbytes: int, launches: int = 100) -> float:
    """Per-launch seconds of dst.copy_(src) with both in L2 (the same buffers every launch)."""
    n = nbytes // 2
    src = torch.randn(n, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    return graph_per_launch(lambda d, s: d.copy_(s), (dst, src), launches, 7, torch)


def cold_warm_rows(cases, keys: tuple[str, ...], torch, timer, nv, budget_s: float,
                   started: float) -> list[dict]:
    """Each case ({kind, dtype, params} and `keys` copied into its row) timed by the calibration
    runner's op: cold_s, the harness's per-launch time (timer: roofsim's CudaTimer, L2 flushed,
    input sets rotated), and warm_s, the same launches replayed on one input set
    (graph_per_launch); launches and set_bytes; status, and the NVML state after. Stops starting
    cases budget_s after `started` (time.perf_counter)."""
    from roofsim.calibration.runners import runner_for
    rows = []
    for c in cases:
        if time.perf_counter() - started > budget_s:
            break
        row = {k: c[k] for k in keys}
        try:
            fn, make = runner_for(c["kind"])(c["params"], c["dtype"], "cuda")
            cold = timer.time(fn, make)
            row.update(cold_s=cold.kernel_s, launches=cold.launches, set_bytes=cold.set_bytes,
                       warm_s=graph_per_launch(fn, make(), cold.launches, cold.trials, torch,
                                               warmup=3),
                       status="ok")
        except Exception as err:
            row.update(status="error", error=f"{type(err).__name__}: {err}"[:200])
        row.update(nv.state())
        rows.append(row)
        timer.release()
    return rows


def write_rows_csv(path, rows: list[dict]) -> None:
    """rows as a CSV whose columns are every key of every row, in order of first appearance."""
    fields = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sms", type=int, default=0, help="SMs to run on (0: the whole GPU)")
    args = ap.parse_args(argv)

    import torch
    from roofsim.calibration.green import restrict_sms
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.timing import CudaTimer

    nv = Nvml()
    before = nv.snapshot()
    restriction = restrict_sms(args.sms or None)
    timer = CudaTimer()
    doc = {"what": "roofsim physical-model microbenchmarks (benchmarks/gpu_physics.py)",
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(), "device": torch.cuda.get_device_name(0),
           "sm_restriction": restriction.as_dict(), "device_before": before,
           "latency": [], "copy": [], "add": [], "gemm": [], "launch": {}}
    t0 = time.perf_counter()

    def note(section, row):
        row.update(nv.state())
        doc[section].append(row)

    for size in LATENCY_SIZES:
        try:
            note("latency", {"bytes": size, "ns": latency_ns(torch, size)})
        except Exception as err:   # Triton missing or refusing: the rest still runs
            note("latency", {"bytes": size, "error": f"{type(err).__name__}: {err}"[:200]})
            break
    for size in COPY_SIZES:
        n = size // 2

        def make(n=n):
            return (torch.empty(n, dtype=torch.bfloat16, device="cuda"),
                    torch.randn(n, dtype=torch.bfloat16, device="cuda"))
        r = timer.time(lambda d, s: d.copy_(s), make)
        row = {"bytes": size, "cold_s": r.kernel_s, "cold_eager_s": r.eager_s,
               "launches": r.launches, "graph": r.graph}
        if size <= timer.l2_bytes // 4:
            row["warm_s"] = warm_copy_s(torch, size)
        note("copy", row)
        timer.release()
    for size in sorted(set(COPY_SIZES[::2] + COPY_SIZES[-1:])):
        n = size // 2

        def make(n=n):
            return (torch.randn(n, dtype=torch.bfloat16, device="cuda"),
                    torch.randn(n, dtype=torch.bfloat16, device="cuda"),
                    torch.empty(n, dtype=torch.bfloat16, device="cuda"))
        r = timer.time(lambda a, b, c: torch.add(a, b, out=c), make)
        note("add", {"bytes": size, "cold_s": r.kernel_s, "launches": r.launches,
                     "graph": r.graph})
        timer.release()
    for m, n, k in GEMMS:
        def make(m=m, n=n, k=k):
            return (torch.randn(m, k, dtype=torch.bfloat16, device="cuda"),
                    torch.randn(k, n, dtype=torch.bfloat16, device="cuda") * k ** -0.5)
        r = timer.time(torch.mm, make)
        note("gemm", {"m": m, "n": n, "k": k, "kernel_s": r.kernel_s, "eager_s": r.eager_s,
                      "graph": r.graph, "tflops": 2 * m * n * k / r.kernel_s / 1e12})
        timer.release()
    one = lambda: (torch.randn(1, device="cuda"),)   # noqa: E731
    r = timer.time(lambda x: x.add_(1.0), one)
    doc["launch"] = {"graph_s": r.kernel_s, "eager_s": r.eager_s, "graph": r.graph}
    doc["device_after"] = nv.snapshot()
    doc["elapsed_s"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"physics-sm{args.sms}.json"
    path.write_text(json.dumps(doc, indent=1, default=str) + "\n")

    print(f"sms requested {args.sms} probed {restriction.probed} ({doc['elapsed_s']} s) -> {path}")
    lat = ", ".join(f"{x['bytes'] >> 20}MiB {x.get('ns', float('nan')):.0f}ns"
                    for x in doc["latency"])
    print(f"  latency: {lat}")
    for x in doc["copy"][::3] + doc["copy"][-1:]:
        warm = f" warm {2 * x['bytes'] / x['warm_s'] / 1e9:7.0f}" if "warm_s" in x else ""
        print(f"  copy {x['bytes']:>11} B: cold {2 * x['bytes'] / x['cold_s'] / 1e9:7.0f} GB/s "
              f"({x['cold_s'] * 1e6:8.2f} us){warm}")
    for x in doc["add"][::2] + doc["add"][-1:]:
        print(f"  add  {x['bytes']:>11} B: cold {3 * x['bytes'] / x['cold_s'] / 1e9:7.0f} GB/s "
              f"({x['cold_s'] * 1e6:8.2f} us)")
    for x in doc["gemm"]:
        print(f"  gemm {x['m']}x{x['n']}x{x['k']}: {x['tflops']:6.1f} TFLOP/s "
              f"(graph {x['kernel_s'] * 1e6:.1f} us, eager {x['eager_s'] * 1e6:.1f} us)")
    print(f"  launch: graph {r.kernel_s * 1e6:.2f} us, eager {r.eager_s * 1e6:.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
