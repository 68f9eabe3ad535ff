"""The per-kernel roofline: records + hardware spec (+ calibration profile) -> time per kernel.

For one launch:
    time = launch floor + max(tensor FLOPs / tensor roof[dtype],
                              CUDA-core FLOPs / CUDA roof[dtype],
                              bytes / memory roof,
                              link)
with roofs = peak x efficiency (HardwareSpec.roofs). A record's time is that times its count.
`link` is the communication kinds' term (roofsim.kernels.comm, 0 for every other kind):
    link = base latency + intra-node steps x link latency + network steps x network latency
           + bus bytes / (one direction of the link x link efficiency)
over NVLink (else PCIe) inside a node and over the network once the group spans nodes
(HardwareSpec.link_*; a collective on a spec without that link is a UserError).
Where a calibration profile covers a record, its measured-shape prediction replaces the
roofline time of that launch (the launch floor stays the floor: a prediction below it is lifted);
beside a profile, a record no group of it describes takes the physical model at its default
parameters (roofsim.perfmodel.default_launch_seconds) rather than the roofline.
The bound is the largest of the five terms (launch floor, tensor, CUDA-core, memory, link).

Nothing else in roofsim computes time: stages, objectives and the report are views of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .errors import UserError
from .hardware import HardwareSpec
from .kernels.comm import link_work
from .perfmodel import (MIN_WARM_SHARE, chain_seconds, default_launch_seconds,
                        idle_block_seconds, l2_resident, launches_on)
from .records import COMM_KINDS, SHAPE_PARAMS, RecordTable

BOUNDS: tuple[str, ...] = ("launch", "tensor", "cuda", "memory", "link")
LAUNCH, TENSOR, CUDA, MEMORY, LINK = range(5)
LAUNCH_MODES = ("cuda_graph", "stream")


MAX_GAP_SHARE = 0.75   # of a calibrated launch that the graph gap may take (engine.simulate)


class Profile(Protocol):
    """A calibration profile: per-launch seconds for the records it covers, NaN elsewhere, as
    its harness timed them (inside a CUDA graph), and the graph's gap between two launches
    that those seconds include (graph_gap_s)."""

    graph_gap_s: float

    def predict_launch_s(self, table: RecordTable, hardware: HardwareSpec,
                         resident: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class Timing:
    """Engine output, one entry per record. Per-launch terms; `time_s` includes count."""

    launch_s: np.ndarray
    tensor_s: np.ndarray
    cuda_s: np.ndarray
    memory_s: np.ndarray
    link_s: np.ndarray          # communication kinds only (0 elsewhere)
    launch_time_s: np.ndarray   # one launch, after calibration if any
    time_s: np.ndarray          # launch_time_s x count
    bound: np.ndarray           # int8 index into BOUNDS
    calibrated: np.ndarray      # bool: time came from the calibration profile
    node_gap_s: np.ndarray | None = None   # GPU gap after each launch, not in launch_time_s

    @property
    def total_s(self) -> float:
        return float(self.time_s.sum())

    @property
    def issued_s(self) -> np.ndarray:
        """GPU time of one launch in a stream or graph: the kernel's duration plus the gap
        before the next launch (the profile's graph gap on calibrated records; an uncalibrated
        record's launch floor already holds it)."""
        return self.launch_time_s if self.node_gap_s is None else \
            self.launch_time_s + self.node_gap_s

    def bound_names(self) -> np.ndarray:
        return np.asarray(BOUNDS, dtype=object)[self.bound]

    def time_by_bound(self) -> dict[str, float]:
        sums = np.bincount(self.bound, weights=self.time_s, minlength=len(BOUNDS))
        return {b: float(s) for b, s in zip(BOUNDS, sums)}

    def dominant_bound(self) -> str:
        by = self.time_by_bound()
        return max(by, key=by.get)


def link_time_s(table: RecordTable, hardware: HardwareSpec) -> np.ndarray:
    """Per-launch link term of each record (0 for the kinds that do not communicate)."""
    out = np.zeros(len(table))
    kinds = table.kind
    for kind in COMM_KINDS:
        rows = np.flatnonzero(kinds == kind)
        if not len(rows):
            continue
        params = {p: table.params[rows, i] for i, p in enumerate(SHAPE_PARAMS)
                  if not np.isnan(table.params[rows, i]).all()}
        w = link_work(kind, params, table.dtype[rows])
        intra = hardware.intra_node_link()
        bw = np.where(w["multi_node"], hardware.link_bandwidth_bytes_per_s("network"),
                      hardware.link_bandwidth_bytes_per_s(intra)) * hardware.link_efficiency
        moves = w["bus_bytes"] > 0
        if (moves & (bw <= 0)).any():
            link = "network" if w["multi_node"][moves & (bw <= 0)].any() else intra
            raise UserError(f"hardware {hardware.id}: a {kind} needs a {link} link, and "
                            f"interconnect.{link}_bidir_gbps is missing or 0")
        latency = np.where(w["intra_steps"] + w["network_steps"] > 0,
                           hardware.link_latency_s("base"), 0.0)
        latency += w["intra_steps"] * hardware.link_latency_s(intra)
        latency += w["network_steps"] * hardware.link_latency_s("network")
        out[rows] = latency + np.where(moves, w["bus_bytes"] / np.where(moves, bw, 1.0), 0.0)
    return out


def _largest_term(launch, tensor, cuda, memory, work, link=None) -> np.ndarray:
    """Index into BOUNDS of the largest term, the first in BOUNDS order on ties (as argmax over
    the stacked terms, without building the 5 x n stack). `work` = max(tensor, cuda, memory,
    link)."""
    bound = np.full(len(launch), MEMORY, dtype=np.int8)
    if link is not None:
        bound[(link == work) & (link > 0) & (memory < work)] = LINK
    bound[cuda == work] = CUDA
    bound[tensor == work] = TENSOR
    bound[launch >= work] = LAUNCH
    return bound


def simulate(table: RecordTable, hardware: HardwareSpec, profile: Profile | None = None,
             launch_mode: str = "cuda_graph", l2_warm: bool = True) -> Timing:
    """Per-record times on `hardware`, through `profile` where it has an opinion. l2_warm:
    records a model runs on L2-resident inputs (roofsim.perfmodel.l2_resident) take the
    profile's warm saving; False times every launch cold, as the calibration harness does."""
    if launch_mode not in LAUNCH_MODES:
        raise ValueError(f"launch_mode must be one of {LAUNCH_MODES}, got {launch_mode!r}")
    n = len(table)
    tensor_roof, cuda_roof, mem_roof = hardware.roofs(table.dtype) if n else (
        np.zeros(0), np.zeros(0), 1.0)
    nodes = launches_on(table, hardware)
    launch = hardware.launch_overhead_s(launch_mode) * nodes
    tensor = table.flops_tensor / tensor_roof
    # a sort's passes, a reduction's loop of loads and a warp softmax's values per lane are a
    # chain of dependent steps, a floor no CUDA-core roof lifts (perfmodel.chain_seconds)
    cuda = np.maximum(table.flops_cuda / cuda_roof, chain_seconds(table, hardware))
    memory = table.bytes_read + table.bytes_written
    memory /= mem_roof
    link = link_time_s(table, hardware) if n else np.zeros(0)
    work = np.maximum(tensor, cuda)
    np.maximum(work, memory, out=work)
    np.maximum(work, link, out=work)
    bound = _largest_term(launch, tensor, cuda, memory, work, link)
    one = work
    one += launch
    # idle blocks (a cat's, a grouped GEMM's: roofsim.perfmodel.idle_block_seconds) are physics
    # of the target's SMs, whether or not a profile speaks for the kind (the profile adds them
    # to its own time)
    one += idle_block_seconds(table, hardware)
    calibrated = np.zeros(n, dtype=bool)
    gap = None
    if profile is not None and n:
        # The profile predicts what its harness timed: a launch inside a CUDA graph, the gap
        # the GPU leaves before the next node included. Kernel time is the kernel's duration
        # (what torch.profiler shows): the launch less that gap, which wall time adds back
        # (Timing.issued_s). On a spec whose launch floor is below the measured gap (a
        # hypothetical one), the gap takes at most MAX_GAP_SHARE of a launch.
        resident = l2_resident(table, hardware) if l2_warm else None
        predicted = np.asarray(profile.predict_launch_s(table, hardware, resident=resident),
                               dtype=np.float64)
        calibrated = np.isfinite(predicted)
        # A record of a kind or dtype the profile never measured: the physics at its default
        # parameters on this spec, not the bare roofline (perfmodel.default_launch_seconds),
        # lifted to this launch mode's floor as a profile's own predictions are; still
        # uncalibrated. The collectives keep their link term.
        physics = np.flatnonzero(~calibrated & ~np.isin(table.kind, COMM_KINDS))
        if len(physics):
            one[physics] = np.maximum(default_launch_seconds(
                table.select(physics), hardware,
                None if resident is None else resident[physics]), launch[physics])
        floor = launch if resident is None else np.where(resident, MIN_WARM_SHARE * launch,
                                                         launch)
        issued = np.where(calibrated, np.maximum(predicted, floor), one)
        gap = np.where(calibrated, np.minimum(float(profile.graph_gap_s) * nodes,
                                              MAX_GAP_SHARE * issued), 0.0)
        one = issued - gap
    if not np.all(np.isfinite(one)) or (one < 0).any():
        raise ValueError("engine produced a non-finite or negative time; check the hardware spec")
    return Timing(launch_s=launch, tensor_s=tensor, cuda_s=cuda, memory_s=memory, link_s=link,
                  launch_time_s=one, time_s=one * table.count, bound=bound,
                  calibrated=calibrated, node_gap_s=gap)
