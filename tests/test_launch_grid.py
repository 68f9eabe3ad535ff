"""The launch grid on an SM-restricted chip (issue 11, spec field grid_sm_count): the libraries
size their grids for the SMs the device reports, so a persistent GEMM kernel on fewer SMs runs
its resident blocks in rounds (roofsim.perfmodel.waves), and the two-point law stretches the
SM-parallel part of a launch by the ratio of those waves (parallel_scale)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark_module import load_benchmark
from roofsim.calibration.profile import sm_scaling, two_point_share
from roofsim.errors import UserError
from roofsim.hardware import (derive_sm_restricted, load_hardware, spec_from_dict,
                              spec_to_dict)
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (BALANCED_TAIL_TILES, LIBRARY_GRID_SHARE, LIBRARY_LAST_GRID_FILL,
                               PERSISTENT_KINDS,
                               SKINNY_NARROW_K, SKINNY_NARROW_ROWS, SKINNY_ROWS,
                               WAVE_KINDS, balanced, block_rounds, library_blocks,
                               matrix_ctas, narrow_tile_cols, parallel_scale, persistent,
                               skinny_launch,
                               unit_terms, waves)

H200 = load_hardware("h200")


def _matrix(kind, m, n, k, batch=1, bias=0):
    return records_from_params(np.array([kind], dtype=object),
                               {"m": np.array([float(m)]), "n": np.array([float(n)]),
                                "k": np.array([float(k)]), "batch": np.array([float(batch)]),
                                "bias": np.array([float(bias)])},
                               np.array(["bfloat16"], dtype=object))


def _balanced_stretch(table, n_sm, grid=132.0):
    """An nvjet product's SM stretch from `grid` to n_sm SMs: the waves of its tiles bar the
    late blocks' own over the SMs, and one more for those (none once the late blocks fill the
    SMs), never more than whole rounds."""
    tiles = library_blocks(table, grid)[0]
    rounds = np.ceil(min(tiles, grid) / n_sm)
    late = min(tiles, grid) - n_sm
    spread = np.ceil((tiles - late) / n_sm) + BALANCED_TAIL_TILES if 0 < late < n_sm else \
        np.ceil(tiles / n_sm)
    waves_n = min(rounds * np.ceil(tiles / min(tiles, grid)), spread)
    return waves_n / np.ceil(tiles / grid)


def test_a_real_chip_sizes_its_grid_for_its_own_sms():
    assert H200.grid_sm_count is None and H200.grid_sms == H200.sm_count == 132


def test_a_green_context_keeps_the_whole_chips_grid():
    spec = derive_sm_restricted(H200, 48)
    assert spec.sm_count == 48 and spec.grid_sms == 132
    again = spec_from_dict(spec_to_dict(spec))
    assert again.grid_sm_count == 132 and again.sm_count == 48
    assert "green context" in spec.sources["grid_sm_count"]


def test_a_grid_below_the_sm_count_is_one_line_error():
    doc = spec_to_dict(H200)
    doc["grid_sm_count"] = 100
    with pytest.raises(UserError, match="grid_sm_count"):
        spec_from_dict(doc)


@settings(max_examples=200, deadline=None)
@given(blocks=st.integers(1, 100_000), grid=st.integers(1, 300), persistent=st.booleans())
def test_on_the_chip_it_was_sized_for_a_kernel_runs_ceil_blocks_over_sms(blocks, grid,
                                                                         persistent):
    got = waves(np.array([float(blocks)]), float(grid), float(grid), persistent)[0]
    assert got == np.ceil(blocks / grid)


@settings(max_examples=200, deadline=None)
@given(blocks=st.integers(1, 100_000), grid=st.integers(2, 300), data=st.data())
def test_fewer_sms_never_mean_fewer_waves(blocks, grid, data):
    n1 = data.draw(st.integers(1, grid))
    n2 = data.draw(st.integers(n1, grid))
    b = np.array([float(blocks)])
    for is_persistent, even in ((True, False), (True, True), (False, False)):
        assert waves(b, n1, grid, is_persistent, even)[0] >= \
            waves(b, n2, grid, is_persistent, even)[0]
    # A static share per resident block can only lose to one block per tile; balanced tiles lie
    # between the two.
    static, tiled = waves(b, n1, grid, True)[0], waves(b, n1, grid, False)[0]
    assert static >= waves(b, n1, grid, True, True)[0] >= tiled
    assert waves(b, grid, grid, True, True)[0] == waves(b, grid, grid, True)[0] == \
        np.ceil(blocks / grid)


def test_a_persistent_gemm_on_120_of_132_sms_runs_its_tiles_waves_and_a_tail():
    """The prefill product of calibration/h200-sm120/e2e (1.76 x the whole chip's time on 120
    SMs): cuBLAS's nvjet kernel runs one grid of tiles (130 of 128 x 232 outputs,
    calibration/h200/persistent-rounds), so on 120 SMs the 12 blocks that start late make a
    second wave of its tensor term; a product of many grids of 192 x 192 tiles balances them
    over the blocks that run: ceil((tiles - 12) / 120) waves and BALANCED_TAIL_TILES for the
    12 late blocks' own tiles, against tiles / 132 on the whole chip."""
    table = _matrix("linear", 2913, 1280, 1280)
    assert library_blocks(table, 132.0)[0] == 132     # 0.77 grid: LIBRARY_SUBGRID_FULL
    full = unit_terms(table, H200).tensor_s[0]
    restricted = unit_terms(table, derive_sm_restricted(H200, 120)).tensor_s[0]
    assert restricted == pytest.approx(2.0 * full, rel=1e-12)
    assert parallel_scale(table, 132, 120, 132)[0] == pytest.approx(2.0)
    big = _matrix("linear", 8192, 6848, 1280)
    tiles = library_blocks(big, 132.0)[0]
    grids = np.ceil(8192 * 6848 / (192 * 192 * 132))
    assert tiles == np.floor((grids - 1 + LIBRARY_LAST_GRID_FILL) * 132)   # the last grid short
    stretch = (np.ceil((tiles - 12) / 120) + BALANCED_TAIL_TILES) / np.ceil(tiles / 132)
    assert 1.0 < stretch < 2.0
    full = unit_terms(big, H200).tensor_s[0]
    restricted = unit_terms(big, derive_sm_restricted(H200, 120)).tensor_s[0]
    assert restricted == pytest.approx(stretch * full, rel=1e-12)
    assert parallel_scale(big, 132, 120, 132)[0] == pytest.approx(stretch)


