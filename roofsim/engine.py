"""The per-kernel roofline: records + hardware spec (+ calibration profile) -> time per kernel.

For one launch:
    time = launch floor + max(tensor FLOPs / tensor roof[dtype],
                              CUDA-core FLOPs / CUDA roof[dtype],
                              bytes / memory roof)
with roofs = peak x efficiency (HardwareSpec.roofs). A record's time is that times its count.
Where a calibration profile covers a record, its measured-shape prediction replaces the
roofline time of that launch (the launch floor stays the floor: a prediction below it is lifted).
The bound is the largest of the four terms (launch floor, tensor, CUDA-core, memory).

Nothing else in roofsim computes time: stages, objectives and the report are views of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .hardware import HardwareSpec
from .records import RecordTable

BOUNDS: tuple[str, ...] = ("launch", "tensor", "cuda", "memory")
LAUNCH, TENSOR, CUDA, MEMORY = range(4)
LAUNCH_MODES = ("cuda_graph", "stream")


class Profile(Protocol):
    """A calibration profile: per-launch seconds for the records it covers, NaN elsewhere."""

    def predict_launch_s(self, table: RecordTable, hardware: HardwareSpec) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class Timing:
    """Engine output, one entry per record. Per-launch terms; `time_s` includes count."""

    launch_s: np.ndarray
    tensor_s: np.ndarray
    cuda_s: np.ndarray
    memory_s: np.ndarray
    launch_time_s: np.ndarray   # one launch, after calibration if any
    time_s: np.ndarray          # launch_time_s x count
    bound: np.ndarray           # int8 index into BOUNDS
    calibrated: np.ndarray      # bool: time came from the calibration profile

    @property
    def total_s(self) -> float:
        return float(self.time_s.sum())

    def bound_names(self) -> np.ndarray:
        return np.asarray(BOUNDS, dtype=object)[self.bound]

    def time_by_bound(self) -> dict[str, float]:
        sums = np.bincount(self.bound, weights=self.time_s, minlength=len(BOUNDS))
        return {b: float(s) for b, s in zip(BOUNDS, sums)}

    def dominant_bound(self) -> str:
        by = self.time_by_bound()
        return max(by, key=by.get)


def _largest_term(launch, tensor, cuda, work) -> np.ndarray:
    """Index into BOUNDS of the largest term, the first in BOUNDS order on ties (as argmax over
    the stacked terms, without building the 4 x n stack). `work` = max(tensor, cuda, memory)."""
    bound = np.full(len(launch), MEMORY, dtype=np.int8)
    bound[cuda == work] = CUDA
    bound[tensor == work] = TENSOR
    bound[launch >= work] = LAUNCH
    return bound


def simulate(table: RecordTable, hardware: HardwareSpec, profile: Profile | None = None,
             launch_mode: str = "cuda_graph") -> Timing:
    if launch_mode not in LAUNCH_MODES:
        raise ValueError(f"launch_mode must be one of {LAUNCH_MODES}, got {launch_mode!r}")
    n = len(table)
    tensor_roof, cuda_roof, mem_roof = hardware.roofs(table.dtype) if n else (
        np.zeros(0), np.zeros(0), 1.0)
    launch = np.full(n, hardware.launch_overhead_s(launch_mode))
    tensor = table.flops_tensor / tensor_roof
    cuda = table.flops_cuda / cuda_roof
    memory = table.bytes_read + table.bytes_written
    memory /= mem_roof
    work = np.maximum(tensor, cuda)
    np.maximum(work, memory, out=work)
    bound = _largest_term(launch, tensor, cuda, work)
    one = work
    one += launch
    calibrated = np.zeros(n, dtype=bool)
    if profile is not None and n:
        predicted = np.asarray(profile.predict_launch_s(table, hardware), dtype=np.float64)
        calibrated = np.isfinite(predicted)
        one = np.where(calibrated, np.maximum(predicted, launch), one)
    if not np.all(np.isfinite(one)) or (one < 0).any():
        raise ValueError("engine produced a non-finite or negative time; check the hardware spec")
    return Timing(launch_s=launch, tensor_s=tensor, cuda_s=cuda, memory_s=memory,
                  launch_time_s=one, time_s=one * table.count, bound=bound,
                  calibrated=calibrated)
