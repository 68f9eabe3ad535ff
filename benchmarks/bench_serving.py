"""Serving simulator speed: 10,000 Poisson requests through roofsim.serving.simulate.

Target: well under 10 s on a 2-core machine (a serving study runs thousands of requests per
point of a sweep). The step times are a linear stand-in (a fixed part, per token and per cached
position), so this times the scheduler and the event loop, not the engine. Prints the best and
median wall time over a few repeats and the rate in requests/s.

    python benchmarks/bench_serving.py [--requests N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from roofsim.serving import SchedulerConfig, poisson_requests, simulate  # noqa: E402


class LinearSteps:
    """A step costs 1 ms, 10 us per token and 10 ns per cached position read."""

    def prompt_positions(self, r):
        return r.prompt_tokens

    def step_s(self, plan):
        return 1e-3 + 1e-5 * (plan.prefill_tokens + plan.decode_seqs) + \
            1e-8 * plan.decode_context

    def vision_s(self, r):
        return 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    cfg = SchedulerConfig(kv_blocks=50_000, max_seqs=256)
    reqs = poisson_requests(50.0, args.requests, 512, 64, seed=0)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        res = simulate(reqs, LinearSteps(), cfg)
        times.append(time.perf_counter() - t)
    assert len(res.outcomes) == args.requests
    best, med = min(times), statistics.median(times)
    print(f"{args.requests} requests: best {best:.2f} s, median {med:.2f} s "
          f"({args.requests / best:,.0f} requests/s; target: under 10 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
