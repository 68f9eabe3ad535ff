"""roofsim.perfmodel.softmax_warp_path / softmax_chain_seconds: ATen's persistent warp softmax
(a row in one warp's registers, up to 2048 values of at most 8 KB) against its block softmax,
and the warp path's chain per element of a lane."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.calibration.features import SPLIT_KV_WEIGHT, features
from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.hardware import derive_sm_restricted, load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (SOFTMAX_WARP_MAX, chain_seconds, softmax_chain_seconds,
                               softmax_warp_path)

H200 = load_hardware("h200")


def softmax(rows, cols, dtype="bfloat16"):
    cols = np.atleast_1d(np.asarray(cols, dtype=float))
    return records_from_params("softmax", {"rows": np.full(len(cols), float(rows)),
                                           "cols": cols}, dtype)


def test_the_warp_path_holds_rows_of_at_most_2048_values_and_8_kb():
    assert softmax_warp_path(softmax(4, [2048, 2049, 16])).tolist() == [True, False, True]
    assert softmax_warp_path(softmax(4, [2048], "float32"))[0]          # 8 KB
    other = records_from_params("reduction", {"rows": np.array([4.0]),
                                              "cols": np.array([64.0])}, "bfloat16")
    assert not softmax_warp_path(other)[0]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1 << 16), st.integers(2, 2048), st.integers(8, 131))
def test_the_warp_chain_grows_with_the_lanes_elements_and_never_shrinks_on_fewer_sms(rows, cols,
                                                                                   sms):
    """A lane's elements set the chain: never shorter for a longer row, never shorter on fewer
    SMs, none on the block path; chain_seconds takes it."""
    t = softmax(rows, [cols, min(2 * cols, SOFTMAX_WARP_MAX)])
    chain = softmax_chain_seconds(t, H200)
    assert 0 < chain[0] <= chain[1]
    assert softmax_chain_seconds(t, derive_sm_restricted(H200, sms))[0] >= chain[0] * (1 - 1e-12)
    assert chain_seconds(t, H200)[0] == chain[0]
    assert softmax_chain_seconds(softmax(rows, [SOFTMAX_WARP_MAX + 1]), H200)[0] == 0.0


def test_the_two_kernels_are_never_neighbours():
    """Across the switch at 2048 values the time drops 3x (calibration/h200: 11.0 us at 2048
    bf16 values, 3.1 at 2136): a row either side is at least the flag's weight away."""
    p = {"rows": np.array([6.0, 6.0]), "cols": np.array([2048.0, 2136.0])}
    x = features("softmax", p, "bfloat16", 132)
    assert np.linalg.norm(x[0] - x[1]) >= SPLIT_KV_WEIGHT


def test_the_roofline_of_a_long_warp_softmax_row_is_its_chain():
    """Without a profile, the H200's bf16 softmax rows of at most 200 rows and 1024-2048 values
    (the warp path, fit and held-out) come within 30 %; without the chain the roofline had them
    60-85 % fast."""
    from roofsim.calibration.fit import measurement_table
    from roofsim.calibration.measurements import read_measurements
    m = read_measurements(data_dir("calibration") / "h200" / "measurements.csv")
    m = m.select(m.stable & (m["kind"] == "softmax") & (m["dtype"] == "bfloat16")
                 & (m["rows"] <= 200) & (m["cols"] >= 1024) & (m["cols"] <= 2048))
    assert len(m) >= 20
    err = simulate(measurement_table(m), H200, None).launch_time_s / m["kernel_s"] - 1.0
    assert np.abs(err).max() < 0.30, np.abs(err).max()
