"""Engine speed: 1,000,000 kernel records with mixed dtypes through engine.simulate.

Target (issue 2): under 1 s for 1e6 records on a 2-core machine. Prints the build time, the best
and median simulate time over a few repeats, and the rate in records/s.

    python benchmarks/bench_engine.py [--records N] [--repeats R] [--hardware ID]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from roofsim.engine import simulate
from roofsim.hardware import DEFAULT_HARDWARE, load_hardware
from roofsim.records import COMM_KINDS, KINDS, RecordTable

DTYPES = np.array(["bfloat16", "float16", "float32", "float8_e4m3fn", "int64"], dtype=object)
DTYPE_SHARE = [0.55, 0.15, 0.20, 0.08, 0.02]


# Kinds of one GPU's work (the communication kinds need a parallel plan's shape parameters).
COMPUTE_KINDS = tuple(k for k in KINDS if k not in COMM_KINDS)


def build(n: int, seed: int = 0) -> RecordTable:
    """n records spread over kinds and dtypes, work sizes over six decades."""
    rng = np.random.default_rng(seed)
    bytes_read = 10 ** rng.uniform(3, 10, n)
    return RecordTable.from_columns(
        n,
        kind=np.array(COMPUTE_KINDS, dtype=object)[rng.integers(0, len(COMPUTE_KINDS), n)],
        name="bench",
        dtype=DTYPES[rng.choice(len(DTYPES), n, p=DTYPE_SHARE)],
        flops_tensor=np.where(rng.random(n) < 0.4, 10 ** rng.uniform(6, 13, n), 0.0),
        flops_cuda=10 ** rng.uniform(3, 10, n),
        bytes_read=bytes_read,
        bytes_written=10 ** rng.uniform(3, 9, n),
        weight_bytes=bytes_read * rng.random(n),
        count=rng.integers(1, 64, n).astype(float),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hardware", default=DEFAULT_HARDWARE)
    args = parser.parse_args()

    spec = load_hardware(args.hardware)
    t0 = time.perf_counter()
    table = build(args.records)
    build_s = time.perf_counter() - t0

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        timing = simulate(table, spec)
        times.append(time.perf_counter() - t0)
    best, median = min(times), statistics.median(times)
    print(f"engine.simulate on {spec.id}: {args.records:,} records, {len(np.unique(table.dtype.astype(str)))} dtypes")
    print(f"  build (from_columns): {build_s:.3f} s")
    print(f"  simulate: first {times[0]:.3f} s, best {best:.3f} s, median {median:.3f} s "
          f"over {args.repeats} runs")
    print(f"  rate: {args.records / median:,.0f} records/s (median); "
          f"target 1,000,000 records in < 1 s: {'met' if median < 1.0 and times[0] < 1.0 else 'NOT met'}")
    print(f"  total predicted time {timing.total_s:.4g} s; by bound: "
          + ", ".join(f"{b} {s / timing.total_s:.1%}" for b, s in timing.time_by_bound().items()))


if __name__ == "__main__":
    main()
