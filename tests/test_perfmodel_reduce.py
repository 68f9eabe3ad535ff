"""roofsim.perfmodel.reduce_launch / reduce_chain_seconds: ATen's reduce kernel as
setReduceConfig launches it, and a thread's loop of loads as a chain of round trips to memory
that bounds a launch of few blocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.hardware import derive_sm_restricted, load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (REDUCE_MAX_THREADS, chain_seconds, reduce_chain_seconds,
                               reduce_launch)

H200 = load_hardware("h200")


def reduction(rows, cols, dtype="bfloat16", outer=False):
    rows = np.atleast_1d(np.asarray(rows, dtype=float))
    params = {"rows": rows, "cols": np.full(len(rows), float(cols))}
    if outer:
        params["stride"] = np.ones(len(rows))
    return records_from_params("reduction", params, dtype)


def _launch(table, hw=H200):
    return reduce_launch(table, float(hw.grid_sms), float(hw.max_threads_per_sm))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 1 << 20), st.integers(1, 1 << 16), st.booleans(),
       st.sampled_from(["bfloat16", "float32"]))
def test_every_input_is_summed_by_one_thread_of_a_block_within_the_thread_limit(rows, cols,
                                                                                outer, dtype):
    """The launch covers the reduction: each output's lanes x the inputs per thread hold every
    input and no lane is idle for a whole vector; blocks are powers of two of at most
    REDUCE_MAX_THREADS threads; a thread's iterations are at least one."""
    if rows * cols > 1 << 31:
        return
    launch = _launch(reduction([rows], cols, dtype, outer))
    lanes, per_thread = launch.lanes[0], launch.per_thread[0]
    assert lanes * per_thread >= cols
    assert (per_thread - 1) * lanes < cols
    threads = launch.threads[0]
    assert 1 <= threads <= REDUCE_MAX_THREADS and threads == 2 ** np.round(np.log2(threads))
    assert launch.blocks[0] >= 1 and launch.iterations[0] >= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1 << 18), st.integers(1, 1 << 15), st.booleans(), st.integers(8, 131))
def test_the_chain_is_never_shorter_on_fewer_sms(rows, cols, outer, sms):
    """The grid is sized for the SMs the device reports (grid_sms); a green context of fewer SMs
    runs the same blocks in as many waves or more: the chain never shrinks. Other kinds have
    none."""
    table = reduction([rows], cols, outer=outer)
    whole = reduce_chain_seconds(table, H200)[0]
    fewer = reduce_chain_seconds(table, derive_sm_restricted(H200, sms))[0]
    assert whole > 0 and fewer >= whole * (1 - 1e-12)
    other = records_from_params("softmax", {"rows": np.array([float(rows)]),
                                            "cols": np.array([float(cols)])}, "bfloat16")
    assert reduce_chain_seconds(other, H200)[0] == 0.0
    assert chain_seconds(table, H200)[0] == whole


def test_few_outputs_of_long_rows_split_over_blocks_and_warps():
    """setReduceConfig's three regimes on a contiguous row: a warp per output (18 rows of 4466:
    2 blocks of 16 warps, 140 values a thread, 18 vectors of 8 bf16), the block's warps over one
    output (61 rows of 10880: 22 values a thread), several blocks per output (one row of 10^6:
    123 blocks, 16 values a thread)."""
    few = _launch(reduction([18, 61, 1], 4466))
    assert (few.threads[0], few.blocks[0], few.per_thread[0], few.iterations[0]) == \
        (512, 2, 140, 18)
    split = _launch(reduction([61], 10880))
    assert (split.blocks[0], split.per_thread[0], split.iterations[0]) == (61, 22, 3)
    glob = _launch(reduction([1], 1_000_000))
    assert (glob.blocks[0], glob.per_thread[0]) == (123, 16)


@pytest.mark.parametrize("device", ["h200", "h100-sxm"])
def test_the_roofline_of_a_reduction_of_few_blocks_is_its_loop_of_loads(device):
    """Without a profile, a contiguous reduction of at most 8 blocks and at least 8 iterations a
    thread is timed by its chain (REDUCE_ROUND_TRIPS memory latencies per iteration): within 25 %
    of every such row each Hopper timed (fit and held-out, 18-25 rows), where the bare roofline
    was 70-95 % fast."""
    from roofsim.calibration.fit import measurement_table
    from roofsim.calibration.measurements import read_measurements
    hw = load_hardware(device)
    m = read_measurements(data_dir("calibration") / device / "measurements.csv")
    m = m.select(m.stable & (m["kind"] == "reduction") & ~(np.nan_to_num(m["stride"]) >= 1))
    table = measurement_table(m)
    launch = _launch(table, hw)
    few = (launch.blocks <= 8) & (launch.iterations >= 8)
    assert few.sum() >= 15
    err = simulate(table, hw, None).launch_time_s[few] / m["kernel_s"][few] - 1.0
    assert np.abs(err).max() < 0.25, np.abs(err).max()
