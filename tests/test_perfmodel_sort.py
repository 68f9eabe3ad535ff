"""roofsim.perfmodel.launches_per_call: a torch.sort of a long row is cub's radix sort, a chain
of launches (5 + 2 per 8-bit digit of the key); the engine's roofline pays a launch floor for
each where no profile speaks, and takes a graph gap per node off a calibrated time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.calibration import load_profile
from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import SORT_BITONIC_MAX, l2_resident, launches_per_call

H200 = load_hardware("h200")


def sort(cols, dtype="int64", rows=1.0):
    cols = np.atleast_1d(np.asarray(cols, dtype=float))
    return records_from_params("sort", {"rows": np.full(len(cols), float(rows)), "cols": cols},
                               dtype)


def test_a_long_row_is_a_radix_sort_of_one_pass_per_key_byte():
    # the H200's trace of DeepSeek-OCR's expert-id sort (int64, 13158 elements): 11 kernels
    # and 10 memsets (calibration/h200/e2e-fresh9/kernels.csv.gz)
    assert launches_per_call(sort([13158]), 132.0)[0] == 21
    assert launches_per_call(sort([13158], "float32"), 132.0)[0] == 5 + 2 * 4
    assert launches_per_call(sort([13158], "bfloat16"), 132.0)[0] == 5 + 2 * 2
    assert launches_per_call(sort([SORT_BITONIC_MAX, 16]), 132.0)[0:2].tolist() == [1, 1]
    other = records_from_params("softmax", {"rows": np.array([1.0]), "cols": np.array([1e6])},
                                "bfloat16")
    assert launches_per_call(other, 132.0)[0] == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 1 << 22))
def test_the_roofline_pays_a_launch_floor_per_launch(cols):
    t = simulate(sort([cols]), H200, None)
    floor = H200.launch_overhead_s("cuda_graph")
    assert t.launch_s[0] == pytest.approx(floor * launches_per_call(sort([cols]), 132.0)[0])
    assert t.launch_time_s[0] >= t.launch_s[0]
    if cols > SORT_BITONIC_MAX:              # the jump at the switch: 20 more floors
        short = simulate(sort([SORT_BITONIC_MAX]), H200, None).launch_time_s[0]
        assert t.launch_time_s[0] >= short + 20 * floor * (1 - 1e-9)


def test_a_calibrated_radix_sort_loses_a_graph_gap_per_node():
    """The profile's time of a sort was timed as a graph of such calls: each of its 21 nodes
    left the measured gap, which the kernels' own duration does not hold."""
    prof = load_profile(data_dir("calibration") / "h200")
    assert prof.graph_gap_s > 0
    long_row = sort([13158])
    t = simulate(long_row, H200, prof)
    issued = prof.predict_launch_s(long_row, H200, resident=l2_resident(long_row, H200))[0]
    assert t.calibrated[0]
    assert t.node_gap_s[0] == pytest.approx(21 * prof.graph_gap_s)
    assert t.launch_time_s[0] == pytest.approx(issued - 21 * prof.graph_gap_s)
    short = simulate(sort([1000]), H200, prof)
    assert short.node_gap_s[0] == pytest.approx(prof.graph_gap_s)


def _h200_int64_rows(lo, hi):
    from roofsim.calibration.fit import measurement_table
    from roofsim.calibration.measurements import read_measurements
    m = read_measurements(data_dir("calibration") / "h200" / "measurements.csv")
    m = m.select(m.stable & (m["kind"] == "sort") & (m["dtype"] == "int64") & (m["rows"] == 1)
                 & (m["cols"] > lo) & (m["cols"] <= hi))
    return m, measurement_table(m)