def test_a_grouped_gemm_keeps_whole_rounds_of_its_grid():
    """CUTLASS 3's grouped GEMM strides its tiles over its resident blocks statically (prefill's
    MoE experts: 1.66-1.78 x on 128 SMs, calibration/h200-sm128/e2e-fresh18), so on 120 of 132
    SMs its blocks run two rounds however many tiles each holds; an nvjet product of as many
    tiles stretches less."""
    grouped = _matrix("grouped_gemm", 512, 2048, 1024, batch=64)
    tiles = library_blocks(grouped, 132.0)[0]
    assert tiles > 4 * 132 and not balanced(grouped)[0] and persistent(grouped)[0]
    assert parallel_scale(grouped, 132, 120, 132)[0] == pytest.approx(2.0)
    dense = _matrix("gemm", 512, 2048, 1024, batch=64)
    assert balanced(dense)[0]
    assert 1.0 < parallel_scale(dense, 132, 120, 132)[0] < 2.0


def test_a_chip_with_fewer_sms_of_its_own_takes_no_rounds():
    """The same product on a real 120-SM chip (its grid sized for 120): no second round."""
    table = _matrix("linear", 2913, 1280, 1280)
    assert parallel_scale(table, 132, 120, 120)[0] == pytest.approx(1.0)


def _record(kind, **changes):
    params = {"numel": 1e6, "rows": 100.0, "cols": 100.0, "batch": 1.0, "heads": 8.0,
              "seq_q": 512.0, "seq_kv": 512.0, "head_dim": 64.0, "c_in": 64.0, "c_out": 64.0,
              "h": 32.0, "w": 32.0, "kernel": 3.0, "stride": 1.0, "padding": 1.0, **changes}
    return records_from_params(np.array([kind], dtype=object),
                               {k: np.array([v]) for k, v in params.items()},
                               np.array(["bfloat16"], dtype=object))


@pytest.mark.parametrize("kind", ["conv2d", "elementwise", "rmsnorm"])
def test_other_kinds_spread_their_work_evenly(kind):
    assert kind not in PERSISTENT_KINDS + WAVE_KINDS
    assert parallel_scale(_record(kind), 132, 40, 132)[0] == pytest.approx(132 / 40)


def test_attention_stretches_by_its_waves_of_one_block_per_tile():
    """8 heads x 4 query tiles = 32 blocks: one wave on 132 SMs and on 40, so no stretch; 64
    heads (256 blocks): 2 waves on 132 SMs, 7 on 40."""
    assert "attention" in WAVE_KINDS
    few = _record("attention")
    assert matrix_ctas(few, 132.0)[0] == 32
    assert parallel_scale(few, 132, 40, 132)[0] == pytest.approx(1.0)
    many = _record("attention", heads=64.0)
    assert matrix_ctas(many, 132.0)[0] == 256
    assert parallel_scale(many, 132, 40, 132)[0] == pytest.approx(7 / 2)


@settings(max_examples=100, deadline=None)
@given(heads=st.integers(1, 256), seq_q=st.integers(1, 8192), seq_kv=st.integers(1, 8192),
       few=st.integers(1, 132))
def test_attention_never_speeds_up_on_fewer_sms(heads, seq_q, seq_kv, few):
    table = _record("attention", heads=float(heads), seq_q=float(seq_q), seq_kv=float(seq_kv))
    assert parallel_scale(table, 132, few, 132)[0] >= 1.0


def test_split_k_fills_the_sms_the_device_reports():
    table = _matrix("linear", 1, 1280, 1280)
    assert matrix_ctas(table, 132.0)[0] > matrix_ctas(table, 24.0)[0]
    spec = derive_sm_restricted(H200, 24)
    # The restricted chip's blocks are the whole chip's: a 1-row product waves over 24 SMs.
    blocks = matrix_ctas(table, float(spec.grid_sms))[0]
    assert blocks == matrix_ctas(table, 132.0)[0] and blocks > spec.sm_count


@settings(max_examples=200, deadline=None)
@given(f=st.floats(0.0, 1.0), scale=st.floats(1.01, 20.0))
def test_the_two_point_share_inverts_the_two_point_law(f, scale):
    ratio = sm_scaling(np.array([f]), np.array([scale]))
    assert two_point_share(ratio, np.array([scale]))[0] == pytest.approx(f, abs=1e-9)


def test_a_scale_of_one_tells_no_share():
    assert two_point_share(np.array([1.7]), np.array([1.0]))[0] == 0.0


def test_skinny_products_are_not_persistent():
    """A one-row product runs cuBLAS's skinny kernel, one block per tile, so its SM-parallel
    share scales as 1 / SMs (132 / 120); resident persistent blocks would run in twice the
    rounds."""
    table = _matrix("linear", 1, 4096, 4096)
    blocks = matrix_ctas(table, 132.0)[0]
    assert blocks > 132                       # more blocks than SMs: persistence would matter
    assert parallel_scale(table, 132, 120, 132)[0] == pytest.approx(132 / 120)
    assert waves(np.array([blocks]), 120, 132, True)[0] == 2 * np.ceil(blocks / 132)
    wide = _matrix("linear", 4096, 4096, 4096)
    assert parallel_scale(wide, 132, 120, 132)[0] == pytest.approx(_balanced_stretch(wide, 120))


def test_misaligned_products_are_not_persistent():
    """An operand whose rows are not 16-byte aligned sends cuBLAS to CUTLASS 2.x kernels
    (align1 / align2), one block per tile: the SM-parallel share scales as 1 / SMs. The same
    product with aligned rows runs a persistent kernel, whose resident blocks run two rounds."""
    odd = _matrix("linear", 4096, 4095, 4096)        # n * 2 bytes = 8190: 2-byte aligned rows
    even = _matrix("linear", 4096, 4096, 4096)
    assert not persistent(odd)[0] and persistent(even)[0]
    assert parallel_scale(odd, 132, 120, 132)[0] == pytest.approx(132 / 120)
    assert parallel_scale(even, 132, 120, 132)[0] == pytest.approx(_balanced_stretch(even, 120))


@settings(max_examples=150, deadline=None)
@given(m=st.integers(1, 20000), n=st.integers(1, 20000), k=st.integers(1, 20000),
       kind=st.sampled_from(["gemm", "linear", "grouped_gemm"]), data=st.data())
