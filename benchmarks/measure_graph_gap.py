"""What a CUDA-graph replay costs per launch beyond the kernel itself (the graph's node gap).

roofsim's calibration times each kernel shape as a CUDA graph of R launches replayed between two
events (roofsim/calibration/timing.py): its per-launch time is the kernel's duration plus the
gap the GPU leaves between two dependent graph nodes. torch.profiler (CUPTI), which the
end-to-end measurements and users read, reports kernel durations without that gap. This script
measures both on the same graphs:

- per_launch_s: the calibration harness's number (CudaTimer.time: L2 flushed, median of trials);
- kernel_s: the kernels' durations in torch.profiler's trace of further replays of the same
  graph (L2 flushed before each), summed per launch;
- span_s: first kernel start to last kernel end of each profiled replay, per launch;
- gap_s = per_launch_s - kernel_s, and trace_gap_s = span_s - kernel_s (the same gap seen in
  the trace itself, without events).

Cases: a deterministic spread of the committed H200 calibration shapes (every kind, sizes from
the fastest to the slowest), `--per-kind` each.

    PYTHONPATH=. python3 benchmarks/measure_graph_gap.py --out $OUT/gap [--sms N]

Writes <out>/graph-gap-sm<N>.csv (one row per case, NVML state beside it) and
graph-gap-sm<N>.json (provenance, median gaps), prints a short table. Never changes clocks,
power or modes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from gpu_physics import write_rows_csv  # noqa: E402  (one writer for the probes' rows)

SOURCE = ROOT / "calibration" / "h200" / "measurements.csv"
SKIP_NAMES = ("FillFunctor<float>", "spin", "sleep")   # the harness's L2 flush and hold kernels
PROFILED_REPLAYS = 3


def pick_cases(per_kind: int) -> list[dict]:
    """`per_kind` shapes of every kind and dtype in SOURCE, evenly spread over the sorted
    kernel times of its stable rows (deterministic)."""
    from roofsim.calibration.measurements import read_measurements
    from roofsim.records import SHAPE_PARAMS
    m = read_measurements(SOURCE)
    m = m.select(m.stable)
    out = []
    keys = sorted(set(zip(m["kind"], m["dtype"])))
    for kind, dtype in keys:
        rows = [i for i in range(len(m["kind"])) if m["kind"][i] == kind and m["dtype"][i] == dtype]
        rows.sort(key=lambda i: m["kernel_s"][i])
        n = min(per_kind, len(rows))
        picks = sorted({rows[round(j * (len(rows) - 1) / max(n - 1, 1))] for j in range(n)})
        for i in picks:
            params = {p: m[p][i] for p in SHAPE_PARAMS if m[p][i] == m[p][i]}
            out.append({"case_id": m["case_id"][i], "kind": kind, "dtype": dtype,
                        "params": {p: int(v) if float(v).is_integer() else float(v)
                                   for p, v in params.items()},
                        "calibrated_s": float(m["kernel_s"][i])})
    return out


def trace_kernels(prof) -> list[tuple[float, float, str]]:
    """(start us, duration us, name) of every kernel in the profiled region, in start order
    (measure_e2e.gpu_events reads the profiler's trace)."""
    from measure_e2e import gpu_events
    return [(e["ts"], e["duration_s"] * 1e6, e["name"]) for e in gpu_events(prof)
            if e["category"] == "kernel"]


def measure(case: dict, timer, torch) -> dict:
    from torch.profiler import ProfilerActivity, profile
    from roofsim.calibration.runners import runner_for
    fn, make_inputs = runner_for(case["kind"])(case["params"], case["dtype"], "cuda")
    res = timer.time(fn, make_inputs)
    r = res.launches
    sets = [make_inputs() for _ in range(r)]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for s in sets:
            fn(*s)
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for s in sets:
            fn(*s)
    graph.replay()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(PROFILED_REPLAYS):
            timer.flush_l2()
            torch.cuda.synchronize()
            graph.replay()
            torch.cuda.synchronize()
    del graph
    kernels = trace_kernels(prof)
    # Replays are separated by the flush kernel: split on it.
    replays, cur = [], []
    for ts, dur, name in kernels:
        if any(s in name for s in SKIP_NAMES):
            if cur:
                replays.append(cur)
            cur = []
            continue
        cur.append((ts, dur))
    if cur:
        replays.append(cur)
    replays = [x for x in replays if x]
    if len(replays) != PROFILED_REPLAYS:
        raise RuntimeError(f"{len(replays)} profiled replays found, expected {PROFILED_REPLAYS}")
    per_replay_kernel = [sum(d for _, d in x) * 1e-6 / r for x in replays]
    per_replay_span = [(x[-1][0] + x[-1][1] - x[0][0]) * 1e-6 / r for x in replays]
    kern = statistics.median(per_replay_kernel)
    span = statistics.median(per_replay_span)
    return {"per_launch_s": res.kernel_s, "kernel_s": kern, "span_s": span,
            "gap_s": res.kernel_s - kern, "trace_gap_s": span - kern,
            "kernels_per_launch": len(replays[0]) / r, "launches": r, "graph": res.graph}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sms", type=int, default=0, help="SMs to run on (0: the whole GPU)")
    ap.add_argument("--per-kind", type=int, default=12)
    ap.add_argument("--budget", type=float, default=150.0, help="seconds; stop starting cases")
    args = ap.parse_args(argv)

    import torch
    from roofsim.calibration.green import restrict_sms
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.timing import CudaTimer

    nv = Nvml()
    before = nv.snapshot()
    restriction = restrict_sms(args.sms or None)
    timer = CudaTimer()
    cases = pick_cases(args.per_kind)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.perf_counter()
    for c in cases:
        if time.perf_counter() - t0 > args.budget:
            break
        row = {"case_id": c["case_id"], "kind": c["kind"], "dtype": c["dtype"],
               "params": json.dumps(c["params"], separators=(",", ":")),
               "calibrated_h200_s": c["calibrated_s"]}
        try:
            row.update(measure(c, timer, torch))
            row["status"] = "ok"
        except Exception as err:   # one case failing must not lose the others
            row["status"] = "error"
            row["error"] = f"{type(err).__name__}: {err}"[:200]
        row.update(nv.state())
        rows.append(row)
        timer.release()
    stem = f"graph-gap-sm{args.sms}"
    write_rows_csv(out / f"{stem}.csv", rows)
    ok = [r for r in rows if r["status"] == "ok"]
    gaps = [r["gap_s"] for r in ok]
    doc = {"what": "CUDA-graph node gap: harness per-launch time minus profiler kernel time "
                   "(benchmarks/measure_graph_gap.py)",
           "command": "python3 " + " ".join(sys.argv),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(), "device": torch.cuda.get_device_name(0),
           "sm_restriction": restriction.as_dict(), "device_before": before,
           "device_after": nv.snapshot(), "cases": len(rows), "ok": len(ok),
           "median_gap_s": statistics.median(gaps) if gaps else None,
           "median_trace_gap_s": statistics.median(r["trace_gap_s"] for r in ok) if ok else None,
           "elapsed_s": round(time.perf_counter() - t0, 1)}
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(f"sms {args.sms} probed {restriction.probed}: {len(ok)}/{len(rows)} cases, "
          f"median gap {doc['median_gap_s'] and doc['median_gap_s'] * 1e6:.3f} us, "
          f"trace gap {doc['median_trace_gap_s'] and doc['median_trace_gap_s'] * 1e6:.3f} us")
    by_kind: dict[str, list] = {}
    for r in ok:
        by_kind.setdefault(r["kind"], []).append(r)
    print(f"{'kind':14s} {'n':>3s} {'gap us (min/med/max)':>24s} {'trace gap us':>13s} "
          f"{'kernel us (min..max)':>22s}")
    for k, rs in sorted(by_kind.items()):
        g = sorted(x["gap_s"] * 1e6 for x in rs)
        tg = statistics.median(x["trace_gap_s"] * 1e6 for x in rs)
        ks = [x["kernel_s"] * 1e6 for x in rs]
        print(f"{k:14s} {len(rs):3d} {g[0]:7.2f} {statistics.median(g):7.2f} {g[-1]:8.2f} "
              f"{tg:13.2f} {min(ks):10.1f} .. {max(ks):9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
