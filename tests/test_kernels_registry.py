"""The kernel-kind registry: every kind has a formula, formulas follow kernels/README.md."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.errors import UserError
from roofsim.kernels import KIND_FORMULAS, records_from_params, work
from roofsim.kernels.attention import normal_attention_parts, visible_pairs
from roofsim.records import KINDS, WORK_FIELDS


def test_every_kind_has_a_formula():
    assert set(KIND_FORMULAS) == set(KINDS)


def test_linear_counts_weights_once_and_bias_as_cuda_work():
    w = work("linear", {"m": 512, "n": 1280, "k": 2048, "bias": 1}, "bfloat16")
    assert w["flops_tensor"][0] == 2 * 512 * 1280 * 2048
    assert w["flops_cuda"][0] == 512 * 1280
    assert w["weight_bytes"][0] == (1280 * 2048 + 1280) * 2
    assert w["bytes_read"][0] == 512 * 2048 * 2 + w["weight_bytes"][0]
    assert w["bytes_written"][0] == 512 * 1280 * 2


def test_fp32_matmul_is_cuda_core_work():
    w = work("linear", {"m": 4, "n": 64, "k": 1280}, "float32")
    assert w["flops_tensor"][0] == 0 and w["flops_cuda"][0] == 2 * 4 * 64 * 1280
    assert w["bytes_read"][0] == (4 * 1280 + 64 * 1280) * 4


def test_grouped_gemm_reads_every_expert_weight():
    w = work("grouped_gemm", {"batch": 6, "m": 10, "n": 896, "k": 1280}, "bfloat16")
    assert w["weight_bytes"][0] == 6 * 896 * 1280 * 2
    assert w["flops_tensor"][0] == 2 * 6 * 10 * 896 * 1280


def test_causal_pairs_count_the_triangle_and_the_decode_row():
    assert visible_pairs(4, 4, 1) == 10
    assert visible_pairs(1, 100, 1) == 100
    assert visible_pairs(3, 5, 0) == 15


def test_conv_output_size_follows_padding_and_stride():
    w = work("conv2d", {"c_in": 256, "c_out": 512, "h": 64, "w": 64, "kernel": 3, "stride": 2,
                        "padding": 1}, "bfloat16")
    assert w["flops_tensor"][0] == 2 * 512 * 32 * 32 * 256 * 9
    assert w["bytes_written"][0] == 512 * 32 * 32 * 2


def test_flash_and_normal_attention_have_equal_flops_and_flash_moves_fewer_bytes():
    shape = dict(batch=2, heads=12, seq_q=4096, seq_kv=4096, head_dim=64)
    flash = work("attention", shape, "bfloat16")
    parts = normal_attention_parts(**shape)
    kinds = np.array(["gemm", "softmax", "gemm"], dtype=object)
    keys = sorted({k for p in parts.values() for k in p})
    params = {k: np.array([float(parts[p].get(k, np.nan)) for p in ("scores", "softmax", "context")])
              for k in keys}
    normal = records_from_params(kinds, params, "bfloat16").totals()
    assert normal["flops_tensor"] == flash["flops_tensor"][0]
    # fused adds the 1/sqrt(d) scale to the 5-FLOP softmax
    scores = 2 * 12 * 4096 * 4096
    assert flash["flops_cuda"][0] - normal["flops_cuda"] == scores
    assert normal["bytes_read"] + normal["bytes_written"] > 3 * (flash["bytes_read"][0] + flash["bytes_written"][0])


def test_mixed_kinds_evaluate_each_row_with_its_own_formula():
    t = records_from_params(np.array(["rmsnorm", "silu"], dtype=object),
                            {"rows": [512, np.nan], "cols": [1280, np.nan], "numel": [np.nan, 1000]},
                            "bfloat16", name="x", stage="prefill")
    assert list(t.flops_cuda) == [3 * 512 * 1280, 4 * 1000]
    assert t.weight_bytes[0] == 1280 * 2 and t.weight_bytes[1] == 0


@pytest.mark.parametrize("kind,params", [("warp", {}), ("gemm", {"m": 1, "n": 2}),
                                         ("gemm", {"m": -1, "n": 2, "k": 3})])
def test_bad_rows_are_user_errors(kind, params):
    with pytest.raises(UserError):
        records_from_params(kind, params, "bfloat16")


def test_unknown_dtype_is_a_user_error():
    with pytest.raises(UserError, match="dtype"):
        work("copy", {"numel": 4}, "int3")


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.integers(1, 300), st.integers(1, 5))
def test_work_is_finite_non_negative_and_linear_in_the_batch(kind, size, batch):
    params = dict(m=size, n=size + 1, k=size + 2, heads=3, seq_q=size, seq_kv=size + 5,
                  head_dim=64, rows=size, cols=7, numel=size * 3, c_in=3, c_out=8, h=size + 16,
                  w=size + 16, kernel=3)
    one = work(kind, {**params, "batch": 1}, "bfloat16")
    many = work(kind, {**params, "batch": batch}, "bfloat16")
    for f in WORK_FIELDS:
        assert np.isfinite(one[f]).all() and (one[f] >= 0).all()
        assert one[f][0] >= one["weight_bytes"][0] or f != "bytes_read"
    if kind in ("gemm", "attention", "conv2d", "grouped_gemm"):
        for f in ("flops_tensor", "flops_cuda", "bytes_written"):
            assert many[f][0] == pytest.approx(batch * one[f][0])
