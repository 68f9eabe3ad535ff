"""The engine: each bound, counts, launch modes, calibration profiles, empty input."""

from __future__ import annotations

import numpy as np
import pytest

from roofsim.perfmodel import MIN_WARM_SHARE, default_launch_seconds, l2_resident
from roofsim.engine import BOUNDS, simulate
from roofsim.hardware import derive_sm_restricted, load_hardware
from roofsim.records import KernelRecord, RecordTable

SPEC = load_hardware("h100-sxm")
EFF = SPEC.efficiency


def roofs(dtype="bfloat16"):
    """The achievable roofs, from the spec's own figures (peak x efficiency)."""
    return (SPEC.tensor_core_tflops[dtype] * 1e12 * EFF["tensor_core"],
            SPEC.cuda_core_tflops.get(dtype, SPEC.cuda_core_tflops["float32"]) * 1e12
            * EFF["cuda_core"],
            SPEC.mem_bandwidth_gbps * 1e9 * EFF["memory"])


def one(**work) -> RecordTable:
    return RecordTable.from_columns(1, kind="gemm", name="k", **work)


def test_tensor_bound():
    tensor, _, mem = roofs()
    flops = 1e12
    t = simulate(one(flops_tensor=flops, bytes_read=flops / tensor * mem / 10), SPEC)
    assert t.bound_names()[0] == "tensor"
    assert t.time_s[0] == pytest.approx(SPEC.launch_overhead_us["cuda_graph"] * 1e-6 + flops / tensor)


def test_cuda_bound():
    _, cuda, mem = roofs()
    flops = 1e10
    t = simulate(one(flops_cuda=flops, bytes_read=flops / cuda * mem / 10), SPEC)
    assert t.bound_names()[0] == "cuda"
    assert t.time_s[0] == pytest.approx(SPEC.launch_overhead_us["cuda_graph"] * 1e-6 + flops / cuda)


def test_memory_bound():
    tensor, _, mem = roofs()
    nbytes = 4e9
    t = simulate(one(flops_tensor=nbytes / mem * tensor / 10, bytes_read=nbytes / 2,
                     bytes_written=nbytes / 2), SPEC)
    assert t.bound_names()[0] == "memory"
    assert t.time_s[0] == pytest.approx(SPEC.launch_overhead_us["cuda_graph"] * 1e-6 + nbytes / mem)


@pytest.mark.parametrize("mode", ["cuda_graph", "stream"])
def test_launch_bound(mode):
    t = simulate(one(flops_tensor=1.0, bytes_read=1.0), SPEC, launch_mode=mode)
    assert t.bound_names()[0] == "launch"
    floor = SPEC.launch_overhead_us[mode] * 1e-6
    assert t.launch_s[0] == floor
    assert floor < t.time_s[0] < floor * 1.001


def test_dtype_selects_roof():
    """fp8 runs at the fp8 tensor peak; TF32 at the float32 tensor peak."""
    flops = 1e12
    table = RecordTable.from_columns(3, kind="gemm", name="k",
                                     dtype=np.array(["bfloat16", "float8_e4m3fn", "float32"],
                                                    dtype=object), flops_tensor=flops)
    t = simulate(table, SPEC)
    for i, d in enumerate(["bfloat16", "float8_e4m3fn", "float32"]):
        assert t.tensor_s[i] == pytest.approx(flops / roofs(d)[0])


def test_count_multiplies():
    table = RecordTable.from_columns(2, kind="gemm", name="k", flops_tensor=1e11,
                                     count=np.array([1.0, 7.0]))
    t = simulate(table, SPEC)
    assert t.time_s[1] == pytest.approx(7 * t.time_s[0])
    assert t.launch_time_s[1] == t.launch_time_s[0]
    assert t.total_s == pytest.approx(8 * t.time_s[0])


def test_time_by_bound_and_dominant():
    _, _, mem = roofs()
    table = RecordTable.from_records([
        KernelRecord(kind="gemm", name="big", flops_tensor=1e13),
        KernelRecord(kind="copy", name="small",
                     bytes_read=10 * SPEC.launch_overhead_s("cuda_graph") * mem),
        KernelRecord(kind="norm", name="tiny"),
    ])
    t = simulate(table, SPEC)
    by = t.time_by_bound()
    assert set(by) == set(BOUNDS)
    assert sum(by.values()) == pytest.approx(t.total_s)
    assert t.dominant_bound() == "tensor"
    assert list(t.bound_names()) == ["tensor", "memory", "launch"]


