"""The L2's bandwidth as a roof (roofsim.perfmodel.memory_roof_s): a launch a model runs on
activations still in L2 streams them at the L2's bandwidth (hardware l2_bandwidth_gbps), its
weights still at HBM's; the calibration harness (every launch cold) sees HBM alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.calibration.profile import load_profile
from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.errors import UserError
from roofsim.hardware import (L2_BYTES_PER_CLOCK_PER_SM, derive_sm_restricted, load_hardware,
                              spec_from_dict, spec_to_dict)
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (LOADED_QUEUE_NS, RESIDENT_WEIGHT_SHARE, dram_bytes, l2_resident,
                               memory_roof_s, reads_cache, resident_latency_ratio, unit_terms)

H200 = load_hardware("h200")


def flat(kind: str, numel, dtype: str = "bfloat16"):
    return records_from_params(kind, {"numel": np.atleast_1d(np.asarray(numel, dtype=float))},
                               dtype)


def rows(kind: str, n_rows, cols: int = 1280, dtype: str = "bfloat16"):
    n_rows = np.atleast_1d(np.asarray(n_rows, dtype=float))
    return records_from_params(kind, {"rows": n_rows, "cols": np.full(len(n_rows), float(cols))},
                               dtype)


def test_cold_launches_keep_the_hbm_roof():
    t = flat("elementwise", [1e3, 1e6, 1e8])
    nbytes = t.bytes_read + t.bytes_written
    cold = dram_bytes(t, nbytes) / H200.mem_bandwidth_bytes_per_s
    np.testing.assert_array_equal(memory_roof_s(t, nbytes, H200), cold)
    np.testing.assert_array_equal(memory_roof_s(t, nbytes, H200, np.zeros(3, dtype=bool)), cold)
    np.testing.assert_array_equal(unit_terms(t, H200).hbm_s, cold)


def test_a_resident_launch_streams_its_bytes_at_the_l2s_bandwidth():
    t = flat("silu", [1e6])
    nbytes = t.bytes_read + t.bytes_written
    got = memory_roof_s(t, nbytes, H200, np.array([True]))[0]
    assert got == pytest.approx(nbytes[0] / (H200.l2_bandwidth_gbps * 1e9))
    assert got < nbytes[0] / H200.mem_bandwidth_bytes_per_s


def test_a_resident_launchs_weights_still_come_from_dram():
    # a norm over 4 rows of 4096: its weight is a third of what it reads
    t = rows("rmsnorm", [4], cols=4096)
    nbytes = t.bytes_read + t.bytes_written
    slow_l2 = dataclasses.replace(H200, l2_bandwidth_gbps=1e6)     # an L2 that never binds
    got = memory_roof_s(t, nbytes, slow_l2, np.array([True]))[0]
    assert got == pytest.approx(t.weight_bytes[0] / H200.mem_bandwidth_bytes_per_s)


@settings(max_examples=80, deadline=None)
@given(numel=st.floats(1.0, 1e9), l2=st.floats(100.0, 1e5),
       kind=st.sampled_from(["elementwise", "silu", "gelu", "copy"]))
def test_the_resident_roof_lies_between_the_weights_and_the_slower_of_the_two_memories(
        numel, l2, kind):
    hw = dataclasses.replace(H200, l2_bandwidth_gbps=l2)
    t = flat(kind, [numel])
    nbytes = t.bytes_read + t.bytes_written
    warm = memory_roof_s(t, nbytes, hw, np.array([True]))[0]
    assert warm >= t.weight_bytes[0] / hw.mem_bandwidth_bytes_per_s * (1 - 1e-12)
    slowest = nbytes[0] / min(hw.mem_bandwidth_bytes_per_s, hw.l2_bandwidth_bytes_per_s)
    assert warm <= slowest * (1 + 1e-12)
    assert warm == pytest.approx(nbytes[0] / hw.l2_bandwidth_bytes_per_s)


def test_without_the_field_the_l2_bandwidth_scales_with_sms_and_clock():
    fields = spec_to_dict(H200)
    del fields["l2_bandwidth_gbps"]
    spec = spec_from_dict(fields)
    assert spec.l2_bandwidth_bytes_per_s == pytest.approx(
        L2_BYTES_PER_CLOCK_PER_SM * 132 * 1980e6)
    # a green context takes SMs away, not L2 slices
    assert derive_sm_restricted(spec, 16).l2_bandwidth_bytes_per_s == \
        pytest.approx(spec.l2_bandwidth_bytes_per_s)
    assert derive_sm_restricted(H200, 16).l2_bandwidth_gbps == H200.l2_bandwidth_gbps


@pytest.mark.parametrize("value, hint", [(9.9, "TB/s"), (-5.0, "")])
def test_a_bad_l2_bandwidth_is_named(value, hint):
    fields = spec_to_dict(H200)
    fields["l2_bandwidth_gbps"] = value
    with pytest.raises(UserError, match="l2_bandwidth_gbps") as err:
        spec_from_dict(fields)
    assert hint in str(err.value)


@pytest.mark.parametrize("l2, dram", [(374.0, 374.0), (500.0, 374.0), (700.0, None)])
def test_an_l2_no_nearer_than_dram_is_named(l2, dram):
    """An L2 hit at least as slow as DRAM would make a resident launch slower than a cold one
    (resident_latency_ratio above 1): one line naming the field and the DRAM latency it is
    compared with (the spec's, else the default)."""
    fields = spec_to_dict(H200)
    fields["l2_latency_ns"] = l2
    if dram is None:
        fields.pop("mem_latency_ns")
    else:
        fields["mem_latency_ns"] = dram
    with pytest.raises(UserError, match="l2_latency_ns") as err:
        spec_from_dict(fields)
    assert "DRAM latency" in str(err.value) and "\n" not in str(err.value)
    fields["l2_latency_ns"] = 0.9 * (dram or 600.0)
    assert spec_from_dict(fields).l2_latency_ns == fields["l2_latency_ns"]


def test_every_shipped_spec_cites_its_l2_bandwidth():
    from roofsim.hardware import list_hardware
    for name in list_hardware():
        spec = load_hardware(name)
        assert spec.l2_bandwidth_gbps, name
        assert spec.source_of("l2_bandwidth_gbps"), name


@pytest.fixture(scope="module")
def h200_profile():
    return load_profile(data_dir("calibration") / "h200")


@settings(max_examples=30, deadline=None)
@given(numel=st.floats(1e4, 4e6), l2=st.floats(2000.0, 40000.0),
       kind=st.sampled_from(["elementwise", "silu", "copy"]))
def test_a_faster_l2_never_slows_a_resident_launch_and_leaves_cold_ones_alone(
        h200_profile, numel, l2, kind):
    t = flat(kind, [numel])
    slow = dataclasses.replace(H200, l2_bandwidth_gbps=l2)
    fast = dataclasses.replace(H200, l2_bandwidth_gbps=2 * l2)
    assert l2_resident(t, H200)[0]
    warm = [simulate(t, hw, h200_profile).launch_time_s[0] for hw in (slow, fast)]
    assert warm[1] <= warm[0] * (1 + 1e-12)
    cold = [simulate(t, hw, h200_profile, l2_warm=False).launch_time_s[0] for hw in (slow, fast)]
    assert cold[0] == cold[1]


def test_a_launch_too_big_for_the_l2_is_timed_cold(h200_profile):
    # 40 MB read of a bf16 add: over half the H200's 50 MiB L2
    t = flat("elementwise", [1e7])
    assert not l2_resident(t, H200)[0]
    warm = simulate(t, H200, h200_profile).launch_time_s[0]
    cold = simulate(t, H200, h200_profile, l2_warm=False).launch_time_s[0]
    assert warm == cold
    small = flat("elementwise", [2e6])                  # 8 MB: resident, L2-bound
    assert simulate(small, H200, h200_profile).launch_time_s[0] < \
        0.8 * simulate(small, H200, h200_profile, l2_warm=False).launch_time_s[0]


def attention(seq_q, seq_kv, heads=10, d=128):
    one = lambda v: np.array([float(v)])   # noqa: E731
    return records_from_params("attention", {"batch": one(1), "heads": one(heads),
                                             "seq_q": one(seq_q), "seq_kv": one(seq_kv),
                                             "head_dim": one(d), "causal": one(0)}, "bfloat16")


def test_a_kv_cache_is_not_l2_resident():
    # a decode step's attention reads keys and values cached steps ago: the step's weights
    # have streamed through the L2 since
    assert reads_cache(attention(1, 3340))[0]
    assert not l2_resident(attention(1, 3340), H200)[0]
    # self-attention over the keys the step just computed is
    assert not reads_cache(attention(1024, 1024))[0]
    assert l2_resident(attention(1024, 1024), H200)[0]
    # DynamicCache's torch.cat of the cache and one new row
    append = records_from_params("cat", {"numel": [4275200.0], "inputs": [2.0],
                                         "largest": [4273920.0]}, "bfloat16")
    halves = records_from_params("cat", {"numel": [4275200.0], "inputs": [2.0],
                                         "largest": [2137600.0]}, "bfloat16")
    assert reads_cache(append)[0] and not l2_resident(append, H200)[0]
    assert not reads_cache(halves)[0] and l2_resident(halves, H200)[0]


def test_a_norm_over_many_rows_is_resident_its_weights_a_small_share():
    many = rows("layernorm", [4096], cols=768)
    one = rows("rmsnorm", [1], cols=1280)        # a decode step's norm: its weight is half
    assert many.weight_bytes[0] <= RESIDENT_WEIGHT_SHARE * many.bytes_read[0]
    assert l2_resident(many, H200)[0]
    assert not l2_resident(one, H200)[0]


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(1, 200000), cols=st.sampled_from([64, 768, 1280, 4096]),
       kind=st.sampled_from(["layernorm", "rmsnorm"]))
