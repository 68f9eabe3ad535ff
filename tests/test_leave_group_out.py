"""LocalLinear.leave_group_out: each point predicted from the other groups' points only (a shape
timed at several SM counts is one group; benchmarks/share_metric_loo.py scores the SM-parallel
share's metric with it)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.calibration.interpolate import LocalLinear, LocalLinearSettings


def test_singleton_groups_are_leave_one_out():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 3))
    y = x @ np.array([0.5, -1.0, 2.0]) + rng.normal(scale=0.1, size=60)
    ll = LocalLinear(x, y)
    np.testing.assert_allclose(ll.leave_group_out(np.arange(60)), ll.leave_one_out(),
                               rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=2, max_value=5), st.integers(min_value=0, max_value=10_000))
def test_a_groups_own_points_never_speak_for_it(copies, seed):
    """Each group: one shape at `copies` nearby points with a value of its own. Predicted from the
    other groups, a point gets their values (all 0), never its group's (1 + index)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(20, 2))
    x = np.repeat(centres, copies, axis=0) + rng.normal(scale=0.01, size=(20 * copies, 2))
    groups = np.repeat(np.arange(20), copies)
    y = np.zeros(len(x))
    y[groups == 7] = 100.0       # one group far off in value: only it could pull a point up
    pred = LocalLinear(x, y, LocalLinearSettings(margin=0.0)).leave_group_out(groups)
    np.testing.assert_allclose(pred[groups == 7], 0.0, atol=1e-9)


def test_too_few_other_points_give_nan():
    x = np.arange(6, dtype=float).reshape(-1, 1)
    pred = LocalLinear(x, np.ones(6)).leave_group_out(np.array([0, 0, 0, 0, 0, 1]))
    assert np.isnan(pred).all()
