"""The norms' one block per row (roofsim.perfmodel.row_blocks): resident blocks per SM up to the
SM's thread limit (HardwareSpec.max_threads_per_sm), the waves of resident blocks that pay the
rows' round trips, and what that does to a launch's time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.hardware import derive_sm_restricted, load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (NORM_BLOCK_THREADS, PARAMS, launch_seconds, row_blocks,
                               unit_terms)

H200 = load_hardware("h200")


def rows_table(kind, rows, cols=4096):
    return records_from_params(kind, {"rows": [float(r) for r in np.atleast_1d(rows)],
                                      "cols": [float(cols)] * len(np.atleast_1d(rows))},
                               "bfloat16")


@pytest.mark.parametrize("spec,threads", [("h200", 2048), ("h100-sxm", 2048),
                                          ("a100-sxm-80gb", 2048), ("b200", 2048),
                                          ("l40s", 1536), ("rtx-4090", 1536), ("rtx-5090", 1536)])
def test_thread_limit_follows_the_compute_capability(spec, threads):
    assert load_hardware(spec).max_threads_per_sm == threads


def test_resident_blocks_and_waves():
    limit = 2048 / NORM_BLOCK_THREADS                       # 16 on Hopper
    occ, waves = row_blocks(rows_table("rmsnorm", [1, 132, 132 * 4, 132 * 16, 132 * 48]), H200)
    np.testing.assert_allclose(occ, [1, 1, 4, limit, limit])
    np.testing.assert_allclose(waves, [1, 1, 1, 1, 3])
    occ, waves = row_blocks(rows_table("softmax", [132 * 48]), H200)     # another launch shape
    assert occ[0] == 1 and waves[0] == 1
    # fewer SMs: the same rows fill more of each
    occ8, waves8 = row_blocks(rows_table("layernorm", [132 * 4]), derive_sm_restricted(H200, 8))
    assert occ8[0] == limit and waves8[0] == np.ceil(132 * 4 / (8 * limit))


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["layernorm", "rmsnorm"]), rows=st.integers(1, 200_000),
       more=st.integers(1, 200_000), cols=st.integers(8, 32768),
       fractions=st.lists(st.floats(0.05, 0.95), min_size=len(PARAMS), max_size=len(PARAMS)),
       sms=st.sampled_from([0, 8, 40, 96]))
def test_more_rows_never_take_less_time(kind, rows, more, cols, fractions, sms):
    hw = H200 if not sms else derive_sm_restricted(H200, sms)
    p = np.array([q.low + f * (q.high - q.low) for q, f in zip(PARAMS, fractions)])
    t = launch_seconds(unit_terms(rows_table(kind, [rows, rows + more], cols), hw), p)
    assert t[1] >= t[0] * (1 - 1e-12)
