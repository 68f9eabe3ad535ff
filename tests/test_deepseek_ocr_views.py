"""Views, crops and image tokens (../shared/reference/deepseek-ocr.md, 'Views, crops and image tokens')."""

import pytest
from hypothesis import given, settings, strategies as st

from roofsim.errors import UserError
from roofsim.workloads.deepseek_ocr import (Request, choose_grid, image_tokens, load_config,
                                            parse_grid, sweep_grids, views)

CFG = load_config()


@pytest.mark.parametrize("mode,tokens", [("tiny", 73), ("small", 111), ("base", 273),
                                         ("large", 421), ("gundam", 273)])
def test_single_view_tokens(mode, tokens):
    assert image_tokens(CFG, mode) == tokens


@pytest.mark.parametrize("grid,tokens", [((1, 2), 483), ((2, 2), 693), ((10, 10), 10373)])
def test_gundam_tokens_match_the_reference_examples(grid, tokens):
    assert image_tokens(CFG, "gundam", grid) == tokens


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40))
def test_gundam_token_formula(rows, cols):
    expected = 273 + (10 * rows * (10 * cols + 1) if (rows, cols) != (1, 1) else 0)
    assert image_tokens(CFG, "gundam", (rows, cols)) == expected


def test_every_sweep_grid_gives_the_reports_token_count():
    import json
    from pathlib import Path
    spec = json.loads((Path(__file__).parent / "data" / "spec_tables.json").read_text())
    rows = spec["sweeps"]["vision"]
    assert sweep_grids() == [tuple(r["grid"]) for r in rows]
    for r in rows:
        assert image_tokens(CFG, "gundam", tuple(r["grid"])) == r["image_tokens"]
        assert r["num_crops"] == r["grid"][0] * r["grid"][1]


@pytest.mark.parametrize("size,grid", [
    ((2480, 3508), (3, 2)),    # A4 portrait at 300 dpi: 2 columns x 3 rows (i/j = 2/3 ~ 0.707)
    ((3508, 2480), (2, 3)),
    ((1000, 1000), (2, 2)),    # square: 1x1 is below min 2 crops, 2x2 is the closest square
    ((640, 480), (1, 1)),      # no larger than one crop: global view only
    ((3000, 1000), (1, 3)),
    ((8000, 1000), (1, 8)),    # aspect 8 -> 8 columns
])
def test_choose_grid(size, grid):
    assert choose_grid(*size) == grid


def test_choose_grid_respects_the_crop_limits():
    assert choose_grid(8000, 1000, max_crops=4) == (1, 4)
    rows, cols = choose_grid(1000, 1000, min_crops=5, max_crops=9)
    assert 5 <= rows * cols <= 9 and rows == cols


@settings(max_examples=60, deadline=None)
@given(st.integers(641, 9000), st.integers(1, 9000))
def test_chosen_grid_is_within_limits(w, h):
    rows, cols = choose_grid(w, h)
    assert 2 <= rows * cols <= 9


def test_views_describe_global_and_crops():
    v = views(CFG, Request(grid=(2, 3)))
    assert (v.global_size, v.crop_size, v.num_crops) == (1024, 640, 6)
    assert (v.global_tokens, v.crop_tokens, v.image_tokens) == (256, 100, 893)


@pytest.mark.parametrize("text", ["0x3", "2x0", "2-3", "x", "", "-1x2"])
def test_bad_grids_are_user_errors(text):
    with pytest.raises(UserError):
        parse_grid(text)


@pytest.mark.parametrize("kwargs", [dict(mode="huge"), dict(prompt_tokens=-1),
                                    dict(decode_tokens=-5), dict(batch=0), dict(grid=(0, 3)),
                                    dict(mode="base", grid=(2, 2))])
def test_bad_requests_are_user_errors(kwargs):
    with pytest.raises(UserError):
        Request(**kwargs)
