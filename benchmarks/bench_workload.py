"""Analytic workload speed: kernel records for all 47 crop grids of the specification's sweeps,
all three stages (vision, prefill, decode with K = 100), both attention variants.

Target (issue 3): under 1 s on a 2-core machine. Prints the best and median wall time over a
few repeats, the number of records built and the time per (grid, variant).

    python benchmarks/bench_workload.py [--repeats R] [--decode-tokens K]
"""

from __future__ import annotations

import argparse
import statistics
import time

from roofsim.workloads.deepseek_ocr import (ATTENTION_VARIANTS, Request, load_config,
                                            stage_records, sweep_grids)


def build_all(cfg, grids, decode_tokens: int) -> int:
    n = 0
    for grid in grids:
        request = Request(grid=grid, prompt_tokens=10, decode_tokens=decode_tokens)
        for attention in ATTENTION_VARIANTS:
            tables = stage_records(cfg, request, attention=attention)
            n += sum(len(t) for t in tables.values())
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--decode-tokens", type=int, default=100)
    args = parser.parse_args()
    cfg = load_config()
    grids = sweep_grids()
    build_all(cfg, grids[:2], args.decode_tokens)          # warm-up (imports, caches)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        records = build_all(cfg, grids, args.decode_tokens)
        times.append(time.perf_counter() - t0)
    calls = len(grids) * len(ATTENTION_VARIANTS)
    print(f"{len(grids)} grids x 3 stages x {len(ATTENTION_VARIANTS)} attention variants "
          f"(K = {args.decode_tokens}): {records:,} records")
    print(f"best {min(times):.3f} s, median {statistics.median(times):.3f} s over {args.repeats} "
          f"repeats ({min(times) / calls * 1e3:.2f} ms per grid and variant); target < 1 s")


if __name__ == "__main__":
    main()
