"""Preprocessing: the crop chooser always returns a grid within [min, max] crops (or the global
view alone for a small image) with the best aspect match; the image-token formula."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roofsim.errors import UserError
from roofsim.workloads.deepseek_ocr import (Request, choose_grid, image_tokens, parse_grid,
                                           views)
from strategies import DEFAULT_CONFIG, FAST, GUNDAM, configs, crop_limits, grids, image_sizes

SPEC_TABLES = json.loads((Path(__file__).parents[1] / "data" / "spec_tables.json").read_text())
crop_sizes = st.sampled_from([640, 512, 1024]) | st.integers(1, 2048)


@FAST
@given(size=image_sizes, limits=crop_limits(), crop=crop_sizes)
def test_crop_chooser_returns_a_grid_within_the_limits(size, limits, crop):
    (w, h), (lo, hi) = size, limits
    rows, cols = choose_grid(w, h, lo, hi, crop)
    assert isinstance(rows, int) and isinstance(cols, int)
    if w <= crop and h <= crop:
        assert (rows, cols) == (1, 1)                     # global view only
    else:
        assert lo <= rows * cols <= hi
        assert rows <= hi and cols <= hi


@FAST
@given(size=image_sizes, limits=crop_limits())
def test_crop_chooser_picks_the_closest_aspect(size, limits):
    (w, h), (lo, hi) = size, limits
    rows, cols = choose_grid(w, h, lo, hi)
    if (rows, cols) == (1, 1) and w <= 640 and h <= 640:
        return
    best = min(abs(w / h - i / j) for i in range(1, hi + 1) for j in range(1, hi + 1)
               if lo <= i * j <= hi)
    assert abs(w / h - cols / rows) == best


@FAST
@given(size=image_sizes, limits=crop_limits(), scale=st.integers(2, 5))
def test_crop_chooser_depends_on_aspect_not_resolution_for_large_images(size, limits, scale):
    """Scaling an already-large image up only ever picks a grid of the same aspect, never a
    smaller one (ties break towards the larger grid for larger images)."""
    (w, h), (lo, hi) = size, limits
    if w <= 640 and h <= 640:
        return
    r1, c1 = choose_grid(w, h, lo, hi)
    r2, c2 = choose_grid(w * scale, h * scale, lo, hi)
    assert abs(w / h - c1 / r1) == abs(w / h - c2 / r2)
    assert r2 * c2 >= r1 * c1


@FAST
@given(bad=st.one_of(st.integers(-5, 0), st.just(True), st.floats(1, 10), st.text(max_size=3)))
def test_crop_chooser_rejects_bad_sizes_with_a_clear_error(bad):
    with pytest.raises(UserError, match="image width"):
        choose_grid(bad, 100)


@FAST
@given(cfg=configs(), grid=grids(12))
def test_image_token_formula(cfg, grid):
    """global q (q + 1) + 1 (rows of q tokens and a newline, one separator) plus, for R x C
    crops, c R (c C + 1) (rows of c C tokens and a newline); q, c = view side / patch / 4."""
    v = cfg.views
    q = v.global_size // v.patch_size // 4
    c = v.crop_size // v.patch_size // 4
    rows, cols = grid
    expected = q * (q + 1) + 1 + (0 if grid == (1, 1) else c * rows * (c * cols + 1))
    assert image_tokens(cfg, GUNDAM, grid) == expected
    assert views(cfg, Request(grid=grid)).image_tokens == expected
    assert image_tokens(cfg, GUNDAM, None) == q * (q + 1) + 1
    for mode, size in dict(v.modes).items():
        s = size // v.patch_size // 4
        assert image_tokens(cfg, mode) == s * (s + 1) + 1
    # monotone: one more crop row or column adds tokens
    assert image_tokens(cfg, GUNDAM, (rows + 1, cols)) > expected
    assert image_tokens(cfg, GUNDAM, (rows, cols + 1)) > expected


@pytest.mark.parametrize("row", SPEC_TABLES["sweeps"]["vision"],
                         ids=lambda r: "x".join(map(str, r["grid"])))
def test_image_tokens_match_the_specification_sweep(row):
    assert image_tokens(DEFAULT_CONFIG, GUNDAM, tuple(row["grid"])) == row["image_tokens"]


@FAST
@given(grid=grids(12))
def test_image_tokens_agree_with_the_reference_assembly(grid):
    """The reference assembly (roofsim.reference, an independent implementation) counts the
    same tokens for the shipped model."""
    from roofsim.reference import DEEPSEEK_OCR
    ref = DEEPSEEK_OCR.image_tokens(None if grid == (1, 1) else grid)
    assert image_tokens(DEFAULT_CONFIG, GUNDAM, grid) == ref


@FAST
@given(grid=grids(50), sep=st.sampled_from(["x", "X", "×", " x "]))
def test_grid_text_round_trips(grid, sep):
    assert parse_grid(f"{grid[0]}{sep}{grid[1]}") == grid
