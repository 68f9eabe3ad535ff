"""Attention's waves of round trips (roofsim.perfmodel.wave_latency_seconds, T_waves): each
wave of blocks beyond the first pays the block's round trips (phi L) again, as a roof of the
p-norm, so it binds where the tiles' math is short and hides under it where it is long."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.hardware import derive_sm_restricted, load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (PARAM_INDEX, PARAMS, KindParams, launch_seconds, unit_terms,
                               waves)

H200 = load_hardware("h200")


def attention(batch, heads, seq_q, seq_kv, head_dim=128):
    n = len(np.atleast_1d(batch))
    col = lambda x: [float(v) for v in np.broadcast_to(x, n)]   # noqa: E731
    return records_from_params("attention", {
        "batch": col(batch), "heads": col(heads), "seq_q": col(seq_q), "seq_kv": col(seq_kv),
        "head_dim": col(head_dim), "causal": col(0)}, "bfloat16")


def test_one_wave_pays_no_extra_round_trips_and_more_waves_pay_one_latency_each():
    hw = derive_sm_restricted(H200, 8)
    # one query and one key per (batch, head): a block per head, 8 SMs
    u = unit_terms(attention([1, 2, 5], [8, 8, 10], 1, 1), hw)
    w = waves(np.array([8.0, 16.0, 50.0]), 8.0, hw.grid_sms, False)
    np.testing.assert_allclose(u.wave_latency_s, (w - 1.0) * hw.mem_latency_s)
    assert u.wave_latency_s[0] == 0.0 and u.wave_latency_s[2] > u.wave_latency_s[1] > 0.0


def test_other_kinds_have_no_wave_term():
    t = records_from_params("gemm", {"m": [4096.0], "n": [4096.0], "k": [64.0]}, "bfloat16")
    assert unit_terms(t, derive_sm_restricted(H200, 8)).wave_latency_s[0] == 0.0


def test_short_blocks_take_a_round_trip_per_wave_and_long_ones_hide_it():
    hw = derive_sm_restricted(H200, 8)
    p = KindParams(phi=4.0).as_array()
    short = attention([2, 17], [8, 16], 1, 1)           # 16 and 272 blocks: 2 and 34 waves
    t = launch_seconds(unit_terms(short, hw), p)
    per_wave = (t[1] - t[0]) / (34 - 2)
    assert per_wave >= 0.95 * 4.0 * hw.mem_latency_s    # at least phi L a wave
    # long tiles (8192 keys): the waves' round trips are a sliver of the math, not added to it
    long = attention([2, 2], [8, 8], 128, 8192)
    u = unit_terms(long, hw)
    with_waves = launch_seconds(u, p)
    assert np.all(p[PARAM_INDEX["phi"]] * u.wave_latency_s < 0.05 * u.tensor_s)
    without = launch_seconds(replace(u, wave_latency_s=np.zeros(len(u))), p)
    assert np.all(with_waves <= without * 1.001)        # hidden: under 0.1 % of the launch
    # and on the short blocks, the term is what sets the time
    u_short = unit_terms(short, hw)
    assert launch_seconds(u_short, p)[1] > \
        2.0 * launch_seconds(replace(u_short, wave_latency_s=np.zeros(2)), p)[1]


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 64), heads=st.integers(1, 32), seq_q=st.integers(1, 4096),
       seq_kv=st.integers(1, 8192), fractions=st.lists(st.floats(0.05, 0.95),
                                                       min_size=len(PARAMS), max_size=len(PARAMS)),
       sms=st.sampled_from([8, 16, 40, 96]))
def test_fewer_sms_never_make_attention_faster(batch, heads, seq_q, seq_kv, fractions, sms):
    p = np.array([q.low + f * (q.high - q.low) for q, f in zip(PARAMS, fractions)])
    t = attention(batch, heads, seq_q, seq_kv)
    few = launch_seconds(unit_terms(t, derive_sm_restricted(H200, sms)), p)
    whole = launch_seconds(unit_terms(t, H200), p)
    assert few[0] >= whole[0] * (1 - 1e-9)     # equal where the waves are (rounding of the spec)


@settings(max_examples=60, deadline=None)
@given(phi=st.floats(0.5, 40.0), batch=st.integers(1, 64), heads=st.integers(1, 32),
       sms=st.sampled_from([8, 16, 40]))
def test_more_round_trips_never_take_less_time(phi, batch, heads, sms):
    hw = derive_sm_restricted(H200, sms)
    u = unit_terms(attention(batch, heads, 2, 64), hw)
    lo = launch_seconds(u, KindParams(phi=phi).as_array())
    hi = launch_seconds(u, KindParams(phi=phi * 1.5).as_array())
    assert hi[0] > lo[0]
