"""roofsim.perfmodel's idle blocks (T_idle). A cat of unequal inputs (a KV-cache append) launches a
row of blocks per input sized for the largest; the blocks past a small input's end cost their SM
BLOCK_DISPATCH_CYCLES each. A grouped GEMM launches a block per SM the device reports; on fewer
SMs its blocks past the tiles queue in rounds (grouped_idle_seconds)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.calibration import load_profile
from roofsim.data import data_dir
from roofsim.hardware import derive_sm_restricted, load_hardware, with_sm_count
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (BLOCK_DISPATCH_CYCLES, CAT_BLOCKS_PER_SM,
                               GENERIC_BLOCK_DISPATCH_CYCLES, cat_empty_blocks, cat_empty_seconds)

H200 = load_hardware("h200")


def cat(numel, inputs=None, largest=None, dtype="bfloat16", stride=None):
    p = {"numel": np.atleast_1d(np.asarray(numel, dtype=float))}
    if stride is not None:
        p["stride"] = np.full(len(p["numel"]), float(stride))
        p["dims"] = np.full(len(p["numel"]), 2.0)
    if inputs is not None:
        p["inputs"] = np.full(len(p["numel"]), float(inputs))
        p["largest"] = np.atleast_1d(np.asarray(largest, dtype=float))
    return records_from_params("cat", p, dtype)


def test_a_kv_append_idles_a_row_of_blocks_and_equal_inputs_none():
    # [1, 10, 2329, 128] + [1, 10, 1, 128] in bf16: rows of ceil(2,981,120 / 1024) = 2912 blocks,
    # the small input's 1,280 elements fill 2 of its row
    big, small = 10 * 2329 * 128, 10 * 128
    assert cat_empty_blocks(cat(big + small, 2, big), 132)[0] == 2912 - 2
    assert cat_empty_blocks(cat(big + small), 132)[0] == 0
    # float32: half the elements per block: rows of 5823 blocks, capped at 32 x 132 = 4224
    assert cat_empty_blocks(cat(big + small, 2, big, "float32"), 132)[0] == 4224 - 3
    assert cat_empty_blocks(cat(big + small, 2, big, "float32"), 200)[0] == 5823 - 3
    # the grid's cap: CAT_BLOCKS_PER_SM per SM the device reports
    huge = 10 ** 9
    assert cat_empty_blocks(cat(huge + 8, 2, huge), 132)[0] == CAT_BLOCKS_PER_SM * 132 - 1
    other = records_from_params("copy", {"numel": np.array([1e6])}, "bfloat16")
    assert cat_empty_blocks(other, 132)[0] == 0


def test_a_strided_cat_idles_most_of_its_generic_grid():
    """The rotary halves' cat ([1, 10, 1, 64] x 2, a slice among them: ATen's generic kernel)
    launches two rows of 2 x 132 blocks of 512 threads for 1,280 elements: 524 blocks idle, on
    any SMs the green context leaves (the grid follows the SMs the device reports); a prefill
    cache's empty input idles its whole row; halves that fill their rows idle none."""
    rope = cat(1280, 2, 640, stride=1)
    assert cat_empty_blocks(rope, 132)[0] == 524
    assert cat_empty_blocks(rope, derive_sm_restricted(H200, 8).grid_sms)[0] == 524
    assert cat_empty_blocks(rope, 16)[0] == 2 * 32 - 4        # a 16-SM device's own grid
    assert cat_empty_blocks(cat(10 * 1023 * 128, 2, 10 * 1023 * 128, stride=1), 132)[0] == 264
    assert cat_empty_blocks(cat(2 * 10 * 1023 * 64, 2, 10 * 1023 * 64, stride=1), 132)[0] == 0
    # three equal strided inputs of 700 elements: 2 blocks each of their rows of 264
    assert cat_empty_blocks(cat(2100, 3, 700, stride=1), 132)[0] == 3 * 264 - 3 * 2
    hw = derive_sm_restricted(H200, 8)
    assert cat_empty_seconds(rope, hw)[0] == pytest.approx(
        524 * GENERIC_BLOCK_DISPATCH_CYCLES / (hw.boost_clock_mhz * 1e6 * 8))
    # measured on 8 SMs (calibration/h200-sm8/e2e-fresh57): 7.10 us; the idle blocks alone
    # carry 5.6 of it
    assert 5.0e-6 < cat_empty_seconds(rope, hw)[0] < 6.0e-6


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10 ** 7), st.integers(2, 8), st.sampled_from([8, 16, 40, 132]))
def test_a_strided_cats_idle_time_never_shrinks_on_fewer_sms(share, inputs, sms):
    """Fewer SMs (the same grid) never shorten a strided cat's idle time; inputs that each
    fill their row of 2 x 132 blocks of 512 threads leave none."""
    t = cat(share * inputs, inputs, share, stride=1)
    hw = derive_sm_restricted(H200, sms) if sms < 132 else H200
    s = cat_empty_seconds(t, hw)[0]
    assert s >= 0
    assert cat_empty_seconds(t, derive_sm_restricted(H200, 8))[0] >= s - 1e-18
    if share >= 2 * 132 * 512:
        assert cat_empty_blocks(t, 132)[0] == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1024, 10 ** 8), st.integers(0, 10 ** 6), st.sampled_from([8, 16, 40, 132]))
