"""Interpolation from measured neighbours: locally weighted linear regression (LOESS-style).

For a query point, take its k nearest measured points (Euclidean in the weighted feature space),
weight them by a Gaussian of their distance (bandwidth: the k-th neighbour's distance), and fit
y ~ a + b.(x - x_query) by weighted least squares with a ridge on b; the prediction is a. On
a smooth surface this follows local trends (the launch floor's slope, a roof's plateau) where a
plain neighbour average would lag; the ridge keeps it a weighted average where the neighbours
cannot support a slope. Predictions are kept within the neighbours' range widened by `margin`,
so a sparse region cannot extrapolate wildly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class LocalLinearSettings:
    neighbours: int = 12
    ridge: float = 0.3        # penalty on slopes, in units of summed weight
    margin: float = 0.15      # allowed overshoot of the neighbours' y range (log units)
    bandwidth_floor: float = 0.5


class LocalLinear:
    def __init__(self, x: np.ndarray, y: np.ndarray, settings: LocalLinearSettings | None = None):
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.s = settings or LocalLinearSettings()
        self.tree = cKDTree(self.x) if len(self.x) else None

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, distance to the nearest measured point) per query row."""
        xq = np.asarray(xq, dtype=np.float64)
        nq = len(xq)
        if nq == 0 or self.tree is None:
            return np.full(nq, np.nan), np.full(nq, np.inf)
        k = min(self.s.neighbours, len(self.x))
        dist, idx = self.tree.query(xq, k=k)
        dist, idx = dist.reshape(nq, k), idx.reshape(nq, k)
        bw = np.maximum(dist[:, -1:], self.s.bandwidth_floor)
        w = np.exp(-0.5 * (dist / bw) ** 2 * 4.0)            # e^-2 at the k-th neighbour
        yn = self.y[idx]
        dx = self.x[idx] - xq[:, None, :]                     # (q, k, d)
        a = np.concatenate([np.ones((nq, k, 1)), dx], axis=2)  # (q, k, d+1)
        aw = a * w[:, :, None]
        lhs = np.einsum("qki,qkj->qij", aw, a)
        sw = w.sum(axis=1)
        d1 = a.shape[2]
        pen = np.eye(d1)
        pen[0, 0] = 0.0
        lhs = lhs + self.s.ridge * sw[:, None, None] * pen[None]
        rhs = np.einsum("qki,qk->qi", aw, yn)
        try:
            beta = np.linalg.solve(lhs, rhs[..., None])[..., 0]
            pred = beta[:, 0]
        except np.linalg.LinAlgError:
            pred = (w * yn).sum(axis=1) / sw
        lo = yn.min(axis=1) - self.s.margin
        hi = yn.max(axis=1) + self.s.margin
        pred = np.clip(pred, lo, hi)
        return pred, dist[:, 0]