def test_fewer_sms_never_shrink_the_parallel_part(m, n, k, kind, data):
    """parallel_scale >= 1 from a chip to fewer of its SMs, and exactly 1 on the same SMs."""
    table = _matrix(kind, m, n, k)
    few = data.draw(st.integers(1, 132))
    assert parallel_scale(table, 132, few, 132)[0] >= 1.0
    assert parallel_scale(table, 132, 132, 132)[0] == pytest.approx(1.0)


def test_the_static_step_profiler_says_one_line_without_a_gpu_or_a_model(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    script = str(Path(__file__).resolve().parents[1] / "benchmarks" / "profile_static_step.py")
    bad = subprocess.run([sys.executable, script, "--out", str(tmp_path), "--models", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    zero = subprocess.run([sys.executable, script, "--out", str(tmp_path), "--batch", "0"],
                          capture_output=True, text=True, timeout=120)
    assert zero.returncode != 0 and "--batch" in zero.stderr and "Traceback" not in zero.stderr


def test_the_sm_share_leans_on_the_companions_near_their_shapes_and_on_physics_far_away():
    """profile.sm_fraction_at: exp(-(d / SM_BLEND_DISTANCE)^2) of the interpolated share (the
    interpolated departure from SHARE_PHYSICS_PRIOR x the physical share, plus that prior) at a
    distance d from the nearest companion shape (over the companions' SM counts), the physical
    share for the rest."""
    from roofsim.calibration import load_profile
    from roofsim.calibration.profile import (MAX_DISTANCE, SHARE_PHYSICS_PRIOR, SM_BLEND_DISTANCE,
                                             group_features, sm_count_feature)
    from roofsim.data import data_dir
    from roofsim.records import SHAPE_PARAMS
    prof = load_profile(data_dir("calibration") / "h200")
    g = prof.groups[("linear", "bfloat16")]
    interp, counts = prof._sm_interpolator(g)
    n = max(counts)              # the most SMs a companion ran: its share is read as it is
    row = int(np.flatnonzero(g.sm_counts == n)[0])
    params = np.vstack([g.sm_params[row:row + 1], g.sm_params[row:row + 1]])
    k = SHAPE_PARAMS.index("k")
    params[1, k] = params[0, k] * 2 ** 3                # a factor 8 in k: 3 feature units away
    shape = group_features("linear", params, "bfloat16", prof.sm_count, share=True)
    f, _ = interp.predict(np.column_stack([shape, sm_count_feature(np.full(2, n))]))
    near = np.min([interp.predict(np.column_stack([shape, sm_count_feature(np.full(2, c))]))[1]
                   for c in counts], axis=0)
    for physical in (0.0, 1.0):
        got = prof.sm_fraction_at(g, params, "bfloat16", np.full(2, physical), n)
        w = np.exp(-(near / SM_BLEND_DISTANCE) ** 2)
        share = np.clip(f + SHARE_PHYSICS_PRIOR * physical, 0, 1)
        assert got == pytest.approx(w * share + (1 - w) * physical)
    assert near[0] == 0 and 0 < near[1] <= MAX_DISTANCE
    far = params[:1].copy()
    far[0, k] = 2.0 ** 30               # k far beyond any companion shape's (16 units and more)
    got = prof.sm_fraction_at(g, far, "bfloat16", np.array([0.37]), n)
    assert got[0] == pytest.approx(0.37)


def test_a_grouped_product_pays_for_its_ragged_last_tile():
    """roofsim.perfmodel.tile_fill: each group's rows fill whole tiles of 128 (CUTLASS's grouped
    kernel runs the full MMAs of a ragged tile), so one row past a tile edge costs a tile row
    of work; gemm and linear keep their library's shape-fitted tiles (fill 1)."""
    from roofsim.kernels import records_from_params
    from roofsim.perfmodel import TILE, tile_fill, unit_terms
    h200 = load_hardware("h200")
    ms = np.array([128.0, 200.0, 256.0, 257.0, 384.0])
    p = {"m": ms, "n": np.full(5, 1792.0), "k": np.full(5, 1280.0), "batch": np.full(5, 64.0),
         "bias": np.zeros(5)}
    t = records_from_params("grouped_gemm", p, "bfloat16")
    fill = tile_fill(t)
    assert fill == pytest.approx(ms / (np.ceil(ms / TILE) * TILE))
    tensor = unit_terms(t, h200).tensor_s
    assert tensor[1] == pytest.approx(tensor[2])          # 200 and 256 rows: two tile rows
    assert tensor[3] == pytest.approx(1.5 * tensor[2])    # 257: a third
    assert tensor[4] == pytest.approx(tensor[3])
    dense = records_from_params("gemm", p, "bfloat16")
    assert np.all(tile_fill(dense) == 1.0)


# ---- the library's grid (session 12: calibration/h200/launch-grids) --------------------------

def test_a_small_product_fills_the_sms_with_small_tiles():
    """192 x 320 x 512: two 128 x 128 tiles with split-K give 24 blocks; cuBLAS launches about
    100 (64 x 8 tiles to fill the SMs), so it runs three rounds on 56 SMs."""
    from roofsim.perfmodel import LIBRARY_GRID_SHARE, block_rounds, library_blocks
    t = _matrix("gemm", 192, 320, 512)
    assert matrix_ctas(t, 132.0)[0] < 30
    blocks = library_blocks(t, 132.0)[0]
    assert blocks == np.floor(LIBRARY_GRID_SHARE * 132)
    assert block_rounds(t, np.array([blocks]), 132.0, 132.0)[0] == 1
    assert block_rounds(t, np.array([blocks]), 56.0, 132.0)[0] == 2
    assert block_rounds(t, np.array([blocks]), 16.0, 132.0)[0] == 7


def test_misaligned_and_grouped_products_keep_their_tiles():
    from roofsim.perfmodel import block_rounds, library_blocks
    for t in (_matrix("gemm", 192, 321, 512), _matrix("grouped_gemm", 16, 512, 512, 8)):
        assert library_blocks(t, 132.0)[0] == matrix_ctas(t, 132.0)[0]
        assert block_rounds(t, library_blocks(t, 132.0), 40.0, 132.0)[0] == 1


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 20000), n=st.sampled_from([8, 64, 320, 4096, 12288]),
       k=st.sampled_from([16, 512, 4096]), kind=st.sampled_from(["gemm", "linear"]),
       sms=st.integers(1, 132))
def test_the_library_grid_only_adds_blocks_and_its_rounds_are_one_on_the_whole_chip(
        m, n, k, kind, sms):
    """Past the skinny products (their own rule, skinny_blocks), the persistent nvjet products
    (balanced) run grids of tiles where tiles of LIBRARY_TILE_MAX_OUTPUTS fill two or more (the
    last filled to LIBRARY_LAST_GRID_FILL), else at most one grid (below LIBRARY_SUBGRID_FULL of
    a grid of those tiles, LIBRARY_SUBGRID_SHARE of it: 128 blocks) and no more blocks than
    128 x 128 tiles give; the others never have fewer blocks than 128 x 128 tiles. Every product runs one round on the
    whole chip."""
    from roofsim.perfmodel import (LIBRARY_GRID_SHARE, LIBRARY_SUBGRID_FULL,
                                   LIBRARY_SUBGRID_SHARE, LIBRARY_TILE_MAX_OUTPUTS, block_rounds,
                                   library_blocks)
    t = _matrix(kind, m, n, k)
    blocks = library_blocks(t, 132.0)
    if balanced(t)[0]:
        grids = np.ceil(m * n / (LIBRARY_TILE_MAX_OUTPUTS * 132))
        if grids >= 2:
            assert blocks[0] == np.floor((grids - 1 + LIBRARY_LAST_GRID_FILL) * 132)
        else:
            small = m * n / (LIBRARY_TILE_MAX_OUTPUTS * 132) < LIBRARY_SUBGRID_FULL
            most = np.floor(LIBRARY_SUBGRID_SHARE * 132) if small else 132
            assert most in (128, 132) and blocks[0] <= most
            assert blocks[0] == min(most, max(matrix_ctas(t, 132.0)[0], blocks[0]))
    elif m > SKINNY_ROWS:
        assert blocks[0] >= matrix_ctas(t, 132.0)[0]
    else:
        assert 1 <= blocks[0] <= np.floor(LIBRARY_GRID_SHARE * 132)
    assert block_rounds(t, blocks, 132.0, 132.0)[0] == 1
    fewer = block_rounds(t, blocks, float(sms), 132.0)[0]
    assert 1 <= fewer <= np.ceil(132 / sms)


def test_each_round_of_a_small_product_pays_its_round_trips():
    """The rounds enter phi L: a small persistent product's latency waves on 40 SMs are its
    rounds, and its physics time on 40 SMs exceeds the whole chip's by at least the extra
    rounds' round trips at the fitted phi."""
    from roofsim.perfmodel import KindParams, launch_seconds
    t = _matrix("gemm", 192, 320, 512)
    whole, few = unit_terms(t, H200), unit_terms(t, derive_sm_restricted(H200, 40))
    assert whole.latency_waves[0] == 1 and few.latency_waves[0] == 3
    p = KindParams(phi=5.0).as_array()
    gap = launch_seconds(few, p)[0] - launch_seconds(whole, p)[0]
    assert gap >= 2 * p[0] * H200.mem_latency_s * 0.999


def test_a_skinny_product_tiles_its_rows_by_eight_and_splits_a_long_reduction():
    """calibration/h200/launch-grids: a one-row product of 2,560 columns launched 40 blocks
    (64-column tiles; 512 outputs per block gave 5), one of 1,024 x 4,096 48 (16 tiles, split 3),
    one of 151,936 columns the whole grid's share."""
    one = lambda n, k: library_blocks(_matrix("linear", 1, n, k), 132.0)[0]   # noqa: E731
    assert one(2560, 320) == 40
    assert one(1024, 4096) == 32        # 16 tiles x floor(4096 / 1536) splits; recorded 48
    assert one(151936, 2048) == np.floor(LIBRARY_GRID_SHARE * 132)
    # a row or eight: the same tiles
    assert library_blocks(_matrix("gemm", 8, 2560, 320), 132.0)[0] == 40
    assert library_blocks(_matrix("gemm", 9, 2560, 320), 132.0)[0] == 80


def test_a_skinny_product_runs_its_grid_in_rounds_on_fewer_sms():
    """cuBLAS keeps the whole chip's grid on 8 SMs (benchmarks/narrow_grid_rounds.py): a
    one-row product of 40 blocks runs 5 rounds there, each paying its round trips (phi L);
    a misaligned skinny product (CUTLASS 2.x, several small blocks per SM) runs none."""
    t = _matrix("linear", 1, 2560, 320)
    assert block_rounds(t, library_blocks(t, 132.0), 8.0, 132.0)[0] == 5
    assert unit_terms(t, derive_sm_restricted(H200, 8)).latency_waves[0] == 5
    assert unit_terms(t, H200).latency_waves[0] == 1
    odd = _matrix("linear", 1, 2561, 321)
    assert block_rounds(odd, library_blocks(odd, 132.0), 8.0, 132.0)[0] == 1


def test_a_short_linear_takes_the_narrow_column_tiles_the_library_launched():
    """calibration/h200/launch-grids/h200-products (the fit rows' grids): a short linear whose
    reduction is not split runs 8-column tiles up to 88 blocks, 16-column ones up to 104 (the
    decode step's 1 x 1280 x 1280 products: 80), in clusters of four; 64-column tiles past
    that, or where the reduction is long; a gemm (its weights not transposed) keeps them."""
    lin = lambda m, n, k: library_blocks(_matrix("linear", m, n, k), 132.0)[0]   # noqa: E731
    assert lin(1, 1280, 1280) == 80         # recorded 80 (tst_16x64)
    assert lin(4, 424, 864) == 56           # recorded 56 (tst_8x64)
    assert lin(8, 192, 736) == 24           # recorded 24
    assert lin(1, 1792, 1280) == 28         # 16-column tiles would be 112 blocks: recorded 28
    assert lin(8, 1016, 144) == 16          # a short reduction keeps 64 columns: recorded 16
    assert lin(8, 584, 2808) == 12          # a long one too: 10 tiles in clusters of 4
                                            # (recorded 24: split-K twice)
    assert library_blocks(_matrix("gemm", 4, 424, 864), 132.0)[0] == 8


def test_a_skinny_products_tiles_launch_in_clusters_and_short_grids_keep_64_columns():
    """calibration/h100-sxm/launch-grids/skinny-grids-sm0 (556 shapes never timed): the column
    tiles of a product of one row tile launch in clusters of four (5 tiles per product of a
    320-column gemm: 8 blocks each); 16-column tiles only past 64 blocks (n > 1024); a
    bias-free linear of at most 160 columns takes 8-column tiles only for k <= 6 n. Read with
    the H100's own narrow tile (its spec's library_narrow_tile_cols, 8 columns)."""
    lin = lambda m, n, k, bias=0: library_blocks(                     # noqa: E731
        _matrix("linear", m, n, k, bias=bias), 132.0, 8.0)[0]
    assert library_blocks(_matrix("gemm", 2, 320, 1984, 10), 132.0)[0] == 80   # recorded 80
    assert library_blocks(_matrix("gemm", 1, 320, 256), 132.0)[0] == 8         # recorded 8
    assert library_blocks(_matrix("linear", 3, 1408, 1856), 132.0)[0] == 88   # 16-column tiles
    # past 64 blocks (the H200's choice; the H100 launched 24 of 64 columns)
    assert lin(4, 1024, 1856) == 16         # recorded 16 (tst_64x8)
    assert lin(3, 992, 1096) == 16          # recorded 16
    assert lin(2, 128, 1024) == 2           # recorded 2: k > 6 n
    assert lin(2, 128, 768) == 16           # recorded 16 (tst_8x64): k <= 6 n
    assert lin(1, 144, 1728) == 4           # 3 tiles, one cluster: recorded 4
    assert lin(2, 192, 2048) == 24          # 24 blocks of 8 columns at any k: recorded 24
    assert lin(8, 80, 1024, bias=1) == 12   # with a bias (h200-products): recorded 12


def test_the_h200_runs_short_linears_of_under_8_rows_on_narrow_tiles_at_any_k():
    """Session 45, read off the H200's timings on 8 SMs beside the whole chip's (benchmarks/
    narrow_tile_choice.py): a linear of 1-7 rows takes 8-column tiles up to a grid of one block
    per SM (132 tiles), then 16-column ones to 103 tiles, at short reductions too and to k =
    2,560; 8 rows keep the 88-tile and the k >= 1,024, more-than-64-block bounds. Each shape's
    8-SM rounds at a 16-column round's time in the comment (the rule's rounds: blocks / 8)."""
    lin = lambda m, n, k: library_blocks(_matrix("linear", m, n, k), 132.0,   # noqa: E731
                                         narrow_tile_cols(H200))[0]
    assert lin(1, 896, 1536) == 112         # 13.6 rounds (narrow-fresh14): 8-column tiles
    assert lin(2, 1024, 1280) == 128        # 15.5
    assert lin(6, 1048, 1192) == 132        # 16.5: one block per SM
    assert lin(2, 1104, 1736) == 72         # 9.2 (narrow-fresh2): 138 8-column tiles, too many
    assert lin(1, 1408, 960) == 88          # 10.8: 16-column tiles at k < 1,024
    assert lin(2, 1120, 264) == 72          # 8.8 (narrow-fresh12)
    assert lin(5, 1128, 2520) == 72         # 9.1: k past the old 2,400
    assert lin(1, 1640, 1152) == 104        # 12.6: 103 tiles, past library_grid_cap's 100
    assert lin(2, 1664, 1024) == 28         # 104 tiles keep 64 columns (ratio 2.9x)
    assert skinny_launch(_matrix("linear", 2, 832, 2624), 100.0,
                         narrow_tile_cols(H200)).cols[0] == 64   # recorded tst_64x8: past the window
    assert lin(8, 1024, 1408) == 16         # 1.7x (narrow-fresh2): 8 rows keep the bounds
    assert lin(8, 1320, 200) == 24          # 2.2x (mixed-fresh22)
    assert lin(8, 1408, 1408) == 88         # 7.6x (narrow-fresh12)
    # the H100's library keeps 88 8-column tiles (its recorded 3 x 896 x 192: 16 blocks of 64)
    assert library_blocks(_matrix("linear", 3, 896, 192), 132.0, 8.0)[0] == 16


def test_the_narrow_tile_rule_names_the_grid_the_h200s_8_sm_times_show():
    """benchmarks/narrow_tile_choice.py on the committed H200 sets: where the 8-SM / whole-chip
    time names the grid's size, the rule's grid agrees for all but a few of the short linears
    (177 of 181 in session 45; the rule before it, 157), and every narrow launch's rounds on 8
    SMs at a 16-column round's time lie within 1.5 of its grid's (77 of 77; 68 of 77 with the
    16-column tiles from 896 columns, session 45's first rule)."""
    mod = load_benchmark("narrow_tile_choice")
    hw = load_hardware("h200")
    rows = [r for s in mod.SETS for r in mod.rows_of(s, hw)]
    told = [r for r in rows if "?" not in (r["ratio says"], r["rule says"])]
    assert len(told) >= 150
    assert sum(r["agree"] for r in told) >= 0.97 * len(told)
    narrow = [r for r in rows if r["ratio says"] == "many" and r["rule cols"] < 64 and
              r["n"] <= mod.NARROW_MAX_COLS]
    assert len(narrow) >= 70
    assert sum(abs(r["8-SM rounds"] - r["rule rounds"]) <= 1.5 for r in narrow) >= \
        0.97 * len(narrow)


def test_the_h100s_library_keeps_64_column_tiles_where_the_h200s_takes_16():
    """The spec field library_narrow_tile_cols: the H100 SXM's cuBLAS runs a short linear of
    1,088-1,664 columns at k >= 1,024 on 64-column tiles (tst_64x8 ..._TNT; its 1 x 1280 x 1280
    in calibration/h100-sxm-sm8/e2e-fresh58: 20 blocks), where the H200's runs 16-column ones
    (80 blocks); on 8 SMs that is 3 rounds of round trips, not 10."""
    h100 = load_hardware("h100-sxm")
    assert narrow_tile_cols(h100) == 8 and narrow_tile_cols(H200) == 16
    t = _matrix("linear", 1, 1280, 1280)
    assert library_blocks(t, 132.0, narrow_tile_cols(h100))[0] == 20
    assert library_blocks(t, 132.0, narrow_tile_cols(H200))[0] == 80
    assert library_blocks(_matrix("linear", 3, 1408, 1856), 132.0, 8.0)[0] == 24   # recorded 24
    assert unit_terms(t, derive_sm_restricted(h100, 8)).latency_waves[0] == 3
    assert unit_terms(t, derive_sm_restricted(H200, 8)).latency_waves[0] == 10
    # a spec that does not name it takes the H200's choice; --set changes it
    assert narrow_tile_cols(load_hardware("a100-sxm-80gb")) == 16
    assert narrow_tile_cols(load_hardware("h200", {"library_narrow_tile_cols": "8"})) == 8
    with pytest.raises(UserError, match="library_narrow_tile_cols"):
        load_hardware("h200", {"library_narrow_tile_cols": "12"})


def test_the_h100s_library_takes_8_column_tiles_past_88_only_at_short_reductions():
    """Session 46, read off the grids cuBLAS launched on the H100 SXM for 825 short linears
    (calibration/h100-sxm/launch-grids/narrow-tile-map-sm0): a linear of 1-7 rows keeps 8-column
    tiles past 88 of them only at a reduction that shortens as the tiles grow
    (SKINNY_NARROW_EXCESS_STEPS), and one of 8 rows stops short of 88 (SKINNY_NARROW_FULL_ROWS_8).
    Each shape's recorded grid in the comment; the rule before it gave 64-column tiles (12-16
    blocks) past 88 tiles and 8-column ones to 88 tiles for 8 rows."""
    lin = lambda m, n, k: library_blocks(_matrix("linear", m, n, k), 132.0, 8.0)[0]  # noqa: E731
    assert lin(1, 720, 1536) == 92          # recorded 92 (narrow-fresh15-sm0)
    assert lin(1, 728, 2304) == 12          # 12: past the first step's k
    assert lin(2, 768, 320) == 96           # 96 (narrow-fresh15-sm0)
    assert lin(5, 768, 576) == 12           # 12 (skinny-grids-sm0)
    assert lin(4, 832, 128) == 104          # 104
    assert lin(2, 832, 960) == 16           # 16
    assert lin(3, 896, 72) == 112           # 112 (skinny-grids-sm0)
    assert lin(3, 896, 80) == 16            # 16
    assert lin(4, 968, 88) == 16            # 16 (narrow-fresh15-sm0)
    assert lin(7, 1000, 64) == 128          # 126 (the map; 125 tiles, clusters of 4 here)
    assert lin(8, 680, 64) == 12            # 12: 8 rows, 85 tiles
    assert lin(8, 576, 304) == 12           # 12 (skinny-grids-sm0)
    assert lin(8, 464, 1768) == 60          # 60: 58 tiles
    # narrow-fresh17-sm0, recorded after: a smoother budget law (4b7f9b7, reverted) gave 108 / 132
    assert lin(1, 856, 176) == 16           # 16
    assert lin(1, 1032, 80) == 20           # 20
    # the H200's library is unchanged: 8-column tiles to one block per SM at any k for 1-7 rows
    assert library_blocks(_matrix("linear", 1, 968, 1536), 132.0, 16.0)[0] == 124
    skinny_grid = load_benchmark("skinny_grid")
    table, grid = skinny_grid.skinny_calls("h100-sxm/launch-grids/narrow-tile-map-sm0")
    far = np.abs(np.log(skinny_grid.perfmodel.skinny_blocks(table, 100.0, 8.0, 132.0) / grid))
    assert len(grid) == 825 and (far > np.log(2.0)).sum() <= 10     # 8 (182 before)


def test_the_h200s_library_takes_8_column_tiles_for_8_rows_past_88_as_the_reduction_grows():
    """Session 48, read off the grids cuBLAS launched on the H200 for the map's 165 linears of 8
    rows (calibration/h200/launch-grids/narrow-tile-map-sm0): 8-column tiles to 91 of them at
    every k, to 100 from k = 128, to 103 from k = 640, none from 106
    (SKINNY_NARROW_FULL_ROWS_STEPS); the rule before gave 64-column tiles past 88. Each shape's
    recorded grid in the comment."""
    lin = lambda n, k: library_blocks(_matrix("linear", 8, n, k), 132.0, 16.0)[0]  # noqa: E731
    assert lin(728, 64) == 92               # recorded 92
    assert lin(752, 64) == 12               # 12
    assert lin(752, 128) == 96              # 96
    assert lin(800, 448) == 100             # 100
    assert lin(824, 448) == 16              # 16
    assert lin(824, 640) == 104             # 104
    assert lin(848, 2304) == 16             # 16
    # the H100's library keeps its own bound for 8 rows (SKINNY_NARROW_FULL_ROWS_8)
    assert library_blocks(_matrix("linear", 8, 752, 640), 132.0, 8.0)[0] == 12
    skinny_grid = load_benchmark("skinny_grid")
    table, grid = skinny_grid.skinny_calls("h200/launch-grids/narrow-tile-map-sm0")
    far = np.abs(np.log(skinny_grid.perfmodel.skinny_blocks(table, 100.0, 16.0, 132.0) / grid))
    assert len(grid) == 825 and (far > np.log(1.3)).sum() <= 5     # 3 (49 before)


@settings(max_examples=200, deadline=None)
@given(tiles=st.integers(24, 110), k1=st.integers(8, 320).map(lambda x: 8 * x),
       k2=st.integers(8, 320).map(lambda x: 8 * x))
def test_the_h200s_8_row_narrow_tiles_never_stop_as_the_reduction_grows(tiles, k1, k2):
    """An 8-row linear that the H200's library runs on 8-column tiles at a reduction k still runs
    on them at any longer k within the narrow window (SKINNY_NARROW_FULL_ROWS_STEPS only widen
    the bound with k; grids of 24 tiles or more: the few-column rule does not apply)."""
    lo, hi = sorted((k1, k2))
    n = 8 * tiles
    narrow = lambda k: library_blocks(_matrix("linear", 8, n, k), 132.0, 16.0)[0] > 24  # noqa
    if hi <= SKINNY_NARROW_K and narrow(lo):
        assert narrow(hi)


def test_each_devices_narrow_tiles_bring_the_model_closer_to_its_own_recorded_grids():
    """benchmarks/skinny_grid.py: on the H100's recorded grids its own widest narrow tile (8)
    is nearer what CUPTI recorded than the H200's (16), and on the H200's the reverse."""
    skinny_grid = load_benchmark("skinny_grid")
    cap = np.floor(LIBRARY_GRID_SHARE * skinny_grid.GRID)
    for name, _ in skinny_grid.SETS:
        table, grid = skinny_grid.skinny_calls(name)
        far = {cols: np.abs(np.log(skinny_grid.perfmodel.skinny_blocks(table, cap, cols) /
                                   grid)).mean() for cols in (8.0, 16.0)}
        own = skinny_grid.device_narrow_cols(name)
        other = 24.0 - own
        assert far[own] <= far[other] + 1e-12, (name, far)
        if name.startswith("h100"):
            assert far[own] < far[other] - 0.02


def test_a_product_of_many_rows_and_a_long_reduction_tiles_its_rows_by_32():
    """Past 32 rows, where k splits at least twice, the library's tiles hold 32 rows
    (tst_64x32 ... splitK): 64 x 128 x 6144 launched 16 blocks (8-row tiles gave 64)."""
    assert library_blocks(_matrix("gemm", 64, 128, 6144), 132.0)[0] == 16
    assert library_blocks(_matrix("linear", 64, 64, 15552), 132.0)[0] == 20   # recorded 24
    assert library_blocks(_matrix("gemm", 64, 128, 1984), 132.0)[0] == 16     # 8-row tiles


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, SKINNY_ROWS), n=st.integers(8, 200000).map(lambda x: 8 * (x // 8)),
       k=st.integers(8, 40000).map(lambda x: 8 * (x // 8)), batch=st.integers(1, 64),
       kind=st.sampled_from(["gemm", "linear"]))
def test_a_skinny_grid_stays_within_the_share_and_narrow_tiles_only_add_blocks(m, n, k, batch,
                                                                               kind):
    """Every skinny grid lies within one block and one per SM, a 64-column one within the grid's
    share; where the library takes
    narrow column tiles, never fewer blocks than 64-column ones. (Not monotone in the shape:
    the library launches fewer blocks for a longer reduction, 8 x 584 x 736 76 and
    8 x 584 x 2808 24, and for more rows.)"""
    if kind == "linear":
        batch = min(batch, SKINNY_ROWS // m)
    t = _matrix(kind, m, n, k, batch)
    blocks = library_blocks(t, 132.0)[0]
    assert 1 <= blocks <= 132            # narrow tiles: at most one block per SM of the grid
    if skinny_launch(t, np.floor(LIBRARY_GRID_SHARE * 132)).cols[0] == 64:
        assert blocks <= np.floor(LIBRARY_GRID_SHARE * 132)
    rows = m * (batch if kind == "linear" else 1)
    if kind == "linear" and rows <= SKINNY_NARROW_ROWS and k <= SKINNY_NARROW_K:
        assert blocks >= min(np.ceil(n / 64), np.floor(LIBRARY_GRID_SHARE * 132))


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 32), n=st.integers(8, 200000).map(lambda x: 8 * (x // 8)),
       k=st.integers(8, 40000).map(lambda x: 8 * (x // 8)), batch=st.integers(1, 64))
def test_a_gemm_of_up_to_32_rows_never_gets_fewer_blocks_as_it_grows(m, n, k, batch):
    """A gemm of at most 32 rows keeps one tile family (8 x 64, split-K): more rows, columns
    or reduction never give it fewer blocks."""
    b = lambda **kw: library_blocks(_matrix("gemm", **{"m": m, "n": n, "k": k,   # noqa: E731
                                                       "batch": batch, **kw}), 132.0)[0]
    base = b()
    assert b(n=2 * n) >= base and b(k=2 * k) >= base
    if m < 32:
        assert b(m=m + 1) >= base


@pytest.mark.parametrize("grid", [1.0, 2.0])
def test_a_chip_of_one_sm_still_runs_a_skinny_product_on_a_block(grid):
    """LIBRARY_GRID_SHARE of one SM floors to no block: the grid keeps at least one (a
    hypothetical one-SM spec predicted NaN for every skinny product)."""
    t = _matrix("linear", 1, 2560, 320)
    assert library_blocks(t, grid)[0] == 1.0
    spec = derive_sm_restricted(H200, 1)
    assert np.isfinite(unit_terms(t, spec_from_dict({**spec_to_dict(spec),
                                                     "grid_sm_count": None})).tensor_s).all()


def test_session_34s_grid_rules_bring_the_model_closer_to_every_recorded_grid():
    """benchmarks/skinny_grid.py on the committed launch grids: the cluster rounding and the two
    bounds on the narrow tiles (each switched off alone, then all three) leave the H200's grid
    sets no farther from what CUPTI recorded and bring the H100's closer, each device with its
    own narrow tile (perfmodel.narrow_tile_cols: the H100's library takes no 16-column tile)."""
    skinny_grid = load_benchmark("skinny_grid")
    cap = np.floor(LIBRARY_GRID_SHARE * skinny_grid.GRID)
    for name, _ in skinny_grid.SETS:
        table, grid = skinny_grid.skinny_calls(name)
        cols = narrow_tile_cols(load_hardware(name.split("/")[0]))
        far = lambda blocks: np.abs(np.log(blocks / grid)).mean()   # noqa: E731
        blocks = library_blocks(table, skinny_grid.GRID, cols)
        assert np.allclose(blocks, skinny_grid.perfmodel.skinny_blocks(table, cap, cols))
        off = {what: far(skinny_grid.without(table, what, cols))
               for what in ("clusters", "16-col floor", "few-col k bound", "all three")}
        assert all(far(blocks) <= v + 1e-12 for v in off.values()), (name, off)
        if name.endswith("skinny-grids-sm0"):   # the H100 set the three were read off
            assert far(blocks) < off["all three"] - 0.1


def test_whole_grids_of_the_largest_tiles_count_the_tiles_cublas_recorded():
    """calibration/h200/launch-grids/h200-products: the tile counts of the persistent nvjet
    products' kernel names (benchmarks/full_wave_tiles.py) are far closer to whole grids of
    LIBRARY_TILE_MAX_OUTPUTS tiles than to 128 x 128 tiles, and the shipped tile size is the
    best of its neighbours (128 x 192 and 256 x 192)."""
    from roofsim.perfmodel import LIBRARY_TILE_MAX_OUTPUTS
    tiles = load_benchmark("full_wave_tiles")
    rec = tiles.recorded_tiles()
    n, shipped, waves = tiles.tile_count_error(rec, LIBRARY_TILE_MAX_OUTPUTS)
    _, square, square_waves = tiles.tile_count_error(rec, None)
    assert n > 400
    assert shipped < 0.25 < 0.5 < square
    assert waves > 0.5 > 0.1 > square_waves
    for other in (LIBRARY_TILE_MAX_OUTPUTS * 2 / 3, LIBRARY_TILE_MAX_OUTPUTS * 4 / 3):
        assert tiles.tile_count_error(rec, other)[1] > shipped


def test_a_product_under_one_grid_of_tiles_launches_the_blocks_cublas_recorded():
    """LIBRARY_SUBGRID_SHARE: capped at 128 of 132 blocks, the persistent products of 0.1-1
    grid of the largest tiles run the rounds their recorded grids give on 64 and 128 SMs far
    more often than at the whole grid, and no less often at any other count
    (benchmarks/full_wave_tiles.py part 3, h200-products and mixed-fresh5's products)."""
    from roofsim.perfmodel import LIBRARY_SUBGRID_SHARE
    tiles = load_benchmark("full_wave_tiles")
    cap = np.floor(LIBRARY_SUBGRID_SHARE * 132)
    at64 = tiles.SUBGRID_COUNTS.index(64)
    for _, kernels, measurements in tiles.SUBGRID_SETS:
        (n, _, whole_err, whole), (_, _, err, shipped) = \
            tiles.subgrid_agreement(kernels, measurements, caps=(132, cap))
        assert n > 50
        assert shipped[at64] > whole[at64] + 0.2
        assert all(a >= b for a, b in zip(shipped, whole))
        assert err < whole_err


def test_the_last_grid_of_tiles_falls_short_as_the_recorded_tile_counts_do():
    """LIBRARY_LAST_GRID_FILL: with k - 1 full grids and 0.94 of the last, the waves the model's
    tiles give on 128 of 132 SMs follow the measured stretch of calibration/h100-sxm*/
    subgrid-build's products (a build set) far more closely than whole grids do, and no worse
    elsewhere (benchmarks/summarize_subgrid_build.py, part 3)."""
    from unittest import mock

    import roofsim.perfmodel as perfmodel
    build = load_benchmark("summarize_subgrid_build")
    shipped = build.wave_errors(*build.read_set())
    with mock.patch.object(perfmodel, "LIBRARY_LAST_GRID_FILL", 1.0):
        whole = build.wave_errors(*build.read_set())
    assert shipped[128][0] > 400
    assert shipped[128][2] < 0.20 < 0.24 < whole[128][2]
    assert all(shipped[n][2] <= whole[n][2] + 0.005 for n in shipped)


def test_the_late_blocks_tail_follows_the_persistent_products_measured_stretch():
    """perfmodel.waves' balanced rule, taken at the recorded tiles and grid of
    calibration/h200/persistent-grid's shapes of more than one tile per block, is closer to
    their measured tile times on 64-128 SMs than one tail per extra round of resident blocks
    (benchmarks/late_blocks_tail.py)."""
    tail = load_benchmark("late_blocks_tail")
    _, logs = tail.table_rows()
    assert len(logs["shipped"]) >= 60
    assert np.mean(logs["shipped"]) < 0.10 < 0.13 < np.mean(logs["before"])


def test_an_nvjet_name_gives_its_tile_as_columns_by_rows():
    """summarize_persistent_grid's tiles per block: DeepSeek-OCR's 2,913 x 1,280 product on
    nvjet's 128x232 tile is 13 row tiles of 232 by 10 column tiles of 128, its grid of 130
    exactly (read as rows x columns it would be 23 x 6 = 138)."""
    grid = load_benchmark("summarize_persistent_grid")
    name = "nvjet_sm90_tst_128x232_64x4_2x1_v_bz_coopA_TNT"
    assert grid.tiles_per_block((2913, 1280, 1280), name, 130) == 1.0
    assert grid.tiles_per_block((1218, 960, 2240), "nvjet_sm90_tst_80x128_64x8_4x2_h_bz_TNN",
                                120) == 1.0


@settings(max_examples=100, deadline=None)
@given(m=st.integers(65, 65536), n=st.integers(1, 512).map(lambda x: 64 * x),
       k=st.sampled_from([512, 4096]), kind=st.sampled_from(["gemm", "linear"]))
def test_a_product_of_grids_of_tiles_runs_as_many_waves_on_the_chip_it_was_tiled_for(m, n, k,
                                                                                       kind):
    """full_wave_blocks: cuBLAS tiles a persistent product of two or more grids of its largest
    tiles into that many grids, the last LIBRARY_LAST_GRID_FILL full, so on the whole chip it
    runs as many waves and its tensor term is its FLOPs at the tensor peak but for the last
    wave's empty blocks; a smaller one never launches more blocks than the grid."""
    from roofsim.perfmodel import LIBRARY_TILE_MAX_OUTPUTS, kernel_tensor_flops
    t = _matrix(kind, m, n, k)
    assert balanced(t)[0]          # aligned, past the skinny rows: cuBLAS's persistent nvjet
    grid = float(H200.grid_sms)
    blocks = library_blocks(t, grid)[0]
    grids = np.ceil(m * n / (LIBRARY_TILE_MAX_OUTPUTS * grid))
    if grids >= 2:
        ideal = kernel_tensor_flops(t)[0] / H200.tensor_peak_flops("bfloat16")
        assert np.ceil(blocks / grid) == grids and (grids - 1) * grid < blocks < grids * grid
        assert unit_terms(t, H200).tensor_s[0] == pytest.approx(ideal * grids * grid / blocks,
                                                                rel=1e-9)
    else:
        assert 1 <= blocks <= grid


def test_a_residual_describes_the_kernel_the_measuring_devices_library_ran():
    """other_library_kernel and the profile's rule for it (CalibrationProfile._predict): the H200
    profile's residual at 1 x 1280 x 1280 describes the H200's 16-column kernel; the H100 SXM's
    library runs 64-column tiles there, so on the H100 that record takes the physics alone,
    while 1 x 6848 x 1280 (64-column tiles on both) keeps its residual."""
    from roofsim.calibration import load_profile
    from roofsim.perfmodel import other_library_kernel
    h100, profile = load_hardware("h100-sxm"), load_profile("h200")
    band, wide = _matrix("linear", 1, 1280, 1280), _matrix("linear", 1, 6848, 1280)
    assert other_library_kernel(band, H200, h100)[0] and other_library_kernel(band, h100, H200)[0]
    assert not other_library_kernel(wide, H200, h100)[0]
    assert not other_library_kernel(band, H200, derive_sm_restricted(H200, 8))[0]
    assert not other_library_kernel(_matrix("gemm", 1, 1280, 1280), H200, h100)[0]
    ratio = lambda t, hw: profile.predict_launch_s(t, hw)[0] / \
        profile.physical_launch_s(t, hw)[0]   # noqa: E731
    assert ratio(band, h100) == pytest.approx(1.0, rel=1e-12)
    assert abs(np.log(ratio(band, H200))) > 0.01       # the residual where the kernel is its own
    assert abs(np.log(ratio(wide, h100))) > 0.01