def test_idle_time_is_cycles_over_clock_and_sms(largest, rest, sms):
    t = cat(largest + rest, 2, largest)
    hw = derive_sm_restricted(H200, sms) if sms < 132 else H200
    idle = cat_empty_blocks(t, hw.grid_sms)[0]
    s = cat_empty_seconds(t, hw)[0]
    assert idle >= 0 and s >= 0
    if idle >= sms:
        assert s == pytest.approx(idle * BLOCK_DISPATCH_CYCLES / (hw.boost_clock_mhz * 1e6 * sms))
    # fewer SMs never shorten it; a faster clock does
    if sms > 8:
        assert cat_empty_seconds(t, derive_sm_restricted(H200, 8))[0] >= s
    fast = H200.__class__(**{**H200.__dict__, "boost_clock_mhz": 2 * H200.boost_clock_mhz})
    assert cat_empty_seconds(t, fast)[0] <= cat_empty_seconds(t, H200)[0]


@pytest.mark.parametrize("sms", [132, 40, 24, 8])
def test_a_profile_predicts_the_equal_input_cat_plus_the_idle_blocks(sms):
    prof = load_profile(data_dir("calibration") / "h200")
    hw = derive_sm_restricted(H200, sms) if sms < 132 else H200
    big, small = 10 * 4000 * 128, 10 * 128
    equal = prof.predict_launch_s(cat(big + small), hw)[0]
    append = prof.predict_launch_s(cat(big + small, 2, big), hw)[0]
    assert append == pytest.approx(equal + cat_empty_seconds(cat(big + small, 2, big), hw)[0],
                                   rel=1e-12)
    assert append > equal


@pytest.mark.parametrize("row", ["cat,100,1,100", "cat,100,2,200", "cat,100,4,10", "cat,100,2,",
                                 "cat,100,,60", "copy,100,2,60", "elementwise,100,2,60"])
