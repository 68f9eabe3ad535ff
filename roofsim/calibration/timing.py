"""Timing one kernel: device time of one launch on a cold L2, and eager back-to-back time.

CUDA (`CudaTimer`): a quick eager estimate picks R, the launches per replay, so that one replay
lasts about `target_replay_s`. R input sets are drawn (random, never zeros), one per launch,
so no launch in a replay reads what another left in L2; where R sets are not twice the L2, an
L2 flush (a write over a buffer of twice the L2) runs before each replay, outside the timed
region. The R launches are captured in a CUDA graph (no launch gaps from the host), replayed
`trials` times between CUDA events, each after a short GPU-side wait (so host stalls cannot
leave the GPU idle inside the timed region); kernel time = median(replay time / R). Eager time = R
back-to-back eager launches over the same sets between events, divided by R (launch overhead
included). Where graph capture fails (an op that syncs), kernel time falls back to eager
launches between events and the row says graph=0.

CPU (`CpuTimer`): the same protocol with host timers and no graph or flush; used by tests and to
exercise the harness without a GPU.

A runner (roofsim.kernels.<kind>) gives `fn` and `make_inputs`: `make_inputs()` returns one
random input set (a tuple of tensors), `fn(*inputs)` launches the kernel once.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence


# Version of the timing protocol, written into provenance.json. 1: the H200 and H100 runs of
# 2026-11-27 (no GPU-side hold before replays); 2: hold added.
HARNESS_VERSION = 2
HOLD_S = 100e-6             # GPU-side wait before each timed replay (CudaTimer.hold)
ASSUMED_CLOCK_HZ = 1.98e9   # cycles per second for torch.cuda._sleep (H100/H200 boost clock)


@dataclass(frozen=True)
class TimingResult:
    kernel_s: float
    kernel_min_s: float
    kernel_max_s: float
    eager_s: float
    launches: int
    trials: int
    sets: int
    set_bytes: int
    graph: int
    timer: str

    def as_row(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class TimingConfig:
    target_replay_s: float = 2e-3     # one graph replay lasts about this long
    max_launches: int = 200           # R cap (graph size, input-set count)
    trials: int = 7                   # replays timed; median taken
    set_memory_bytes: float = 4e9     # all R input sets together at most this
    long_kernel_s: float = 20e-3      # above this, fewer trials


def _tensor_bytes(inputs: Sequence) -> int:
    total = 0
    for t in inputs:
        if hasattr(t, "element_size"):
            total += t.element_size() * t.numel()
    return total


def _launches(estimate_s: float, set_bytes: int, cfg: TimingConfig) -> int:
    r = int(math.ceil(cfg.target_replay_s / max(estimate_s, 1e-7)))
    r = min(max(r, 1), cfg.max_launches)
    if set_bytes > 0:
        r = min(r, max(1, int(cfg.set_memory_bytes // set_bytes)))
    return r


class CudaTimer:
    name = "cuda_events"

    def __init__(self, config: TimingConfig | None = None, device: int = 0):
        import torch
        self.torch = torch
        self.cfg = config or TimingConfig()
        self.device = torch.device("cuda", device)
        props = torch.cuda.get_device_properties(self.device)
        self.l2_bytes = int(getattr(props, "L2_cache_size", 50 * 2**20))
        # Twice the L2, written (not zeroed) before each replay to evict earlier inputs.
        self._flush = torch.empty(2 * self.l2_bytes // 4, dtype=torch.float32, device=self.device)

    def flush_l2(self) -> None:
        self._flush.fill_(1.0)

    def hold(self) -> None:
        """Keep the GPU busy for about HOLD_S before the start event, so that the host has
        enqueued the replay by the time the GPU reaches it: a host stall (seen on the H100
        run, before this was added) then cannot leave the GPU idle inside the timed region."""
        sleep = getattr(self.torch.cuda, "_sleep", None)
        if sleep is not None:
            sleep(int(HOLD_S * ASSUMED_CLOCK_HZ))

    def _events_time(self, work: Callable[[], None]) -> float:
        torch = self.torch
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        work()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e-3

    def time(self, fn: Callable, make_inputs: Callable[[], tuple]) -> TimingResult:
        torch = self.torch
        cfg = self.cfg
        first = make_inputs()
        set_bytes = _tensor_bytes(first)
        fn(*first)  # module load, handle and workspace creation
        torch.cuda.synchronize()
        estimate = self._events_time(lambda: [fn(*first) for _ in range(3)]) / 3
        r = _launches(estimate, set_bytes, cfg)
        sets = [first] + [make_inputs() for _ in range(r - 1)]
        trials = cfg.trials if estimate < cfg.long_kernel_s else max(3, cfg.trials // 2)
        need_flush = r * set_bytes < 2 * self.l2_bytes

        def eager_all():
            for s in sets:
                fn(*s)

        graph = None
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                eager_all()  # warm-up on the capture stream, as torch's graph docs ask
            torch.cuda.current_stream().wait_stream(stream)
            torch.cuda.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                eager_all()
            graph.replay()
            torch.cuda.synchronize()
        except Exception:
            graph = None
            torch.cuda.synchronize()
        run = graph.replay if graph is not None else eager_all
        per_launch = []
        for _ in range(trials):
            if need_flush:
                self.flush_l2()
            self.hold()
            per_launch.append(self._events_time(run) / r)
        eager_all()
        eager = self._events_time(eager_all) / r
        del graph
        return TimingResult(
            kernel_s=statistics.median(per_launch), kernel_min_s=min(per_launch),
            kernel_max_s=max(per_launch), eager_s=eager, launches=r, trials=trials,
            sets=r, set_bytes=set_bytes, graph=int(run is not eager_all), timer=self.name)

    def release(self) -> None:
        """Give cached blocks back between cases once they pile up (a huge case after many
        small ones must not fail for fragmentation)."""
        torch = self.torch
        if torch.cuda.memory_reserved(self.device) > 8 * 2**30:
            torch.cuda.empty_cache()

    @staticmethod
    def is_oom(err: BaseException) -> bool:
        import torch
        return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err)


class CpuTimer:
    """Host timers, no graph, no flush: the harness path without a GPU (tests)."""

    name = "host_perf_counter"

    def __init__(self, config: TimingConfig | None = None):
        self.cfg = config or TimingConfig(target_replay_s=2e-4, max_launches=8, trials=3)

    def time(self, fn: Callable, make_inputs: Callable[[], tuple]) -> TimingResult:
        cfg = self.cfg
        first = make_inputs()
        set_bytes = _tensor_bytes(first)
        fn(*first)
        t0 = time.perf_counter()
        fn(*first)
        estimate = time.perf_counter() - t0
        r = _launches(estimate, set_bytes, cfg)
        sets = [first] + [make_inputs() for _ in range(r - 1)]
        per_launch = []
        for _ in range(cfg.trials):
            t0 = time.perf_counter()
            for s in sets:
                fn(*s)
            per_launch.append((time.perf_counter() - t0) / r)
        med = statistics.median(per_launch)
        return TimingResult(
            kernel_s=med, kernel_min_s=min(per_launch), kernel_max_s=max(per_launch),
            eager_s=med, launches=r, trials=cfg.trials, sets=r, set_bytes=set_bytes, graph=0,
            timer=self.name)

    def release(self) -> None:
        pass

    @staticmethod
    def is_oom(err: BaseException) -> bool:
        return isinstance(err, MemoryError)
