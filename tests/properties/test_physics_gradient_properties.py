"""The physical model's exact derivatives (roofsim.perfmodel.launch_seconds_gradient), which
calibration's fit polishes on (roofsim.calibration.physfit._polish): they are what central
differences of launch_seconds give, on measured shapes of every kind, at any parameters inside
their physical ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.calibration.fit import measurement_table
from roofsim.calibration.measurements import read_measurements
from roofsim.data import data_dir
from roofsim.hardware import load_hardware
from roofsim.perfmodel import PARAMS, launch_seconds, launch_seconds_gradient, unit_terms

_M = read_measurements(data_dir("calibration") / "h200" / "measurements.csv")
_M = _M.select(_M.stable)
_KINDS = sorted(set(_M["kind"]))
_H200 = load_hardware("h200")


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(_KINDS),
       fractions=st.lists(st.floats(0.05, 0.95), min_size=len(PARAMS), max_size=len(PARAMS)))
def test_gradient_is_the_central_difference(kind, fractions):
    sub = _M.select(np.flatnonzero(_M["kind"] == kind)[:300])
    u = unit_terms(measurement_table(sub), _H200)
    p = np.array([q.low + f * (q.high - q.low) for q, f in zip(PARAMS, fractions)])
    t, grad = launch_seconds_gradient(u, p)
    np.testing.assert_allclose(t, launch_seconds(u, p), rtol=1e-13)
    for j, q in enumerate(PARAMS):
        h = 1e-6 * p[j]
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        fd = (launch_seconds(u, up) - launch_seconds(u, down)) / (2 * h)
        # relative to the size of a change the parameter can make (t / p): a kink of the
        # tensor term's max() inside the difference is the only way the two may part
        scale = t / p[j]
        assert np.all(np.abs(fd - grad[:, j]) <= 1e-4 * scale), q.name
