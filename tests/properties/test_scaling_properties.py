"""Scaling: FLOPs linear in batch; vision FLOPs affine in the crop count; a linear layer costs
2 m n k; attention FLOPs quadratic in sequence length; KV cache linear in context."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from roofsim.kernels import KIND_FORMULAS
from roofsim.workloads.deepseek_ocr import (STAGES, Request, kv_cache_bytes_per_token,
                                           stage_costs, stage_records, views)
from strategies import DEFAULT_CONFIG, FAST, GUNDAM, MEDIUM, configs, grids, requests

attentions = st.sampled_from(["flash", "normal"])
REL = 1e-9

# The rotary cos/sin table is computed once per position and shared by every sequence of the
# batch (see roofsim/workloads/deepseek_ocr/decoder.py), so it is the one record whose FLOPs do
# not grow with batch; everything else scales exactly.
BATCH_SHARED = ("rotary_emb",)


def _flops_split(table):
    shared = np.isin(table.name.astype(str), BATCH_SHARED)
    flops = (table.flops_tensor + table.flops_cuda) * table.count
    return float(flops[~shared].sum()), float(flops[shared].sum())


@MEDIUM
@given(data=st.data(), attention=attentions, batch=st.integers(2, 8))
def test_flops_are_linear_in_batch(data, attention, batch):
    cfg = data.draw(configs())
    one = data.draw(requests(cfg, max_batch=1))
    many = dataclasses.replace(one, batch=batch)
    r1, rb = stage_records(cfg, one, attention), stage_records(cfg, many, attention)
    for stage in STAGES:
        per_seq_1, shared_1 = _flops_split(r1[stage])
        per_seq_b, shared_b = _flops_split(rb[stage])
        assert math.isclose(per_seq_b, batch * per_seq_1, rel_tol=REL), stage
        assert math.isclose(shared_b, shared_1, rel_tol=REL), stage
        # tensor-core work has no shared part at all
        assert math.isclose(rb[stage].total("flops_tensor"),
                            batch * r1[stage].total("flops_tensor"), rel_tol=REL), stage
    # the vision stage repeats the encoder per request: every field is linear in batch
    c1, cb = stage_costs(cfg, one, attention), stage_costs(cfg, many, attention)
    assert math.isclose(cb["vision"].flops, batch * c1["vision"].flops, rel_tol=REL)
    assert math.isclose(cb["vision"].io_bytes, batch * c1["vision"].io_bytes, rel_tol=REL)


@MEDIUM
@given(data=st.data(), attention=attentions)
def test_vision_flops_are_affine_in_the_crop_count(data, attention):
    cfg = data.draw(configs())
    gs = data.draw(st.lists(grids(5), min_size=3, max_size=3))
    points = []
    for g in gs:
        req = Request(grid=g, mode=GUNDAM)
        crops = 0 if g == (1, 1) else g[0] * g[1]           # 1x1 = global view only
        points.append((crops, stage_costs(cfg, req, attention)["vision"].flops))
    (n0, f0), (n1, f1), (n2, f2) = points
    # three points on one line: (f1 - f0)(n2 - n0) = (f2 - f0)(n1 - n0)
    lhs, rhs = (f1 - f0) * (n2 - n0), (f2 - f0) * (n1 - n0)
    assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-6 * max(f0, f1, f2))
    # and the slope is the cost of one crop: positive, and the same for any grid shape
    if n1 != n0:
        assert (f1 - f0) / (n1 - n0) > 0


@FAST
@given(m=st.integers(0, 1 << 16), n=st.integers(0, 1 << 16), k=st.integers(0, 1 << 16),
       batch=st.integers(1, 64), bias=st.integers(0, 1),
       dtype=st.sampled_from(["bfloat16", "float16", "float8_e4m3fn", "float32"]))
def test_a_linear_layer_costs_2mnk(m, n, k, batch, bias, dtype):
    w = KIND_FORMULAS["linear"]({"m": m, "n": n, "k": k, "bias": bias}, dtype)
    matrix = 2 * m * n * k
    if dtype == "float32":       # no TF32: matrix work is CUDA-core work
        assert w["flops_tensor"][0] == 0
        assert w["flops_cuda"][0] == matrix + bias * m * n
    else:
        assert w["flops_tensor"][0] == matrix
        assert w["flops_cuda"][0] == bias * m * n            # the bias add, 1 FLOP per output
    for kind in ("gemm", "grouped_gemm"):
        g = KIND_FORMULAS[kind]({"m": m, "n": n, "k": k, "batch": batch}, dtype)
        assert g["flops_tensor"][0] + g["flops_cuda"][0] == batch * matrix


@MEDIUM
@given(data=st.data(), attention=attentions)
def test_every_workload_matrix_record_costs_2mnk(data, attention):
    cfg = data.draw(configs())
    req = data.draw(requests(cfg))
    for stage, table in stage_records(cfg, req, attention).items():
        mat = np.isin(table.kind.astype(str), ["gemm", "linear", "grouped_gemm"])
        if not mat.any():
            continue
        m, n, k = (table.param(p)[mat] for p in ("m", "n", "k"))
        b = np.nan_to_num(table.param("batch")[mat], nan=1.0)
        bias = np.nan_to_num(table.param("bias")[mat], nan=0.0)
        flops = table.flops_tensor[mat] + table.flops_cuda[mat]
        np.testing.assert_allclose(flops, 2 * b * m * n * k + b * m * n * bias, rtol=1e-12,
                                   err_msg=stage)


@FAST
@given(s=st.integers(1, 1 << 15), factor=st.integers(2, 16), batch=st.integers(1, 8),
       heads=st.integers(1, 64), head_dim=st.integers(1, 256),
       dtype=st.sampled_from(["bfloat16", "float32"]))
def test_attention_flops_are_quadratic_in_sequence_length(s, factor, batch, heads, head_dim,
                                                          dtype):
    def flops(seq, causal):
        w = KIND_FORMULAS["attention"]({"batch": batch, "heads": heads, "seq_q": seq,
                                        "seq_kv": seq, "head_dim": head_dim, "causal": causal},
                                       dtype)
        return w["flops_tensor"][0] + w["flops_cuda"][0]

    # full mask: exactly c S^2
    assert math.isclose(flops(factor * s, 0), factor ** 2 * flops(s, 0), rel_tol=1e-12)
    # causal: the visible triangle S (S + 1) / 2 of the S^2 pairs
    assert math.isclose(flops(s, 1) / flops(s, 0), (s + 1) / (2 * s), rel_tol=1e-12)


@MEDIUM
@given(data=st.data(), attention=attentions, factor=st.integers(2, 4))
def test_prefill_attention_flops_are_quadratic_in_the_prompt(data, attention, factor):
    """With the report's full S0 x S0 accounting, the prefill attention core's FLOPs are c S0^2:
    scaling S0 by f scales them by f^2 (projections and MLPs scale by f)."""
    cfg = data.draw(configs())
    # no prompt: S0 = image tokens; a prompt of (f - 1) S0 tokens makes it f S0
    req = data.draw(requests(cfg, max_prompt=0, max_batch=2))
    s0 = _image_tokens(cfg, req)
    longer = dataclasses.replace(req, prompt_tokens=(factor - 1) * s0)

    def core(r):
        t = stage_records(cfg, r, attention, accounting="report")["prefill"]
        names = t.name.astype(str)
        mask = np.isin(names, ["sdpa", "scores", "softmax", "context"])
        return float(((t.flops_tensor + t.flops_cuda) * t.count)[mask].sum())

    assert math.isclose(core(longer), factor ** 2 * core(req), rel_tol=1e-9)


def _image_tokens(cfg, req):
    return views(cfg, req).image_tokens


@FAST
@given(data=st.data(), extra=st.integers(1, 512))
def test_kv_cache_is_linear_in_context(data, extra):
    cfg = data.draw(configs())
    req = data.draw(requests(cfg))
    d = cfg.decoder
    per_token = 2 * d.layers * d.kv_heads * d.head_dim * cfg.element_bytes
    assert kv_cache_bytes_per_token(cfg) == per_token
    s0 = _image_tokens(cfg, req) + req.prompt_tokens
    c = stage_costs(cfg, req)
    assert c["vision"].kv_cache_bytes == 0
    assert c["prefill"].kv_cache_bytes == req.batch * s0 * per_token
    assert c["decode"].kv_cache_bytes == req.batch * (s0 + req.decode_tokens) * per_token
    more = stage_costs(cfg, dataclasses.replace(req, prompt_tokens=req.prompt_tokens + extra))
    assert more["prefill"].kv_cache_bytes - c["prefill"].kv_cache_bytes == \
        req.batch * extra * per_token


def test_kv_cache_of_the_default_model_is_61440_bytes_per_token():
    # 2 (K, V) x 12 layers x 10 KV heads x 128 head_dim x 2 bytes (issue 8; deepseek-ocr.md)
    assert kv_cache_bytes_per_token(DEFAULT_CONFIG) == 61_440
    req = Request(grid=(2, 3), prompt_tokens=10, decode_tokens=7)
    c = stage_costs(DEFAULT_CONFIG, req)
    assert c["decode"].kv_cache_bytes - c["prefill"].kv_cache_bytes == 7 * 61_440
