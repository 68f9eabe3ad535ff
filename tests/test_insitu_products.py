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