def test_residency_needs_small_weights_and_activations_under_half_the_l2(n_rows, cols, kind):
    t = rows(kind, [n_rows], cols=cols)
    activations = t.bytes_read[0] - t.weight_bytes[0]
    expected = t.weight_bytes[0] <= RESIDENT_WEIGHT_SHARE * t.bytes_read[0] and \
        activations <= 0.5 * H200.l2_cache_bytes
    assert bool(l2_resident(t, H200)[0]) == expected


def test_a_resident_norms_blocks_wait_the_l2s_loaded_latency():
    # a norm's per-SM term is each row block's Little's law: from L2 its bytes return after the
    # L2's latency, both latencies loaded (a queue of LOADED_QUEUE_NS on each); other kinds keep
    # theirs (what the SM issues bounds them as much)
    norm = rows("layernorm", [4096], cols=768)
    cold, warm = unit_terms(norm, H200), unit_terms(norm, H200, resident=np.array([True]))
    q = LOADED_QUEUE_NS * 1e-9
    share = (H200.l2_latency_s + q) / (H200.mem_latency_s + q)
    assert resident_latency_ratio(H200) == pytest.approx(share)
    assert H200.l2_latency_s / H200.mem_latency_s < share < 1.0
    assert warm.parallel_s(0.05)[0] == pytest.approx(share * cold.parallel_s(0.05)[0])
    add = flat("elementwise", [1e6])
    np.testing.assert_array_equal(unit_terms(add, H200, resident=np.array([True])).parallel_s(0.5),
                                  unit_terms(add, H200).parallel_s(0.5))
    slower_l2 = dataclasses.replace(H200, l2_latency_ns=300.0)
    assert unit_terms(norm, slower_l2, resident=np.array([True])).parallel_s(0.05)[0] > \
        warm.parallel_s(0.05)[0]


