"""Wall time of a stage in an execution mode: engine output + the host model (roofsim.host).

- `eager`: one stream fed by the host. The host issues launch i at H_i = forward_s + the
  dispatch cost of launches 1..i (+ waits); the GPU starts it at max(H_i, end of launch i-1).
  A synchronizing record makes the host wait for the GPU to finish it, then pay `sync_s`.
  Stage wall = max(host end, GPU end).
- `graph`: the stage replayed as one CUDA graph: the engine's kernel time, the calibration
  profile's graph gap after every calibrated kernel (roofsim.engine.Timing.issued_s: kernel
  durations exclude it), `graph_launch_s` and `graph_node_s` per kernel node. Its range runs
  up to the GPU waiting for the host's whole launch (`graph_launch_node_s` per node) before the
  first node, as an idle stream does on some graphs (roofsim.host). A stage with a
  synchronizing record cannot be captured; it stays eager (`captured` False). A graph replays
  the records the workload gives for it where they differ from the eager ones (`graph_parts`,
  roofsim.workloads.base.Workload.graph_parts: a decode step over a static KV cache).

The host roof of a stage is `host_s` (forward_s + dispatch of every launch + sync costs); the
GPU roof is `kernel_s`; `binds` names the larger. The eager wall's range (`eager_low_s`,
`eager_high_s`) is the same timeline with every host cost times the host model's speed_spread
factors: what the measuring machine's processes spread over (roofsim.host). Decode is one
step (the weighted mean of the stage's tables, as roofsim.timing weighs kernel time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .engine import simulate
from .hardware import HardwareSpec
from .host import HostModel, is_matrix_launch, sync_flags
from .perfmodel import launches_on

MODES: tuple[str, ...] = ("eager", "graph")
_MAX_EXPANDED = 2_000_000      # launches simulated one by one; beyond, records move as blocks


@dataclass(frozen=True)
class StageWall:
    stage: str
    kernel_s: float        # GPU roof: sum of the engine's per-kernel times
    host_s: float          # host roof: time to issue everything, waits excluded
    eager_s: float         # eager wall time
    graph_s: float         # CUDA-graph wall time (= eager_s when not captured)
    captured: bool         # the stage can be replayed as a graph (no synchronizing record)
    syncs: float           # synchronizing launches
    graph_kernel_s: float  # kernel time of the records the graph replays (= kernel_s for the same)
    eager_low_s: float     # eager wall with the host at its fastest (speed_spread low)
    eager_high_s: float    # ... and at its slowest (speed_spread high)
    graph_high_s: float    # graph wall when the GPU waits for the whole launch (eager_high_s
    #                        when not captured)
    graph_host_s: float    # host roof of a graph replay: cudaGraphLaunch's time over its
    #                        nodes (host_s when not captured)
    graph_gpu_s: float     # GPU roof of a graph replay: its kernels and in-graph gaps
    #                        (kernel_s when not captured)

    @property
    def binds(self) -> str:
        """Which roof binds eager execution: 'host' or 'gpu'."""
        return self.binds_in("eager")

    def binds_in(self, mode: str) -> str:
        """Which roof binds `mode`: 'host' or 'gpu' (a stage that cannot be captured runs eager
        in graph mode too)."""
        if mode == "graph" and self.captured:
            return "host" if self.graph_host_s > self.graph_gpu_s else "gpu"
        self.wall_s(mode)                        # checks the mode
        return "host" if self.host_s > self.kernel_s else "gpu"

    def wall_s(self, mode: str) -> float:
        if mode not in MODES:
            raise ValueError(f"wall mode {mode!r}, expected one of {', '.join(MODES)}")
        return self.eager_s if mode == "eager" else self.graph_s

    def wall_range_s(self, mode: str) -> tuple[float, float]:
        """(fastest, slowest) wall in `mode`: eager over the host's speed spread; a captured
        graph from its typical launch latency to the GPU waiting for the host's whole launch."""
        if mode == "graph" and self.captured:
            return (self.graph_s, self.graph_high_s)
        self.wall_s(mode)                        # checks the mode
        return (self.eager_low_s, self.eager_high_s)

    def as_dict(self) -> dict:
        return {"stage": self.stage, "kernel_s": self.kernel_s, "host_s": self.host_s,
                "eager_wall_s": self.eager_s, "graph_wall_s": self.graph_s,
                "graph_captured": self.captured, "syncs": self.syncs,
                "graph_kernel_s": self.graph_kernel_s, "binds": self.binds,
                "graph_host_s": self.graph_host_s, "graph_gpu_s": self.graph_gpu_s,
                "graph_binds": self.binds_in("graph"),
                "eager_wall_range_s": [self.eager_low_s, self.eager_high_s],
                "graph_wall_range_s": list(self.wall_range_s("graph"))}