def test_predict_kernels_refuses_an_inconsistent_cat_in_one_line(tmp_path, capsys, row):
    from roofsim.cli import main
    f = tmp_path / "cases.csv"
    f.write_text(f"kind,numel,inputs,largest\n{row}\n")
    assert main(["predict-kernels", str(f), "--hardware", "h200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cases.csv: line 2" in err[0] and ("inputs" in err[0])


def test_predict_kernels_times_a_kv_append_above_its_equal_halves(tmp_path, capsys):
    from roofsim.cli import main
    f = tmp_path / "cases.csv"
    f.write_text("kind,numel,inputs,largest\ncat,2982400,2,2981120\ncat,2982400,,\n")
    assert main(["predict-kernels", str(f), "--hardware", "h200", "--calibration", "h200"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    t = [float(line.split(",")[4]) for line in lines[1:]]
    assert t[0] > t[1]



def test_the_roofline_pays_the_idle_blocks_where_no_profile_speaks():
    """engine.simulate without a profile (a spec-only prediction, or a profile with no cat
    group, as the H100's): a KV append still pays its idle blocks on the target's SMs."""
    from roofsim.engine import simulate
    big, small = 10 * 2329 * 128, 10 * 128
    append, equal = cat(big + small, 2, big), cat(big + small)
    for spec in (H200, derive_sm_restricted(H200, 16)):
        t_append = simulate(append, spec, None).launch_time_s[0]
        t_equal = simulate(equal, spec, None).launch_time_s[0]
        assert t_append - t_equal == pytest.approx(cat_empty_seconds(append, spec)[0])
        assert cat_empty_seconds(append, spec)[0] > 0


# ---- a grouped GEMM's idle blocks (CUTLASS 3: a block per SM the device reports) ------------

def grouped(groups, m, n, k):
    p = {"batch": np.array([float(groups)]), "m": np.array([float(m)]),
         "n": np.array([float(n)]), "k": np.array([float(k)])}
    return records_from_params("grouped_gemm", p, "bfloat16")


def test_a_one_tile_grouped_product_queues_its_idle_blocks_on_eight_sms():
    from roofsim.perfmodel import (GROUPED_IDLE_HIDDEN_ROUNDS, GROUPED_IDLE_TRIPS,
                                   grouped_idle_blocks, grouped_idle_seconds)
    t = grouped(1, 2, 128, 192)            # one 128 x 128 tile: 131 of the 132 blocks idle
    assert grouped_idle_blocks(t, 132)[0] == 131
    assert grouped_idle_seconds(t, H200)[0] == 0.0      # one round on the whole chip
    sm8 = derive_sm_restricted(H200, 8)
    want = (np.ceil(131 / 8) - GROUPED_IDLE_HIDDEN_ROUNDS) * GROUPED_IDLE_TRIPS * sm8.mem_latency_s
    assert grouped_idle_seconds(t, sm8)[0] == pytest.approx(want)
    # a product whose tiles fill the grid has none
    assert grouped_idle_seconds(grouped(64, 256, 1024, 512), sm8)[0] == 0.0


def test_a_grouped_products_working_blocks_are_its_tiles_without_split_k():
    """CUTLASS 3's grouped kernel splits no reduction: 9 tiles of k = 3808 are 9 working blocks
    (matrix_ctas' split-K had 126, so no idle ones) and 123 idle; on 8 SMs they run 2 rounds,
    each paying the prologue (block_rounds), where 36 tiles run 5."""
    from roofsim.perfmodel import block_rounds, grouped_idle_blocks, grouped_working_blocks
    t = grouped(3, 52, 304, 3808)
    assert grouped_working_blocks(t, 132)[0] == 9
    assert grouped_idle_blocks(t, 132)[0] == 123
    assert block_rounds(t, np.array([126.0]), 8.0, 132.0)[0] == 2
    assert block_rounds(grouped(9, 1, 512, 128), np.array([36.0]), 8.0, 132.0)[0] == 5
    assert block_rounds(grouped(64, 256, 1024, 512), np.array([1024.0]), 132.0, 132.0)[0] == 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.integers(1, 4096), st.integers(16, 8192), st.integers(16, 8192),
       st.sampled_from([8, 16, 24, 40, 64, 96, 128]))
def test_a_grouped_products_working_and_idle_blocks_fill_its_grid(g, m, n, k, sms):
    """Working + idle blocks are the grid the library launches (grid_sms), whatever the SMs;
    rounds of working blocks never fall as SMs fall and are one on the whole chip."""
    from roofsim.perfmodel import block_rounds, grouped_idle_blocks, grouped_working_blocks
    t = grouped(g, m, n, k)
    work, idle = grouped_working_blocks(t, 132)[0], grouped_idle_blocks(t, 132)[0]
    assert work + idle == 132 and 1 <= work <= 132
    blocks = np.array([work])
    assert block_rounds(t, blocks, 132.0, 132.0)[0] == 1
    assert block_rounds(t, blocks, float(sms), 132.0)[0] >= \
        block_rounds(t, blocks, float(min(sms * 2, 132)), 132.0)[0]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.integers(1, 4096), st.integers(16, 8192), st.integers(16, 8192),
       st.sampled_from([8, 16, 24, 40, 64, 96, 128]))
def test_grouped_idle_time_grows_as_sms_fall_and_other_kinds_have_none(g, m, n, k, sms):
    from roofsim.perfmodel import grouped_idle_seconds, idle_block_seconds
    t = grouped(g, m, n, k)
    spec = derive_sm_restricted(H200, sms)
    s = grouped_idle_seconds(t, spec)[0]
    assert s >= 0.0
    assert grouped_idle_seconds(t, H200)[0] == 0.0
    assert grouped_idle_seconds(t, derive_sm_restricted(H200, 8))[0] >= s
    # a longer memory latency lengthens each idle block's setup
    slow = spec.__class__(**{**spec.__dict__, "mem_latency_ns": 2 * spec.mem_latency_ns})
    assert grouped_idle_seconds(t, slow)[0] == pytest.approx(2 * s)
    other = records_from_params("gemm", {"m": np.array([float(m)]), "n": np.array([float(n)]),
                                         "k": np.array([float(k)])}, "bfloat16")
    assert idle_block_seconds(other, spec)[0] == 0.0
