"""Properties of the per-kernel roofline that must hold for any records and any spec."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.engine import simulate
from roofsim.hardware import TENSOR_DTYPES, list_hardware, load_hardware
from roofsim.records import RecordTable

SPECS = {h: load_hardware(h) for h in list_hardware()}
DTYPES = TENSOR_DTYPES + ("int64",)   # int64: no tensor path, CUDA-core fp32 rate
SETTINGS = settings(max_examples=60, deadline=None)
REL = 1e-12   # float rounding allowance for monotonicity

amount = st.one_of(st.just(0.0), st.floats(1.0, 1e15, allow_nan=False, allow_infinity=False))


@st.composite
def tables(draw, min_size=0, max_size=12) -> RecordTable:
    n = draw(st.integers(min_size, max_size))
    col = lambda strat: np.array(draw(st.lists(strat, min_size=n, max_size=n)), dtype=float)  # noqa: E731
    bytes_read = col(amount)
    return RecordTable.from_columns(
        n, kind="gemm", name="k",
        dtype=np.array(draw(st.lists(st.sampled_from(DTYPES), min_size=n, max_size=n)), dtype=object),
        flops_tensor=col(amount), flops_cuda=col(amount), bytes_read=bytes_read,
        bytes_written=col(amount), weight_bytes=bytes_read * draw(st.floats(0, 1)),
        count=col(st.floats(1, 1000, allow_nan=False)))


specs = st.sampled_from(sorted(SPECS)).map(SPECS.get)
modes = st.sampled_from(["cuda_graph", "stream"])


@SETTINGS
@given(table=tables(), spec=specs, mode=modes)
def test_time_at_least_every_floor_and_at_most_their_sum(table, spec, mode):
    t = simulate(table, spec, launch_mode=mode)
    terms = np.stack([t.launch_s, t.tensor_s, t.cuda_s, t.memory_s])
    assert np.all(np.isfinite(t.time_s)) and np.all(t.time_s >= 0)
    for term in terms:
        assert np.all(t.launch_time_s >= term)
    assert np.all(t.launch_time_s >= t.launch_s + terms[1:].max(axis=0) * (1 - REL))
    assert np.all(t.launch_time_s <= terms.sum(axis=0) + t.launch_s + 1e-30)
    assert np.allclose(t.time_s, t.launch_time_s * table.count, rtol=REL, atol=0)


@SETTINGS
@given(table=tables(min_size=1), spec=specs, mode=modes)
def test_bound_names_the_largest_term(table, spec, mode):
    t = simulate(table, spec, launch_mode=mode)
    terms = np.stack([t.launch_s, t.tensor_s, t.cuda_s, t.memory_s])
    assert np.all(terms[t.bound, np.arange(len(table))] == terms.max(axis=0))


def _scaled(mapping, factor, only=None):
    return {k: v * (factor if only in (None, k) else 1.0) for k, v in mapping.items()}


@st.composite
def faster_specs(draw):
    """(spec, the same spec with one roof raised or its launch overhead lowered)."""
    spec = draw(specs)
    up = draw(st.floats(1.0, 100.0))
    down = draw(st.floats(0.0, 1.0))
    which = draw(st.sampled_from(["tensor_peak", "cuda_peak", "bandwidth", "efficiency", "launch"]))
    if which == "tensor_peak":
        faster = dataclasses.replace(spec, tensor_core_tflops=_scaled(
            spec.tensor_core_tflops, up, draw(st.sampled_from(sorted(spec.tensor_core_tflops)))))
    elif which == "cuda_peak":
        faster = dataclasses.replace(spec, cuda_core_tflops=_scaled(
            spec.cuda_core_tflops, up, draw(st.sampled_from(sorted(spec.cuda_core_tflops)))))
    elif which == "bandwidth":
        faster = dataclasses.replace(spec, mem_bandwidth_gbps=spec.mem_bandwidth_gbps * up)
    elif which == "efficiency":
        key = draw(st.sampled_from(["tensor_core", "cuda_core", "memory"]))
        eff = dict(spec.efficiency)
        eff[key] = draw(st.floats(eff[key], 1.0))
        faster = dataclasses.replace(spec, efficiency=eff)
    else:
        faster = dataclasses.replace(spec, launch_overhead_us=_scaled(spec.launch_overhead_us, down))
    return spec, faster


@SETTINGS
@given(table=tables(), pair=faster_specs(), mode=modes)
def test_time_never_rises_when_a_roof_rises(table, pair, mode):
    slow, fast = pair
    before = simulate(table, slow, launch_mode=mode)
    after = simulate(table, fast, launch_mode=mode)
    assert np.all(after.time_s <= before.time_s * (1 + REL))
    assert after.total_s <= before.total_s * (1 + REL)


@SETTINGS
@given(a=tables(), b=tables(), spec=specs, mode=modes)
def test_totals_are_additive_over_records(a, b, spec, mode):
    ta, tb = simulate(a, spec, launch_mode=mode), simulate(b, spec, launch_mode=mode)
    tab = simulate(RecordTable.concat([a, b]), spec, launch_mode=mode)
    assert np.array_equal(tab.time_s, np.concatenate([ta.time_s, tb.time_s]))
    assert np.isclose(tab.total_s, ta.total_s + tb.total_s, rtol=1e-12, atol=0)
    by_ab = tab.time_by_bound()
    for bound, s in ta.time_by_bound().items():
        assert np.isclose(by_ab[bound], s + tb.time_by_bound()[bound], rtol=1e-12, atol=0)
