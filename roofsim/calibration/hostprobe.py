"""The host probe: how fast this process's host issues eager GPU work, just now.

Seconds per eager dispatch of a one-element in-place add on the GPU (Python, the dispatcher,
the launch; the GPU keeps up), the median of three rounds of PROBE_OPS after a warm-up. The
processes of one machine differ by up to 2x in it (calibration/h200/host/noise), and an eager,
host-bound wall follows it (roofsim.host.HostModel.probe_s); `roofsim predict --wall eager
--host-probe-us` takes a reading to predict that host. benchmarks/measure_e2e.py and
measure_models.py record it beside every measured row (host_probe_s, and the repeats' readings
host_probe_repeats_s: roofsim.e2e.row_probe reads them).
"""

from __future__ import annotations

import statistics
import time

PROBE_OPS = 2000
WARMUP_OPS = 200
ROUNDS = 3
# The short reading the harness takes right before each timed repeat (measure_e2e: the host's
# speed can change within a process, between one case's repeats; the median over the repeats is
# the reading of the speed those repeats ran at): a few ms of a 20-60 ms eager step.
REPEAT_OPS = 400
REPEAT_WARMUP_OPS = 50


def host_probe(torch, device: str = "cuda", ops: int = PROBE_OPS, rounds: int = ROUNDS,
               warmup: int = WARMUP_OPS) -> float:
    """Seconds per probed dispatch on `device` ('cuda', or 'cpu' for a check without a GPU):
    the median of `rounds` rounds of `ops` dispatches after `warmup`."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    x = torch.zeros(1, device=device)
    for _ in range(warmup):
        x.add_(1.0)
    sync()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(ops):
            x.add_(1.0)
        times.append((time.perf_counter() - t0) / ops)
        sync()
    return statistics.median(times)
