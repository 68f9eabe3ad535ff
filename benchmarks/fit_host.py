"""Fit the host model (roofsim.host) on DeepSeek-OCR eager wall times and write host.json.

    python benchmarks/fit_host.py [--device h200] [--grids 1x2,2x3,4x5,8x10] [--out DIR]

Data that guides the fit: calibration/<device>/e2e/e2e.csv rows of the FIT grids only (vision,
prefill, decode step; `wall_median_s`), predicted the way `roofsim predict --wall eager` does
(the captured reference's records, the engine with calibration/<device>'s kernel profile, the
eager timeline of roofsim.wall). Every other grid, the H100 and the SM-restricted H200s are the
test set (benchmarks/bench_wall_accuracy.py). Fitted: dispatch_us.matrix, dispatch_us.other
and forward_ms, minimizing the mean |log(predicted / measured)| by a coarse-to-fine grid
within their physical ranges. Not fitted (no data identifies them here): sync_us (the
reference captures no synchronizing op), graph_launch_us and graph_node_us (no CUDA-graph
replay of DeepSeek-OCR is measured); they keep roofsim.host.DEFAULT_HOST's values, and the file
says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim.calibration import load_profile  # noqa: E402
from roofsim.e2e import load_e2e, row_batch  # noqa: E402
from roofsim.engine import simulate  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.host import DEFAULT_HOST, HOST_FILE, MATRIX_HOST_KINDS, RANGES  # noqa: E402
from roofsim.io import atomic_write_text  # noqa: E402
from roofsim.predict import stage_records  # noqa: E402
from roofsim.wall import eager_timeline  # noqa: E402

FIT_GRIDS = ("1x2", "2x3", "4x5", "8x10")


def cases(rows, hw, profile, grids):
    """[(label, measured wall, [(weight, launch_s, is_matrix)])] for the batch-1 rows of `grids`."""
    out = []
    by_grid: dict[str, dict] = {}
    for r in rows:
        if r.get("status", "ok") == "ok" and r["grid"] in grids and row_batch(r) == 1:
            by_grid.setdefault(r["grid"], {})[r["stage"]] = r
    for grid, stages in by_grid.items():
        prompt = int(next(iter(stages.values()))["prompt_tokens"])
        recs = stage_records("reference", grid, prompt, 1)
        for stage, r in stages.items():
            tables = []
            for table, weight in recs.parts[stage]:
                t = simulate(table, hw, profile, launch_mode="cuda_graph").launch_time_s
                reps = np.asarray(table.count).astype(np.int64)
                m = np.isin(np.asarray(table.kind).astype(str), list(MATRIX_HOST_KINDS))
                tables.append((weight, np.repeat(t, reps), np.repeat(m, reps)))
            out.append((f"{grid} {stage}", float(r["wall_median_s"]), tables))
    return out


def predict_wall(tables, dm, do, fwd) -> float:
    wall = 0.0
    for weight, t, m in tables:
        h = np.where(m, dm, do)
        w, _ = eager_timeline(t, h, np.zeros(len(t), bool), start_s=fwd)
        wall += weight * w
    return wall


def loss(cs, p) -> float:
    return float(np.mean([abs(np.log(predict_wall(tb, *p) / meas)) for _, meas, tb in cs]))


def fit(cs) -> tuple[tuple[float, float, float], float]:
    lo = np.array([RANGES["dispatch_s"][0], RANGES["dispatch_s"][0], RANGES["forward_s"][0]])
    hi = np.array([100e-6, 100e-6, 10e-3])
    best, best_loss = None, np.inf
    for _ in range(4):                        # coarse to fine: 7 points a parameter, zoom in
        axes = [np.linspace(a, b, 7) for a, b in zip(lo, hi)]
        for dm in axes[0]:
            for do in axes[1]:
                for fwd in axes[2]:
                    v = loss(cs, (dm, do, fwd))
                    if v < best_loss:
                        best, best_loss = (float(dm), float(do), float(fwd)), v
        span = (hi - lo) / 6 * 1.5
        lo = np.maximum(np.array(best) - span, [RANGES["dispatch_s"][0]] * 2 + [0.0])
        hi = np.array(best) + span
    return best, best_loss


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="h200")
    ap.add_argument("--grids", default=",".join(FIT_GRIDS), help="FIT grids (comma-separated)")
    ap.add_argument("--out", help="folder for host.json (default calibration/<device>/host)")
    args = ap.parse_args(argv)
    grids = tuple(g for g in args.grids.split(",") if g)
    e2e = ROOT / "calibration" / args.device / "e2e"
    rows, prov = load_e2e(e2e)
    hw = load_hardware(args.device)
    profile = load_profile(ROOT / "calibration" / args.device)
    cs = cases(rows, hw, profile, grids)
    (dm, do, fwd), l = fit(cs)
    print(f"fit on {args.device} grids {','.join(grids)} ({len(cs)} stage rows): "
          f"dispatch matrix {dm * 1e6:.2f} us, other {do * 1e6:.2f} us, forward "
          f"{fwd * 1e3:.3f} ms; mean |log error| {l:.3f}")
    for label, meas, tb in cs:
        p = predict_wall(tb, dm, do, fwd)
        print(f"  {label:16} measured {meas * 1e3:8.2f} ms  predicted {p * 1e3:8.2f} ms  "
              f"{p / meas - 1:+.1%}")
    out = Path(args.out) if args.out else ROOT / "calibration" / args.device / "host"
    fitted_on = [f"calibration/{args.device}/e2e/e2e.csv grids {','.join(grids)} "
                 "(vision, prefill, decode; wall_median_s)"]
    doc = {"dispatch_us": {"matrix": round(dm * 1e6, 4), "other": round(do * 1e6, 4)},
           "forward_ms": round(fwd * 1e3, 5), "sync_us": DEFAULT_HOST.sync_s * 1e6,
           "graph_launch_us": DEFAULT_HOST.graph_launch_s * 1e6,
           "graph_node_us": DEFAULT_HOST.graph_node_s * 1e6, "device": args.device,
           "fitted_on": fitted_on,
           "not_fitted": ["sync_us: no synchronizing op in the captured reference",
                          "graph_launch_us, graph_node_us: no CUDA-graph replay measured "
                          "(defaults of roofsim.host.DEFAULT_HOST)"],
           "fit_loss_mean_abs_log": round(l, 5),
           "provenance": {"command": "python benchmarks/fit_host.py " + " ".join(argv or sys.argv[1:]),
                          "measured_device": prov.get("device_name"),
                          "cpu": prov.get("cpu", "not recorded by measure_e2e.py "
                                          f"(host: {prov.get('host', '?')})"),
                          "torch": prov.get("torch"), "transformers": prov.get("transformers"),
                          "measured": prov.get("date"),
                          "kernel_profile": f"calibration/{args.device}/profile.json"}}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / HOST_FILE, json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out / HOST_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
