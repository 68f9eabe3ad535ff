"""The host probe: how fast this process's host issues eager GPU work, just now.

Seconds per eager dispatch of a one-element in-place add on the GPU (Python, the dispatcher,
the launch; the GPU keeps up), the median of three rounds of PROBE_OPS after a warm-up. The
processes of one machine differ by up to 2x in it (calibration/h200/host/noise), and an eager,
host-bound wall follows it (roofsim.host.HostModel.probe_s); `roofsim predict --wall eager
--host-probe-us` takes a reading to predict that host. benchmarks/measure_e2e.py and
measure_models.py record it beside every measured row (host_probe_s).
"""

from __future__ import annotations

import statistics
import time

PROBE_OPS = 2000
WARMUP_OPS = 200
ROUNDS = 3


def host_probe(torch, device: str = "cuda") -> float:
    """Seconds per probed dispatch on `device` ('cuda', or 'cpu' for a check without a GPU)."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    x = torch.zeros(1, device=device)
    for _ in range(WARMUP_OPS):
        x.add_(1.0)
    sync()
    rounds = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(PROBE_OPS):
            x.add_(1.0)
        rounds.append((time.perf_counter() - t0) / PROBE_OPS)
        sync()
    return statistics.median(rounds)
