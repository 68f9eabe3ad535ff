"""The residual and the SM-parallel share find their neighbours in metrics of their own
(roofsim.calibration.features, share=True): attention's residual follows the head size, keys and
heads, and the queries only through the launch's blocks (the physics scales with them), its share
follows the queries more; conv2d's residual weighs the window over the pixel count; a product's metrics
take its grid (log2 blocks), the share's its kernel class too (persistent or not); the other
kinds use one metric for both."""

from __future__ import annotations

import numpy as np
import pytest

from roofsim.calibration.features import (RESIDUAL_BLOCKS_WEIGHT, SHARE_BLOCKS_WEIGHT,
                                          SHARE_PERSISTENT_WEIGHT, features)
from roofsim.calibration.profile import load_profile
from roofsim.perfmodel import narrow_tile_cols
from roofsim.records import SHAPE_PARAMS


def _dist(kind, a, b, share):
    x = features(kind, {k: np.array([a[k], b[k]], dtype=float) for k in a}, "bfloat16", 132,
                 share=share)
    return float(np.linalg.norm(x[0] - x[1]))


ATTN = dict(batch=4, heads=8, seq_q=256, seq_kv=4096, head_dim=128, causal=0, bias=0)


def test_attention_queries_move_the_share_more_than_the_residual():
    """The residual sees the queries only through the launch's blocks (RESIDUAL_BLOCKS_WEIGHT:
    log2 of 4x the query tiles at 0.5), the share through its own weights."""
    more_q = dict(ATTN, seq_q=1024)                # 4x the queries, one kernel (no split)
    blocks = 2.0 * RESIDUAL_BLOCKS_WEIGHT["attention"]        # log2 4 = 2 units of blocks
    assert blocks <= _dist("attention", ATTN, more_q, share=False) < blocks + 0.5   # + waves
    assert _dist("attention", ATTN, more_q, share=True) >= 2.0 > \
        _dist("attention", ATTN, more_q, share=False)


def test_attention_head_size_weighs_more_in_the_residual():
    small_d = dict(ATTN, head_dim=64)
    assert _dist("attention", ATTN, small_d, share=False) > \
        _dist("attention", ATTN, small_d, share=True)


def test_conv_window_weighs_more_in_the_residual():
    a = dict(batch=2, c_in=64, c_out=128, h=64, w=64, kernel=3, stride=1, padding=1, bias=0)
    b = dict(a, kernel=5, padding=2)
    assert _dist("conv2d", a, b, share=False) > _dist("conv2d", a, b, share=True)


def test_product_share_adds_kernel_class_and_grid():
    """A product's metrics end in its grid: the residual's in log2 of its blocks
    (RESIDUAL_BLOCKS_WEIGHT), the share's in the persistent flag and log2 of its blocks, weighted
    their own way; the sizes and alignment before them are the same in both."""
    cols = {"m": np.array([512.0, 64.0]), "n": np.array([1024.0, 1024.0]),
            "k": np.array([2048.0, 2048.0])}
    res = features("gemm", cols, "bfloat16", 132, share=False)
    share = features("gemm", cols, "bfloat16", 132, share=True)
    assert share.shape[1] == res.shape[1] + 1
    np.testing.assert_array_equal(share[:, :res.shape[1] - 1], res[:, :-1])
    # 512 rows: cuBLAS's persistent kernel; 64 rows: a skinny one-block-per-tile kernel
    np.testing.assert_array_equal(share[:, -2], [SHARE_PERSISTENT_WEIGHT, 0.0])
    blocks = res[:, -1] / RESIDUAL_BLOCKS_WEIGHT["gemm"]
    assert np.all(blocks > 0) and blocks[0] != blocks[1]
    np.testing.assert_allclose(share[:, -1], SHARE_BLOCKS_WEIGHT * blocks)


def test_a_share_places_a_short_linear_by_its_own_devices_grid_and_a_residual_does_not():
    """Session 48: a share's blocks are those the share device's library launches
    (narrow_cols: its narrow_tile_cols), a residual's the same for every device. 1 x 1280 x
    1280 runs 80 blocks of 16 columns on the H200's library, 20 of 64 on the H100 SXM's; a
    profile reads each group's shares in its share device's coordinates."""
    cols = {"m": np.array([1.0]), "n": np.array([1280.0]), "k": np.array([1280.0]),
            "bias": np.array([0.0])}
    res = {w: features("linear", cols, "bfloat16", 132, narrow_cols=w) for w in (None, 8.0)}
    np.testing.assert_array_equal(res[None], res[8.0])
    share = {w: features("linear", cols, "bfloat16", 132, share=True, narrow_cols=w)
             for w in (None, 16.0, 8.0)}
    np.testing.assert_array_equal(share[None], share[16.0])
    np.testing.assert_allclose(share[None][0, -1] - share[8.0][0, -1], 2.0 * SHARE_BLOCKS_WEIGHT)
    np.testing.assert_array_equal(share[None][0, :-1], share[8.0][0, :-1])
    h100 = load_profile("calibration/h100-sxm")
    g = h100.groups[("linear", "bfloat16")]
    assert narrow_tile_cols(h100.share_device(g)) == 8.0
    params = np.array([[cols[p][0] if p in cols else np.nan for p in SHAPE_PARAMS]])
    np.testing.assert_allclose(h100.share_features(g, params, "bfloat16"), share[8.0],
                               atol=1e-9)


@pytest.mark.parametrize("kind, params", [
    ("layernorm", dict(rows=4096, cols=1280)),
    ("elementwise", dict(numel=1 << 20)),
])
def test_other_kinds_use_one_metric(kind, params):
    cols = {k: np.array([v], dtype=float) for k, v in params.items()}
    np.testing.assert_array_equal(features(kind, cols, "bfloat16", 132, share=False),
                                  features(kind, cols, "bfloat16", 132, share=True))


@pytest.mark.parametrize("kind", ["linear", "gemm"])
def test_product_rows_alignment_is_no_coordinate(kind):
    """m is in no leading dimension of a product's operands (ROWS_ALIGN_KINDS): an odd m is as
    near an aligned one as its size and its grid alone say; n's alignment does move a product
    away (its output's and weight's rows)."""
    base = dict(m=2048, n=4096, k=2048, batch=1, bias=0)
    odd_m = dict(base, m=2047)
    cols = {k: np.array([base[k], odd_m[k]], dtype=float) for k in base}
    x = features(kind, cols, "bfloat16", 132)
    moved = np.flatnonzero(np.abs(x[0] - x[1]) > 0)
    assert moved.tolist() == [0], moved            # log2 of the rows alone (blocks: the same)
    assert _dist(kind, base, odd_m, share=False) < 0.01
    assert _dist(kind, base, dict(base, n=4095), share=False) > 1.0
    grouped = dict(base, batch=8)
    assert _dist("grouped_gemm", grouped, dict(grouped, m=2047), share=False) > 1.0