def eager_timeline(launch_s, host_s, sync, start_s: float = 0.0,
                   sync_s: float = 0.0) -> tuple[float, float]:
    """(wall end, GPU busy time) of launches issued one by one by the host.

    launch_s[i]: GPU time of launch i; host_s[i]: host time to issue it; sync[i]: the host
    waits for it. Between syncs, GPU end = max over i of (issue_i + work from i on), the
    unrolled recursion end_i = max(end_{i-1}, issue_i) + t_i."""
    t = np.asarray(launch_s, dtype=np.float64)
    h = np.asarray(host_s, dtype=np.float64)
    s = np.asarray(sync, dtype=bool)
    host = float(start_s)
    gpu = float(start_s)
    cut = np.flatnonzero(s) + 1
    for seg in np.split(np.arange(len(t)), cut):
        if len(seg) == 0:
            continue
        issue = host + np.cumsum(h[seg])
        work = t[seg]
        suffix = np.cumsum(work[::-1])[::-1]
        gpu = float(max(gpu + work.sum(), np.max(issue + suffix)))
        host = float(issue[-1])
        if s[seg[-1]]:
            host = max(host, gpu) + sync_s
    return max(host, gpu), float(t.sum())


@dataclass(frozen=True, eq=False)
class EagerLaunches:
    """One record table's launches as the eager timeline walks them, prepared once for any host
    model: per record its host class and count; per step of the timeline (a launch, or a whole
    record where counts are fractional) its GPU seconds, host class, host weight and sync."""

    matrix: np.ndarray      # per record: the host's matrix class (roofsim.host.MATRIX_HOST_KINDS)
    count: np.ndarray       # per record: launches
    n_sync: float           # synchronizing launches
    step_t: np.ndarray      # per step: GPU seconds
    step_matrix: np.ndarray
    step_weight: np.ndarray  # launches a step's host cost counts (1, or a fractional count)
    step_sync: np.ndarray


def eager_launches(table, launch_time_s) -> EagerLaunches:
    """Prepare `table` (with its per-launch GPU seconds) for eager_wall."""
    count = np.asarray(table.count, dtype=np.float64)
    matrix = is_matrix_launch(table.kind)
    sync = sync_flags(table.name)
    t = np.asarray(launch_time_s, dtype=np.float64)
    n_sync = float(count[sync].sum())
    if np.all(count == np.round(count)) and count.sum() <= _MAX_EXPANDED:
        reps = count.astype(np.int64)
        return EagerLaunches(matrix, count, n_sync, np.repeat(t, reps), np.repeat(matrix, reps),
                             np.ones(int(reps.sum())), np.repeat(sync, reps))
    # fractional counts: each record moves as one block
    return EagerLaunches(matrix, count, n_sync, t * count, matrix, count, sync)


