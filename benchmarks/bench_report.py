"""Benchmark: `roofsim report` end to end (target: under 60 s on a 2-core machine, capture
included). Prints the wall time per phase, cold (empty capture cache) and warm.

    python benchmarks/bench_report.py [--grids 1x2,2x3] [--warm-only] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from roofsim.hardware import load_hardware
from roofsim.report import ReportOptions, build_report
grids = json.loads(sys.argv[2])
res = build_report(ReportOptions(hardware=load_hardware("rtx-5090"), out_dir=Path(sys.argv[1]),
                                 grids=[tuple(g) for g in grids] if grids else None,
                                 progress=False))
print(json.dumps({"total_s": time.perf_counter() - t0, "report_s": res.elapsed_s,
                  "phases": res.phases, "figures": len(res.figures)}))
"""


def run_once(out: Path, grids, cache: Path) -> dict:
    import json
    env = dict(os.environ, ROOFSIM_CACHE_DIR=str(cache))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), json.dumps(grids)], env=env,
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    doc["wall_s"] = wall
    doc["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", help="crop grids (default: the specification's 47)")
    ap.add_argument("--warm-only", action="store_true", help="skip the cold-cache run")
    ap.add_argument("--out", help="report folder (default: a temporary one)")
    args = ap.parse_args()
    grids = ([[int(v) for v in g.split("x")] for g in args.grids.split(",")]
             if args.grids else None)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or Path(tmp) / "report")
        cache = Path(tmp) / "cache"
        runs = []
        if not args.warm_only:
            runs.append(("cold cache", run_once(out, grids, cache)))
        runs.append(("warm cache", run_once(out, grids, cache)))
    print(f"roofsim report, {'47' if grids is None else len(grids)} crop grids, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for name, r in runs:
        print(f"\n{name}: wall {r['wall_s']:.1f} s (process {r['total_s']:.1f} s, CPU "
              f"{r['cpu_s']:.1f} s), {r['figures']} figure files")
        for phase, s in r["phases"].items():
            print(f"  {phase:<28} {s:6.1f} s")
    target = 60.0
    worst = max(r["wall_s"] for _, r in runs)
    print(f"\nslowest run {worst:.1f} s against the {target:.0f} s target: "
          f"{'OK' if worst < target else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