class FixedProfile:
    """Predicts `value` seconds for the records whose name is `name`, NaN elsewhere."""

    graph_gap_s = 0.0

    def __init__(self, name, value):
        self.name, self.value = name, value

    def predict_launch_s(self, table, hardware, resident=None):
        return np.where(table.name == self.name, self.value, np.nan)


def test_profile_replaces_covered_records_only():
    table = RecordTable.from_records([
        KernelRecord(kind="gemm", name="a", flops_tensor=1e12),
        KernelRecord(kind="gemm", name="b", flops_tensor=1e12, count=3),
    ])
    t = simulate(table, SPEC, profile=FixedProfile("b", 0.5))
    assert list(t.calibrated) == [False, True]
    assert t.time_s[1] == pytest.approx(3 * 0.5)
    # the record the profile does not cover: the physics at default parameters, uncalibrated
    resident = l2_resident(table, SPEC)[:1]
    assert t.time_s[0] == pytest.approx(
        default_launch_seconds(table.select([0]), SPEC, resident)[0])


def test_a_kind_no_profile_measured_is_bound_by_the_sms_it_runs_on():
    """Beside a profile, a record of a kind it never timed keeps the per-SM bandwidth and the
    round trip the roofline lacks: a 1 GB copy on 8 SMs takes at least its bytes over 8 SMs'
    bandwidth, where the roofline (without a profile, as the specification's tables) reads HBM
    alone."""
    hw = derive_sm_restricted(load_hardware("h200"), 8)
    table = RecordTable.from_records([KernelRecord(kind="copy", name="c", dtype="bfloat16",
                                                   params={"numel": 2**29},
                                                   bytes_read=2**30, bytes_written=2**30)])
    per_sm = 2**31 / (8 * hw.sm_mem_bandwidth_bytes_per_s)
    beside = simulate(table, hw, profile=FixedProfile("other", 1.0), l2_warm=False)
    alone = simulate(table, hw)
    assert not beside.calibrated[0]
    assert beside.time_s[0] >= per_sm > alone.time_s[0]


def test_profile_prediction_never_below_launch_floor():
    t = simulate(one(flops_tensor=1e12), SPEC, profile=FixedProfile("k", 1e-9),
                 launch_mode="stream", l2_warm=False)
    assert t.time_s[0] == SPEC.launch_overhead_s("stream")
    # a record that reads nothing from DRAM (L2-resident) may go to MIN_WARM_SHARE of it
    warm = simulate(one(flops_tensor=1e12), SPEC, profile=FixedProfile("k", 1e-9),
                    launch_mode="stream")
    assert warm.time_s[0] == MIN_WARM_SHARE * SPEC.launch_overhead_s("stream")


def test_empty_table():
    t = simulate(RecordTable.empty(), SPEC)
    assert len(t.time_s) == 0 and t.total_s == 0.0


def test_bad_launch_mode():
    with pytest.raises(ValueError):
        simulate(one(), SPEC, launch_mode="graph")


def test_negative_profile_prediction_is_lifted_to_floor():
    t = simulate(one(), SPEC, profile=FixedProfile("k", -1.0), l2_warm=False)
    assert t.time_s[0] == SPEC.launch_overhead_s("cuda_graph")


def test_a_complex_record_is_timed_not_a_traceback():
    # DeepSeek-V2's rotary runs in complex64: capture records it; no profile group has it.
    from roofsim.calibration import load_profile
    hw = load_hardware("h200")
    table = RecordTable.from_records([KernelRecord(kind="elementwise", name="aten.mul",
                                                   dtype="complex64", params={"numel": 4096},
                                                   flops_cuda=4096, bytes_read=65536,
                                                   bytes_written=32768)])
    t = simulate(table, hw, load_profile("h200"))
    assert np.isfinite(t.time_s).all() and not t.calibrated[0]