def eager_wall(launches: EagerLaunches, host: HostModel,
               scale: float = 1.0) -> tuple[float, float, float]:
    """(eager wall, host roof, syncs) of prepared launches, every host cost times `scale`."""
    dm, do = host.dispatch_s["matrix"], host.dispatch_s["other"]
    h = np.where(launches.matrix, dm, do).astype(np.float64) * scale
    host_roof = scale * host.forward_s + float((h * launches.count).sum()) + \
        launches.n_sync * scale * host.sync_s
    step_h = np.where(launches.step_matrix, dm, do).astype(np.float64) * scale * \
        launches.step_weight
    wall, _ = eager_timeline(launches.step_t, step_h, launches.step_sync,
                             start_s=scale * host.forward_s, sync_s=scale * host.sync_s)
    return wall, host_roof, launches.n_sync


@dataclass(frozen=True)
class _Sums:
    """Weighted sums over a stage's parts."""
    kernel: float          # engine kernel time
    issued: float          # kernel time + calibrated graph gaps (Timing.issued_s)
    host_roof: float
    eager: float
    syncs: float
    launches: float        # graph nodes (roofsim.perfmodel.launches_per_call)
    eager_low: float       # eager at the host's speed_spread factors
    eager_high: float


def graph_nodes(table, hardware: HardwareSpec) -> float:
    """Kernel nodes a CUDA graph of `table` holds on `hardware` (whose libraries size their
    grids for its grid_sms SMs): each record's count x its launches per call
    (roofsim.perfmodel.launches_per_call); graph_node_s and graph_launch_node_s are per node."""
    return float((np.asarray(table.count) * launches_on(table, hardware)).sum())


def _sums(parts, hardware: HardwareSpec, profile, host: HostModel) -> _Sums:
    kernel = issued = host_roof = eager = syncs = launches = low = high = 0.0
    fast, slow = host.speed_spread
    for table, weight in parts:
        timing = simulate(table, hardware, profile, launch_mode="cuda_graph")
        steps = eager_launches(table, timing.issued_s)
        w, hr, ns = eager_wall(steps, host)
        kernel += weight * timing.total_s
        issued += weight * float((timing.issued_s * table.count).sum())
        host_roof += weight * hr
        eager += weight * w
        syncs += weight * ns
        launches += weight * graph_nodes(table, hardware)
        low += weight * (eager_wall(steps, host, fast)[0] if fast != 1 else w)
        high += weight * (eager_wall(steps, host, slow)[0] if slow != 1 else w)
    return _Sums(kernel, issued, host_roof, eager, syncs, launches, low, high)


def stage_wall(stage: str, parts, hardware: HardwareSpec, profile, host: HostModel,
               graph_parts=None) -> StageWall:
    """Wall times of a stage given as [(table, weight), ...]; the graph mode replays
    `graph_parts` where given (else `parts`)."""
    e = _sums(parts, hardware, profile, host)
    g = e if graph_parts is None else _sums(graph_parts, hardware, profile, host)
    captured = g.syncs == 0
    gpu = g.issued + g.launches * host.graph_node_s
    graph = host.graph_launch_s + gpu if captured else e.eager
    launch = max(host.graph_launch_s, g.launches * host.graph_launch_node_s)
    high = launch + gpu if captured else e.eager_high
    return StageWall(stage=stage, kernel_s=e.kernel, host_s=e.host_roof, eager_s=e.eager,
                     graph_s=graph, captured=captured, syncs=e.syncs, graph_kernel_s=g.kernel,
                     eager_low_s=e.eager_low, eager_high_s=e.eager_high, graph_high_s=high,
                     graph_host_s=launch if captured else e.host_roof,
                     graph_gpu_s=gpu if captured else e.kernel)


def stage_walls(parts: Mapping[str, object], hardware: HardwareSpec, profile,
                host: HostModel, graph_parts: Mapping[str, object] | None = None
                ) -> dict[str, StageWall]:
    """stage_wall of every stage; `graph_parts` (Workload.graph_parts) the stages a CUDA graph
    replays other records for."""
    graph_parts = graph_parts or {}
    return {s: stage_wall(s, p, hardware, profile, host, graph_parts.get(s))
            for s, p in parts.items()}