@settings(max_examples=60, deadline=None)
@given(l2=st.floats(20.0, 600.0), dram=st.floats(100.0, 1500.0))
def test_the_resident_latency_ratio_lies_between_the_unloaded_one_and_one(l2, dram):
    """A queue added to both latencies pulls their ratio toward 1, never past it, and never
    below the unloaded ratio; a slower L2 never gives a smaller ratio."""
    hw = dataclasses.replace(H200, l2_latency_ns=min(l2, dram), mem_latency_ns=dram)
    r = resident_latency_ratio(hw)
    assert hw.l2_latency_s / hw.mem_latency_s - 1e-12 <= r <= 1.0 + 1e-12
    slower = dataclasses.replace(hw, l2_latency_ns=min(l2 * 1.1, dram))
    assert resident_latency_ratio(slower) >= r - 1e-12


def test_a_resident_warp_softmax_chain_waits_the_l2s_loaded_latency():
    """The warp softmax's elements per lane are a chain of dependent loads: on an L2-resident
    row each waits the loaded L2 latency (the chain x resident_latency_ratio); the block
    softmax has no chain, and a cold row keeps the DRAM's."""
    from roofsim.perfmodel import softmax_chain_seconds
    t = records_from_params("softmax", {"rows": np.array([117.0, 117.0]),
                                        "cols": np.array([1024.0, 4096.0])}, "bfloat16")
    cold = softmax_chain_seconds(t, H200)
    warm = softmax_chain_seconds(t, H200, resident=np.array([True, True]))
    assert cold[0] > 0 and cold[1] == 0.0 and warm[1] == 0.0
    assert warm[0] == pytest.approx(resident_latency_ratio(H200) * cold[0])
    mixed = softmax_chain_seconds(t, H200, resident=np.array([False, True]))
    assert mixed[0] == cold[0]
    # and the physics takes it: this short row's CUDA-core term is its chain, cold or warm
    assert unit_terms(t, H200).cuda_s[0] == pytest.approx(cold[0])
    assert unit_terms(t, H200, resident=np.array([True, True])).cuda_s[0] == \
        pytest.approx(warm[0])


def test_a_case_id_reads_back_as_its_case():
    from roofsim.calibration.suites import Case
    case = Case.make("layernorm", "bfloat16", {"cols": 1280, "rows": 120})
    assert case.case_id == "layernorm|bfloat16|rows=120,cols=1280"
    assert Case.from_id(case.case_id) == case
    t = case.records()
    assert t.kind[0] == "layernorm" and t.param("rows")[0] == 120
    for bad in ("layernorm|bfloat16", "layernorm|bfloat16|rows=1.5", "silu|bfloat16|width=3"):
        with pytest.raises(ValueError):
            Case.from_id(bad)
