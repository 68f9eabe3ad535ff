"""The fitted roofline of one kernel group: the smooth part of calibration.

    time = floor + || (T / e_tensor, C / e_cuda, M / e_memory) ||_p

T, C, M are the launch's tensor-core, CUDA-core and memory times at the spec's datasheet peaks
(from the engine, efficiency 1, no launch floor); e_* are fitted efficiencies, `floor` the
fitted launch floor, and the p-norm (p = 4) a smooth maximum: the time of the slowest resource,
a little more where two are close, as measured kernels show near the ridge point. Fitted per
(kind, dtype) by robust least squares on log time. This is also the fallback where a shape has
no measured neighbour: the roofline times fitted constants.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import least_squares

from ..engine import simulate
from ..hardware import HardwareSpec
from ..records import RecordTable

SMOOTH_P = 4.0
EFFICIENCY_CAP = (1.0, 1.0, 1.5)   # tensor, CUDA-core, memory (see fit_baseline)
_IDEAL_EFFICIENCY = {"tensor_core": 1.0, "cuda_core": 1.0, "memory": 1.0}


def peak_terms(table: RecordTable, hardware: HardwareSpec) -> np.ndarray:
    """(n, 3) per-launch seconds at datasheet peaks: tensor, CUDA-core, memory."""
    ideal = replace(hardware, efficiency=_IDEAL_EFFICIENCY,
                    launch_overhead_us={"stream": 0.0, "cuda_graph": 0.0})
    t = simulate(table, ideal)
    return np.column_stack([t.tensor_s, t.cuda_s, t.memory_s])


def peak_roof_s(table: RecordTable, hardware: HardwareSpec) -> np.ndarray:
    """Per-launch roof time at datasheet peaks: the slowest of the three terms."""
    return np.maximum(peak_terms(table, hardware).max(axis=1), 1e-12)


@dataclass(frozen=True)
class Baseline:
    floor_s: float
    eff_tensor: float = 1.0
    eff_cuda: float = 1.0
    eff_memory: float = 1.0
    p: float = SMOOTH_P

    @property
    def efficiencies(self) -> np.ndarray:
        return np.array([self.eff_tensor, self.eff_cuda, self.eff_memory])

    def time_s(self, terms: np.ndarray, launch_ratio: float = 1.0) -> np.ndarray:
        work = np.sum((terms / self.efficiencies) ** self.p, axis=1) ** (1.0 / self.p)
        return self.floor_s * launch_ratio + work

    def as_dict(self) -> dict:
        return {"floor_s": self.floor_s, "eff_tensor": self.eff_tensor,
                "eff_cuda": self.eff_cuda, "eff_memory": self.eff_memory, "p": self.p}


def fit_baseline(terms: np.ndarray, measured_s: np.ndarray) -> Baseline:
    """Floor and efficiencies that fit log time best (soft-L1 loss: a few odd kernels do not
    drag the line). Terms that are zero for every shape keep efficiency 1; the others are held
within EFFICIENCY_CAP."""
    used = (terms > 0).any(axis=0)
    log_t = np.log(measured_s)

    def unpack(theta):
        eff = np.ones(3)
        eff[used] = np.exp(theta[1:])
        return np.exp(theta[0]), eff

    def residual(theta):
        floor, eff = unpack(theta)
        work = np.sum((terms / eff) ** SMOOTH_P, axis=1) ** (1.0 / SMOOTH_P)
        return np.log(floor + work) - log_t

    theta0 = np.concatenate([[np.log(measured_s.min() * 0.9)], np.log(np.full(used.sum(), 0.5))])
    # Efficiencies stay physical: no resource beats its peak (memory may pass 1 a little where
    # a formula counts re-reads that the L2 absorbs), so the fit cannot switch a term off by
    # giving it an absurd efficiency, and the terms keep their meaning on another spec.
    upper = np.log(np.array(EFFICIENCY_CAP))[used]
    lo = np.concatenate([[np.log(measured_s.min() * 1e-3)], np.full(used.sum(), np.log(1e-5))])
    hi = np.concatenate([[np.log(measured_s.max())], upper])
    theta0 = np.clip(theta0, lo + 1e-9, hi - 1e-9)
    sol = least_squares(residual, theta0, loss="soft_l1", f_scale=0.1, bounds=(lo, hi))
    floor, eff = unpack(sol.x)
    return Baseline(floor_s=float(floor), eff_tensor=float(eff[0]), eff_cuda=float(eff[1]),
                    eff_memory=float(eff[2]))