def wall_summary(walls: Mapping[str, StageWall], mode: str, host: HostModel,
                 host_source: str) -> dict:
    """The JSON view of `predict --wall MODE`: per-stage and request wall times (seconds)."""
    from .stages import DECODE, PREFILL, TTFT_STAGES, VISION
    if mode not in MODES:
        raise ValueError(f"wall mode {mode!r}, expected one of {', '.join(MODES)}")

    def w(stage):
        return walls[stage].wall_s(mode) if stage in walls else None

    def r(stage):
        return list(walls[stage].wall_range_s(mode)) if stage in walls else None

    ttft = [s for s in TTFT_STAGES if s in walls]
    out = {"wall_mode": mode}
    if VISION in walls:
        out["vision_wall_s"] = w(VISION)
        out["vision_wall_range_s"] = r(VISION)
    out.update({"prefill_wall_s": w(PREFILL), "prefill_wall_range_s": r(PREFILL),
                "ttft_wall_s": sum(walls[s].wall_s(mode) for s in ttft),
                "ttft_wall_range_s": [sum(walls[s].wall_range_s(mode)[i] for s in ttft)
                                      for i in (0, 1)],
                "tpot_wall_s": w(DECODE), "tpot_wall_range_s": r(DECODE),
                "wall": {s: v.as_dict() for s, v in walls.items()},
                "host_model": {"source": host_source, **host.as_dict()}})
    return out


def wall_table(walls: Mapping[str, StageWall], mode: str, host_source: str,
               spread_measured: bool = True):
    """(headers, rows, footer lines): kernel, host, eager wall and graph wall time side by side
    (ms) and which roof binds each mode (a graph's host roof is its launch); the CLI formats
    them. `spread_measured` False
    (a host model without speed_spread, e.g. the default guess): no eager range is shown."""
    from .stages import DECODE, TTFT_STAGES
    rows = []
    for s, v in walls.items():
        span = f"{_ms(v.eager_low_s)}-{_ms(v.eager_high_s)}" if spread_measured else "n/a"
        lo, hi = v.wall_range_s("graph")
        rows.append(["decode step" if s == DECODE else s, _ms(v.kernel_s), _ms(v.host_s),
                     _ms(v.eager_s), span,
                     _ms(v.graph_s) + ("" if v.captured else " (eager)"),
                     f"{_ms(lo)}-{_ms(hi)}" if v.captured else span, v.binds,
                     v.binds_in("graph")])
    ttft = {m: sum(walls[s].wall_s(m) for s in TTFT_STAGES if s in walls) for m in MODES}
    lines = []
    if DECODE in walls:
        lines.append(f"TPOT wall ({mode}): {_ms(walls[DECODE].wall_s(mode))} ms   "
                     f"(eager {_ms(walls[DECODE].eager_s)}, graph {_ms(walls[DECODE].graph_s)})")
    lines.append(f"TTFT wall ({mode}): {_ms(ttft[mode])} ms   "
                 f"(eager {_ms(ttft['eager'])}, graph {_ms(ttft['graph'])})")
    lines.append(f"host model: {host_source}")
    lines.append("eager range: the eager timeline with every host cost x the host model's "
                 "speed_spread (how far one machine's processes spread)" if spread_measured else
                 "eager range: n/a, this host model has no measured speed_spread")
    lines.append("graph range: up to the GPU waiting for the host's whole graph launch before "
                 "the first node (host model graph_launch_node_us per node)")
    return (["stage", "kernel ms", "host ms", "eager wall ms", "eager range ms", "graph wall ms",
             "graph range ms", "eager binds", "graph binds"], rows, lines)


def _ms(s: float) -> str:
    return f"{s * 1e3:.4g}"
