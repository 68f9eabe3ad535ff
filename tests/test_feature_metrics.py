"""The residual and the SM-parallel share find their neighbours in metrics of their own
(roofsim.calibration.features, share=True): attention's residual follows the head size, keys and
heads but not the queries (the physics scales with those), its share follows the queries (the
blocks they make); conv2d's residual weighs the window over the pixel count; the other kinds use
one metric for both."""

from __future__ import annotations

import numpy as np
import pytest

from roofsim.calibration.features import features


def _dist(kind, a, b, share):
    x = features(kind, {k: np.array([a[k], b[k]], dtype=float) for k in a}, "bfloat16", 132,
                 share=share)
    return float(np.linalg.norm(x[0] - x[1]))


ATTN = dict(batch=4, heads=8, seq_q=256, seq_kv=4096, head_dim=128, causal=0, bias=0)


def test_attention_queries_move_the_share_not_the_residual():
    more_q = dict(ATTN, seq_q=1024)                # 4x the queries, one kernel (no split)
    assert _dist("attention", ATTN, more_q, share=False) < 0.5
    assert _dist("attention", ATTN, more_q, share=True) >= 2.0


def test_attention_head_size_weighs_more_in_the_residual():
    small_d = dict(ATTN, head_dim=64)
    assert _dist("attention", ATTN, small_d, share=False) > \
        _dist("attention", ATTN, small_d, share=True)


def test_conv_window_weighs_more_in_the_residual():
    a = dict(batch=2, c_in=64, c_out=128, h=64, w=64, kernel=3, stride=1, padding=1, bias=0)
    b = dict(a, kernel=5, padding=2)
    assert _dist("conv2d", a, b, share=False) > _dist("conv2d", a, b, share=True)


@pytest.mark.parametrize("kind, params", [
    ("gemm", dict(m=512, n=1024, k=2048)),
    ("layernorm", dict(rows=4096, cols=1280)),
    ("elementwise", dict(numel=1 << 20)),
])
def test_other_kinds_use_one_metric(kind, params):
    cols = {k: np.array([v], dtype=float) for k, v in params.items()}
    np.testing.assert_array_equal(features(kind, cols, "bfloat16", 132, share=False),
                                  features(kind, cols, "bfloat16", 132, share=True))
