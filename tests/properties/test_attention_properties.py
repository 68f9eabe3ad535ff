"""Attention variants: flash and normal attention do the same FLOPs; flash moves no more bytes and
holds no more activation memory than normal attention.

Where the mask is causal (prefill under the "model" accounting), the unfused path computes the
whole score rectangle as eager PyTorch does while the fused kernel skips the masked half
(roofsim/workloads/deepseek_ocr/attention.py): there flash FLOPs never exceed normal, and they
are equal under the report's full S0 x S0 accounting and wherever the mask is full (vision,
decode).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roofsim.kernels import KIND_FORMULAS
from roofsim.workloads.deepseek_ocr import (STAGES, Request, config_from_dict, stage_costs,
                                           stage_records)
from strategies import DEFAULT_CONFIG, FAST, MEDIUM, configs, default_raw, requests

REL = 1e-9
ATTENTION_NAMES = ("sdpa", "scores", "softmax", "context")


@st.composite
def workloads(draw):
    cfg = draw(configs())
    return cfg, draw(requests(cfg)), draw(st.sampled_from(["last", "all"]))


def _both(cfg, req, lm_head, accounting):
    return (stage_costs(cfg, req, "flash", lm_head, accounting),
            stage_costs(cfg, req, "normal", lm_head, accounting))


@MEDIUM
@given(w=workloads())
def test_flash_and_normal_have_equal_flops_where_the_mask_is_full(w):
    cfg, req, lm_head = w
    flash, normal = _both(cfg, req, lm_head, "report")
    for stage in STAGES:
        for f in ("flops_tensor", "flops_cuda"):
            assert math.isclose(getattr(flash[stage], f), getattr(normal[stage], f),
                                rel_tol=REL), (stage, f)
    flash, normal = _both(cfg, req, lm_head, "model")
    for stage in ("vision", "decode"):
        assert math.isclose(flash[stage].flops, normal[stage].flops, rel_tol=REL), stage
    # causal prefill: same projections and MLPs; the unfused core also computes the masked half
    assert flash["prefill"].flops <= normal["prefill"].flops * (1 + REL)


@FAST
@given(batch=st.integers(1, 8), heads=st.integers(1, 32), seq_q=st.integers(1, 4096),
       seq_kv=st.integers(1, 4096), head_dim=st.integers(1, 256),
       dtype=st.sampled_from(["bfloat16", "float16", "float32"]))
def test_fused_kernel_flops_equal_its_unfused_parts(batch, heads, seq_q, seq_kv, head_dim, dtype):
    """The attention kind's FLOPs (full mask) = scores gemm + softmax (with the scale) + context
    gemm: the kernel-level form of the flash = normal property."""
    p = {"batch": batch, "heads": heads, "seq_q": seq_q, "seq_kv": seq_kv, "head_dim": head_dim}
    fused = KIND_FORMULAS["attention"]({**p, "causal": 0}, dtype)
    bh = batch * heads
    scores = KIND_FORMULAS["gemm"]({"batch": bh, "m": seq_q, "n": seq_kv, "k": head_dim}, dtype)
    context = KIND_FORMULAS["gemm"]({"batch": bh, "m": seq_q, "n": head_dim, "k": seq_kv}, dtype)
    soft = KIND_FORMULAS["softmax"]({"rows": bh * seq_q, "cols": seq_kv}, dtype)
    matrix = scores["flops_tensor"] + scores["flops_cuda"] + context["flops_tensor"] \
        + context["flops_cuda"]
    assert math.isclose(fused["flops_tensor"][0] + fused["flops_cuda"][0],
                        matrix[0] + soft["flops_cuda"][0] + bh * seq_q * seq_kv,  # + the scale
                        rel_tol=1e-12)


@MEDIUM
@given(w=workloads(), accounting=st.sampled_from(["model", "report"]))
def test_flash_moves_no_more_bytes(w, accounting):
    cfg, req, lm_head = w
    flash, normal = _both(cfg, req, lm_head, accounting)
    for stage in STAGES:
        f, n = flash[stage], normal[stage]
        assert f.io_bytes <= n.io_bytes * (1 + REL), stage
        assert f.activation_io_bytes <= n.activation_io_bytes * (1 + REL), stage
        assert math.isclose(f.weight_bytes, n.weight_bytes, rel_tol=REL), stage
        assert f.kv_cache_bytes == n.kv_cache_bytes, stage


@MEDIUM
@given(data=st.data(), lm_head=st.sampled_from(["last", "all"]),
       accounting=st.sampled_from(["model", "report"]))
def test_flash_holds_no_more_activation_memory_in_the_shipped_model(data, lm_head, accounting):
    """Any request on the shipped DeepSeek-OCR config. (Not for every config: see the known
    counterexample below.)"""
    req = data.draw(requests(DEFAULT_CONFIG, max_side=6, max_prompt=4096, max_decode=64))
    flash, normal = _both(DEFAULT_CONFIG, req, lm_head, accounting)
    for stage in STAGES:
        assert flash[stage].activation_peak_bytes <= \
            normal[stage].activation_peak_bytes * (1 + REL), stage


@pytest.mark.xfail(strict=True, reason="known bug (tests/properties/README.md): the peak model "
                   "takes one launch's working set, so the fused kernel's Q+K+V+O can exceed "
                   "each unfused launch when sequences are short; unfused Q, K, V stay live too")
def test_flash_holds_no_more_activation_memory_for_short_windows():
    raw = default_raw()
    raw["sam"].update(window_size=1, global_blocks=[], mlp_dim=768)
    cfg = config_from_dict(raw)
    flash, normal = _both(cfg, Request(mode="base"), "last", "model")
    assert flash["vision"].activation_peak_bytes <= normal["vision"].activation_peak_bytes


@MEDIUM
@given(w=workloads())
def test_each_attention_core_moves_no_more_bytes_when_fused(w):
    """Per attention layer, not only in total: the fused core's bytes <= the unfused three."""
    cfg, req, lm_head = w
    for stage in STAGES:
        per_layer = []
        for variant in ("flash", "normal"):
            t = stage_records(cfg, req, variant, lm_head)[stage]
            core = np.array([n.rsplit("/", 1)[-1] in ATTENTION_NAMES for n in t.name], dtype=bool)
            by = {}
            for layer, b, c in zip(t.layer[core], (t.bytes_read + t.bytes_written)[core],
                                   t.count[core]):
                by[layer] = by.get(layer, 0.0) + b * c
            per_layer.append(by)
        flash, normal = per_layer
        assert flash.keys() == normal.keys(), stage
        for layer in flash:
            assert flash[layer] <= normal[layer] * (1 + REL), (stage, layer)