def test_the_roofline_of_a_one_row_sort_is_its_chain_of_passes():
    """Without a profile, a one-row int64 sort of 129 to 131072 keys is timed by its dependent
    passes (perfmodel.sort_chain_seconds: one block's radix passes up to SORT_BITONIC_MAX, the
    onesweep kernels' round trips above) and its launches: within 15 % of every such row the
    H200 timed (fit and held-out); the bare roofline was 2-20x fast."""
    m, table = _h200_int64_rows(128, 131072)
    assert len(m) >= 30
    pred = simulate(table, H200, None).launch_time_s
    err = pred / m["kernel_s"] - 1.0
    assert np.abs(err).max() < 0.15, np.abs(err).max()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1 << 22), st.sampled_from(["int64", "float32", "bfloat16"]),
       st.integers(8, 132))
def test_the_sort_chain_is_per_block_and_grows_with_the_row(cols, dtype, sms):
    """The chain is one block's (or one pass chain's): the same on fewer SMs, never shorter for a
    longer row of the same algorithm, and longer for a wider key."""
    from roofsim.hardware import derive_sm_restricted
    from roofsim.perfmodel import SORT_WARP_MAX, sort_chain_seconds
    chain = sort_chain_seconds(sort([cols], dtype), H200)[0]
    assert chain == pytest.approx(
        sort_chain_seconds(sort([cols], dtype), derive_sm_restricted(H200, sms))[0])
    assert (chain > 0) == (cols > 1)
    same_regime = min(2 * cols, SORT_BITONIC_MAX) if cols <= SORT_BITONIC_MAX else 2 * cols
    assert sort_chain_seconds(sort([same_regime], dtype), H200)[0] >= chain
    if dtype != "int64" and cols > SORT_WARP_MAX:
        assert sort_chain_seconds(sort([cols], "int64"), H200)[0] > chain
    other = records_from_params("softmax", {"rows": np.array([1.0]), "cols": np.array([cols])},
                                "bfloat16")
    assert sort_chain_seconds(other, H200)[0] == 0.0


def test_the_roofline_of_a_short_sort_is_its_sorting_network():
    """DeepSeek-OCR's decode step sorts its 6 expert ids with one bitonic kernel of 16 slots (the
    H200's trace, calibration/h200/e2e-fresh9): the roofline without a profile, a launch floor
    and the network's 10 stages, within 15 % of every such kernel the trace holds."""
    import csv
    import gzip
    path = data_dir("calibration") / "h200" / "e2e-fresh9" / "kernels.csv.gz"
    with gzip.open(path, "rt", newline="") as f:
        took = [float(r["duration_s"]) for r in csv.DictReader(f)
                if r["op"] == "aten::sort" and r["input_dims"].startswith("[[6]")
                and "bitonicSort" in r["name"]]
    assert len(took) >= 10
    pred = simulate(sort([6]), H200, None).launch_time_s[0]
    assert max(abs(pred / t - 1.0) for t in took) < 0.15


def test_a_float32_sort_pays_the_blocks_fixed_work_beside_its_passes():
    """A float32 key has half an int64 key's passes, but the block's work around the passes
    (SORT_FIXED_PASSES) does not halve: the roofline comes within 12 % of every one-block
    float32 sort the H200 timed in few rows (fit and held-out), where the passes alone left them
    20-32 % fast; a float32 sort stays shorter than an int64 one of the same row."""
    from roofsim.calibration.fit import measurement_table
    from roofsim.calibration.measurements import read_measurements
    from roofsim.perfmodel import SORT_FIXED_PASSES, sort_chain_seconds
    m = read_measurements(data_dir("calibration") / "h200" / "measurements.csv")
    m = m.select(m.stable & (m["kind"] == "sort") & (m["dtype"] == "float32") & (m["rows"] <= 32)
                 & (m["cols"] > 128) & (m["cols"] <= SORT_BITONIC_MAX))
    assert len(m) >= 5
    err = simulate(measurement_table(m), H200, None).launch_time_s / m["kernel_s"] - 1.0
    assert np.abs(err).max() < 0.12, np.abs(err).max()
    f32, i64 = (sort_chain_seconds(sort([1000], d), H200)[0] for d in ("float32", "int64"))
    assert f32 < i64 and f32 / i64 == pytest.approx((8 + SORT_FIXED_PASSES) /
                                                    (16 + SORT_FIXED_PASSES))
