"""Small kernels on a cold and a warm L2: what the calibration harness times vs what a model sees.

The harness (roofsim/calibration/timing.py) times each shape over R different input sets with
the L2 flushed before each replay: every launch reads its inputs from DRAM. In a model, the
small tensors a kernel reads were written by the kernels just before it and sit in L2. For a
kernel whose time is a few dependent round trips to memory (phi x latency in
roofsim.perfmodel), that is the difference between DRAM latency and L2 latency per trip.

Per case (a spread of the committed H200 calibration shapes whose input set is under --max-set
bytes, every kind):
- cold_s: the harness's per-launch time (CudaTimer.time);
- warm_s: a CUDA graph of R launches on ONE input set, replayed without a flush (the inputs
  stay in L2), per launch;
both include the graph's node gap. Also, contiguous copies as the models run them: torch.cat
of two halves (a CatArrayBatchedCopy kernel) beside torch.clone (cudaMemcpy), 1 MB .. 1 GB.

    PYTHONPATH=. python3 benchmarks/measure_warm_l2.py --out $OUT/warm

Writes <out>/warm-l2.csv, <out>/cat-copy.csv and <out>/warm-l2.json (provenance, NVML state),
prints a short table. Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from gpu_physics import cold_warm_rows, write_rows_csv  # noqa: E402  (one timer, one writer)

SOURCE = ROOT / "calibration" / "h200" / "measurements.csv"
CAT_BYTES = [2 ** e for e in range(20, 31, 2)]      # 1 MB .. 1 GB per direction


def pick_cases(per_group: int, max_set: float, layouts: tuple[str, ...] = ()) -> list[dict]:
    """A spread of per_group short shapes per (kind, layout) group (bfloat16; the cast groups,
    whose products are float32, in their own dtype); only `layouts` where given."""
    from roofsim.calibration.measurements import read_measurements
    from roofsim.kernels._common import layout_of
    from roofsim.records import SHAPE_PARAMS
    m = read_measurements(SOURCE)
    layout = layout_of(m["kind"], lambda name: m[name])
    keep = m.stable & (m["set_bytes"] <= max_set) & \
        ((m["dtype"] == "bfloat16") | (layout == "cast"))
    if layouts:
        keep &= np.isin(layout.astype(str), layouts)
    m, layout = m.select(keep), layout[keep]
    out = []
    for key in sorted(set(zip(m["kind"], layout, m["dtype"]))):
        rows = [i for i in range(len(m["kind"])) if (m["kind"][i], layout[i], m["dtype"][i]) == key]
        rows.sort(key=lambda i: m["kernel_s"][i])
        n = min(per_group, len(rows))
        for j in sorted({rows[round(q * (len(rows) - 1) / max(n - 1, 1))] for q in range(n)}):
            params = {p: m[p][j] for p in SHAPE_PARAMS if m[p][j] == m[p][j]}
            out.append({"case_id": m["case_id"][j], "kind": m["kind"][j], "layout": layout[j],
                        "dtype": m["dtype"][j],
                        "params": {p: int(v) if float(v).is_integer() else float(v)
                                   for p, v in params.items()}})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-group", type=int, default=6)
    ap.add_argument("--max-set", type=float, default=4e6, help="largest input set, bytes")
    ap.add_argument("--budget", type=float, default=90.0)
    ap.add_argument("--layouts", default="", help="only these groups' layouts, e.g. cast,rows,outer")
    ap.add_argument("--no-cat", action="store_true", help="skip the cat / clone copies")
    args = ap.parse_args(argv)

    import torch
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.timing import CudaTimer

    nv = Nvml()
    before = nv.snapshot()
    timer = CudaTimer()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    layouts = tuple(x for x in args.layouts.split(",") if x)
    rows = cold_warm_rows(pick_cases(args.per_group, args.max_set, layouts),
                          ("case_id", "kind", "layout"), torch, timer, nv, args.budget, t0)
    for r in rows:
        r.pop("set_bytes", None)          # the committed CSVs' columns, as before
    cats = []
    for nbytes in () if args.no_cat else CAT_BYTES:
        n = nbytes // 2
        half = n // 2
        a = torch.randn(half, dtype=torch.bfloat16, device="cuda")
        b = torch.randn(n - half, dtype=torch.bfloat16, device="cuda")
        cat = timer.time(lambda x, y: torch.cat((x, y)),
                         lambda: (torch.randn(half, dtype=torch.bfloat16, device="cuda"),
                                  torch.randn(n - half, dtype=torch.bfloat16, device="cuda")))
        clone = timer.time(torch.clone,
                           lambda: (torch.randn(n, dtype=torch.bfloat16, device="cuda"),))
        cats.append({"bytes_per_direction": nbytes, "cat_s": cat.kernel_s, "clone_s": clone.kernel_s,
                     "cat_tb_s": 2 * nbytes / cat.kernel_s / 1e12,
                     "clone_tb_s": 2 * nbytes / clone.kernel_s / 1e12, **nv.state()})
        del a, b
        timer.release()
    for name, data in (("warm-l2.csv", rows), ("cat-copy.csv", cats)):
        write_rows_csv(out / name, data)
    doc = {"what": "small kernels on a cold vs warm L2; cat vs clone copies "
                   "(benchmarks/measure_warm_l2.py)",
           "command": "python3 " + " ".join(sys.argv),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "torch": torch.__version__, "cuda": torch.version.cuda,
           "python": platform.python_version(), "device": torch.cuda.get_device_name(0),
           "device_before": before, "device_after": nv.snapshot(),
           "elapsed_s": round(time.perf_counter() - t0, 1)}
    (out / "warm-l2.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    ok = [r for r in rows if r["status"] == "ok"]
    print(f"{len(ok)}/{len(rows)} cases")
    print(f"{'kind':12s} {'layout':10s} {'n':>3s} {'cold us':>8s} {'warm us':>8s} {'cold-warm':>9s}")
    groups: dict = {}
    for r in ok:
        groups.setdefault((r["kind"], r["layout"]), []).append(r)
    for (k, lay), rs in sorted(groups.items()):
        for r in rs:
            print(f"{k:12s} {lay or '-':10s} {'':>3s} {r['cold_s'] * 1e6:8.2f} "
                  f"{r['warm_s'] * 1e6:8.2f} {(r['cold_s'] - r['warm_s']) * 1e6:9.2f}")
    for c in cats:
        print(f"cat vs clone {c['bytes_per_direction'] >> 20:5d} MB: cat {c['cat_tb_s']:.2f} TB/s, "
              f"clone {c['clone_tb_s']:.2f} TB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
