"""Interpolation from measured neighbours: locally weighted linear regression (LOESS-style).

For a query point, take its k nearest measured points (Euclidean in the weighted feature space),
weight them by a Gaussian of their distance (bandwidth: `bandwidth_scale` x the k-th
neighbour's distance, at least `bandwidth_floor`), and fit
y ~ a + b.(x - x_query) by weighted least squares with a ridge on b; the prediction is a. On
a smooth surface this follows local trends where a plain neighbour average would lag; the ridge
keeps it a weighted average where the neighbours cannot support a slope. Predictions are kept
within the neighbours' range widened by `margin`, so a sparse region cannot extrapolate wildly.

`leave_one_out` predicts every measured point from the others.
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
    # The Gaussian's width as a share of the k-th neighbour's distance. Below 1 the nearest
    # shapes dominate: libraries switch kernels between neighbouring shapes, so a residual (or
    # SM-parallel share) is rough at the scale of the 12-neighbour radius. Chosen by leave-one-
    # out over the H200's fit rows (benchmarks/loo_bandwidth.py): residual MAPE 11.58 % at 1.0,
    # 11.39 % at 0.7, 11.59 % at 0.5; the SM share's error 0.054 -> 0.052 (with the split-KV
    # attention feature; when chosen, before it: 11.63 / 11.44 / 11.63 %). Rerun after session
    # 9's physics: 10.30 % at 1.0, 10.04 % at 0.7, 10.01 % at 0.6, 10.09 % at 0.5: the minimum
    # is flat between 0.6 and 0.7, so 0.7 stays.
    bandwidth_scale: float = 0.7
    estimator: str = "linear"  # or "median": the neighbours' MAPE-optimal weighted median


def _solve(x: np.ndarray, y: np.ndarray, xq: np.ndarray, dist: np.ndarray, idx: np.ndarray,
           s: LocalLinearSettings) -> np.ndarray:
    nq, k = dist.shape
    bw = np.maximum(s.bandwidth_scale * dist[:, -1:], s.bandwidth_floor)
    w = np.exp(-2.0 * (dist / bw) ** 2)                     # e^-2 at one bandwidth
    yn = y[idx]
    if s.estimator == "median":
        return _weighted_median(yn, w * np.exp(-yn))
    dx = x[idx] - xq[:, None, :]                             # (q, k, d)
    a = np.concatenate([np.ones((nq, k, 1)), dx], axis=2)   # (q, k, d+1)
    aw = a * w[:, :, None]
    lhs = np.einsum("qki,qkj->qij", aw, a)
    pen = np.eye(a.shape[2])
    pen[0, 0] = 0.0
    lhs = lhs + s.ridge * w.sum(axis=1)[:, None, None] * pen[None]
    rhs = np.einsum("qki,qk->qi", aw, yn)
    try:
        pred = np.linalg.solve(lhs, rhs[..., None])[..., 0][:, 0]
    except np.linalg.LinAlgError:
        pred = (w * yn).sum(axis=1) / w.sum(axis=1)
    return np.clip(pred, yn.min(axis=1) - s.margin, yn.max(axis=1) + s.margin)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise weighted median. With weights w / t it minimizes sum w |p / t - 1|: where
    neighbours split between a fast and a slow kernel choice, MAPE is least at the fast one."""
    order = np.argsort(values, axis=1)
    v = np.take_along_axis(values, order, axis=1)
    c = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    pick = np.argmax(c >= 0.5 * c[:, -1:], axis=1)
    return v[np.arange(len(v)), pick]


class LocalLinear:
    def __init__(self, x: np.ndarray, y: np.ndarray, settings: LocalLinearSettings | None = None):
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.s = settings or LocalLinearSettings()
        self.tree = cKDTree(self.x) if len(self.x) else None

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, distance to the nearest measured point) per query row; NaN and an
        infinite distance where a row's coordinates are not finite (a shape of zero size has
        log coordinates of -inf: no measured point describes it)."""
        xq = np.asarray(xq, dtype=np.float64)
        nq = len(xq)
        if nq == 0 or self.tree is None:
            return np.full(nq, np.nan), np.full(nq, np.inf)
        finite = np.isfinite(xq).all(axis=1) if xq.ndim == 2 else np.isfinite(xq)
        if not finite.all():
            pred, near = np.full(nq, np.nan), np.full(nq, np.inf)
            if finite.any():
                pred[finite], near[finite] = self.predict(xq[finite])
            return pred, near
        k = min(self.s.neighbours, len(self.x))
        dist, idx = self.tree.query(xq, k=k)
        dist, idx = dist.reshape(nq, k), idx.reshape(nq, k)
        return _solve(self.x, self.y, xq, dist, idx, self.s), dist[:, 0]

    def leave_one_out(self) -> np.ndarray:
        """Each measured point predicted from the others."""
        n = len(self.x)
        k = min(self.s.neighbours + 1, n)
        if k < 2:
            return np.full(n, np.nan)
        dist, idx = self.tree.query(self.x, k=k)
        # Drop each point itself (or, among exact duplicates that crowd it out, the farthest).
        own = idx == np.arange(n)[:, None]
        own[~own.any(axis=1), -1] = True
        own &= np.cumsum(own, axis=1) == 1
        idx = idx[~own].reshape(n, k - 1)
        dist = dist[~own].reshape(n, k - 1)
        return _solve(self.x, self.y, self.x, dist, idx, self.s)

    def leave_group_out(self, groups: np.ndarray) -> np.ndarray:
        """Each measured point predicted from the points of other groups (`groups`: a label per
        point; a shape measured at several SM counts is one group, so that its other counts do
        not stand in for it). All NaN where the largest group leaves fewer than 2 other
        points."""
        groups = np.asarray(groups)
        n = len(self.x)
        _, sizes = np.unique(groups, return_counts=True)
        largest = int(sizes.max()) if n else 0
        k = min(self.s.neighbours, n - largest)
        if k < 2:
            return np.full(n, np.nan)
        # among the k + largest nearest, at most `largest` share the point's group
        dist, idx = self.tree.query(self.x, k=k + largest)
        other = groups[idx] != groups[:, None]
        order = np.argsort(~other, axis=1, kind="stable")[:, :k]   # the k nearest others
        return _solve(self.x, self.y, self.x, np.take_along_axis(dist, order, axis=1),
                      np.take_along_axis(idx, order, axis=1), self.s)
