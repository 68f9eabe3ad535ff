"""benchmarks/insitu_products.py reads a recorded product call's input dims as the record
roofsim times: aten::mm [m, k] x [k, n] a linear without bias, aten::addmm with the bias listed
first, aten::bmm [b, m, k] x [b, k, n] a gemm of batch b; anything else is no product."""

from __future__ import annotations

import pytest

from benchmark_module import load_benchmark

insitu = load_benchmark("insitu_products")


def test_mm_is_a_linear_of_m_rows():
    assert insitu.product_of("aten::mm", [[909, 1280], [1280, 6848]]) == (
        "linear", {"m": 909, "n": 6848, "k": 1280, "bias": 0})


def test_addmm_lists_its_bias_first():
    assert insitu.product_of("aten::addmm", [[2304], [3528, 768], [768, 2304], [], []]) == (
        "linear", {"m": 3528, "n": 2304, "k": 768, "bias": 1})


def test_bmm_is_a_batched_gemm():
    assert insitu.product_of("aten::bmm", [[40, 5760, 64], [40, 64, 40]]) == (
        "gemm", {"batch": 40, "m": 5760, "n": 40, "k": 64})


@pytest.mark.parametrize("op,dims", [
    ("aten::mm", [[2, 909, 1280], [1280, 6848]]),       # a 3-D operand: not a plain mm
    ("aten::addmm", [[3528, 768], [768, 2304]]),         # no bias listed
    ("aten::_grouped_mm", [[909, 1280], [64, 1280, 896], [64], [], []]),
])
def test_other_calls_are_no_product(op, dims):
    assert insitu.product_of(op, dims) is None


@pytest.mark.parametrize("sms,band", [(0, "whole chip"), (8, "8-16 SMs"), (20, "24-48 SMs"),
                                      (48, "24-48 SMs"), (52, "56-128 SMs"), (132, "56-128 SMs")])
def test_every_sm_count_has_a_band(sms, band):
    assert insitu.band_of(sms) == band


def test_warm_column_times_only_the_l2_resident_launches_warm():
    """errors() predicts each kernel cold and as the stage does: a batch of 64 small products
    (13 MB of activations, under half the H200's L2) is l2_resident and its warm prediction is
    shorter; a 400 MB one is not, and its two predictions are equal."""
    from pathlib import Path

    import numpy as np

    from roofsim.calibration.profile import load_profile

    profile = load_profile(Path(__file__).resolve().parents[1] / "calibration/h200/profile.json.gz")
    small = {"batch": 64, "m": 768, "n": 64, "k": 64}
    large = {"batch": 40, "m": 48000, "n": 40, "k": 64}
    rows = [(0, "vision", "gemm", small, 4.6e-6), (0, "vision", "gemm", large, 99.3e-6)]
    out = insitu.errors(profile, rows, "h200")
    (key,) = out
    assert key == ("whole chip", "vision", "gemm", "m % 8 = 0")
    (cold_s, warm_s, res_s), (cold_l, warm_l, res_l) = out[key]
    assert res_s and not res_l
    assert warm_s < cold_s
    assert np.isclose(warm_l, cold_l, rtol=0, atol=1e-12)


def test_a_split_k_reduction_is_added_to_its_call():
    """The decode step's 1 x 6848 x 1280 runs nvjet ..._splitK then cuBLAS's splitKreduce with
    the same op and dims: one call of both durations; a reduction after another call, and the
    kernels of other libraries, are no product call's."""
    dims = "[[1,6848],[6848,1280]]"
    rows = [
        {"name": "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_splitK_TNT", "op": "aten::mm",
         "input_dims": dims, "stage": "decode", "duration_s": "8.5e-06"},
        {"name": "void cublasLt::splitKreduce_kernel<32, 16>", "op": "aten::mm",
         "input_dims": dims, "stage": "decode", "duration_s": "1.5e-06"},
        {"name": "nvjet_sm90_tst_16x64_64x16_4x1_v_bz_TNN", "op": "aten::mm",
         "input_dims": "[[1,1792],[1792,1280]]", "stage": "decode", "duration_s": "6e-06"},
        {"name": "void cublasLt::splitKreduce_kernel<32, 16>", "op": "aten::mm",
         "input_dims": dims, "stage": "decode", "duration_s": "1.5e-06"},
        {"name": "void dot_kernel<float, 128, 0>", "op": "aten::mm",
         "input_dims": "[[1,1280],[1280,64]]", "stage": "decode", "duration_s": "2e-06"},
    ]
    got = insitu.products_in(rows, 0)
    assert [(shape["k"], shape["n"]) for _, _, _, shape, _ in got] == [(6848, 1280), (1792, 1280)]
    assert got[0][4] == pytest.approx(10e-6) and got[1][4] == pytest.approx(6e-6)
