"""Does the host's launch of a large CUDA graph bound its replay? (issue 16)

A replayed graph's wall time (CUDA events around graph.replay()) is, by roofsim's host model,
its kernels plus a gap per node plus one launch cost. If the host submits a large graph's nodes
to the GPU slower than the GPU runs them, the wall time holds the host's submission instead.
This probe captures graphs of N tiny dependent nodes (an in-place add on a small tensor, about
a microsecond each on the GPU), some with device-to-device copy or memset nodes between them
(a captured transformers step has both: DeepSeek-V2-Lite's decode step holds 78 copies in 2,393
nodes), and times, per replay: the GPU wall between two events, and the host time of
graph.replay() (perf_counter). Median of --repeats replays per graph.

    PYTHONPATH=. python3 benchmarks/measure_graph_launch.py --out $OUT/launch [--sms N]

Writes <out>/graph-launch.csv (one row per graph; NVML state beside it) and provenance.json,
prints a short table. Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from gpu_physics import write_rows_csv  # noqa: E402

class Variant(NamedTuple):
    """One kind of synthetic graph: in-place adds on `numel` float32 elements, every `every`-th
    node one of `other` instead ("memcpy", "memset", "fork", "mm"; "functions": eight kernel
    functions in turn, every node; "": adds only); `strided`: the adds run on a strided view
    (TensorIterator's non-vectorized elementwise_kernel, whose arguments carry an offset
    calculator: a larger parameter block per node, as most of a transformers step's elementwise
    nodes)."""
    name: str
    numel: int
    other: str = ""
    every: int = 0
    strided: bool = False


# Tiny adds (about 1 us per node on the GPU); adds of 4 and 16 MB (a few us, the length of a
# decode step's kernels); tiny adds with device copies, memsets, a fork to a second stream and
# back (a graph that is no longer a straight line), a small cuBLAS product, or eight kernel
# functions in turn instead of one; strided adds.
VARIANTS = (Variant("tiny", 256), Variant("4MB", 1 << 20), Variant("16MB", 1 << 22),
            Variant("tiny+memcpy/30", 256, "memcpy", 30),
            Variant("tiny+memset/30", 256, "memset", 30),
            Variant("tiny+fork/30", 256, "fork", 30), Variant("tiny+mm/10", 256, "mm", 10),
            Variant("tiny+8 functions", 256, "functions", 1),
            Variant("strided", 256, strided=True),
            Variant("strided+memcpy/30", 256, "memcpy", 30, strided=True),
            Variant("strided+memset/30", 256, "memset", 30, strided=True))
NODES = (500, 2000, 4000)
HOLD_S = 20e-3        # GPU held busy before the held timing's start event (torch.cuda._sleep)


def capture(torch, nodes: int, v: Variant):
    """A CUDA graph of `nodes` dependent nodes of variant `v`; returns (graph, kernels,
    others)."""
    numel, other, every = v.numel, v.other, v.every
    x = torch.zeros(2 * numel, device="cuda")[::2] if v.strided else \
        torch.zeros(numel, device="cuda")
    y = torch.zeros(numel, device="cuda")
    a = torch.zeros(64, 64, device="cuda", dtype=torch.bfloat16)
    side = torch.cuda.Stream()
    ops = (lambda: x.add_(1.0), lambda: x.mul_(1.0), lambda: x.sub_(1.0), lambda: x.div_(1.0),
           lambda: x.abs_(), lambda: x.neg_(), lambda: x.clamp_(min=-1e9), lambda: x.relu_())
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        x.add_(1.0)
        y.copy_(x)
        a @ a
        for op in ops:
            op()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    kernels = others = 0
    with torch.cuda.graph(g):
        main = torch.cuda.current_stream()
        for i in range(nodes):
            if other == "functions":
                ops[i % len(ops)]()
                kernels += 1
            elif other and every and i % every == every - 1:
                if other == "memcpy":
                    y.copy_(x)
                elif other == "memset":
                    y.zero_()
                elif other == "mm":
                    a @ a
                else:                                 # fork: one add on a second stream
                    side.wait_stream(main)
                    with torch.cuda.stream(side):
                        y.add_(1.0)
                    main.wait_stream(side)
                others += 1
            else:
                x.add_(1.0)
                kernels += 1
    return g, kernels, others


def time_graph(torch, g, repeats: int) -> dict:
    """Median GPU wall (CUDA events) and host time of g.replay() on an idle stream, and the GPU
    wall with the GPU held busy until the host's launch is over (measure_e2e.Timer)."""
    from measure_e2e import Timer
    timer = Timer(torch, "cuda")
    for _ in range(3):
        g.replay()
    timer.sync()
    walls, hosts = zip(*(timer.wall(g.replay) for _ in range(repeats)))
    held = [timer.held(g.replay, HOLD_S) for _ in range(repeats)]
    return {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
            "host_median_s": statistics.median(hosts), "host_min_s": min(hosts),
            "held_median_s": statistics.median(held), "repeats": repeats}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--sms", type=int, default=0)
    ap.add_argument("--variants", default="", help="comma-separated names (default: all)")
    args = ap.parse_args(argv)
    import torch
    from roofsim.calibration.nvml import Nvml
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    if args.sms:
        from roofsim.calibration.green import restrict_sms
        restriction = restrict_sms(args.sms)   # held: the green context lives while it does
    nv = Nvml()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    wanted = args.variants.split(",") if args.variants else None
    for v in VARIANTS:
        if wanted is not None and v.name not in wanted:
            continue
        name = v.name
        for n in NODES:
            g, k, o = capture(torch, n, v)
            row = {"variant": name, "numel": v.numel, "nodes": n, "kernels": k, "others": o,
                   **time_graph(torch, g, args.repeats), **nv.state()}
            rows.append(row)
            print(f"{name:17s} {n:5d} nodes  wall {row['wall_median_s'] * 1e6:8.1f} us "
                  f"({row['wall_median_s'] / n * 1e6:.2f} / node)  host "
                  f"{row['host_median_s'] * 1e6:8.1f} us  held {row['held_median_s'] * 1e6:8.1f} us",
                  flush=True)
            del g
    write_rows_csv(out / "graph-launch.csv", rows)
    (out / "provenance.json").write_text(json.dumps({
        "command": " ".join(["measure_graph_launch.py"] + list(argv or sys.argv[1:])),
        "device": torch.cuda.get_device_name(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "python": platform.python_version(),
        "sms": args.sms or None,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
