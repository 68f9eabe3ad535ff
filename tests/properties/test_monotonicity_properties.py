"""Monotonicity: more crops, prompt tokens, decode steps or requests never cost less (work,
memory, predicted time); predicted time never rises when a roof rises or the launch overhead
falls; required throughput x budget = the work inside the budget."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roofsim.objectives import predict_latency, tpot_requirement, ttft_requirement
from roofsim.workloads.deepseek_ocr import STAGES, Request, stage_costs, stage_records
from strategies import (DEFAULT_CONFIG, GUNDAM, MEDIUM, configs, faster_spec_pairs, hardware_specs,
                        requests)

REL = 1e-9
COST_FIELDS = ("flops_tensor", "flops_cuda", "bytes_read", "bytes_written", "weight_bytes",
               "activation_peak_bytes", "kv_cache_bytes", "launches")
attentions = st.sampled_from(["flash", "normal"])
accountings = st.sampled_from(["model", "report"])


GROWTHS = ("crops", "prompt", "decode", "batch")


@st.composite
def grown_requests(draw, what=None):
    """(config, request, the same request with one more crop row or column, more prompt
    tokens, more decode steps or more requests in the batch, what grew)."""
    cfg = draw(configs())
    what = what or draw(st.sampled_from(GROWTHS))
    req = draw(requests(cfg, mode=GUNDAM if what == "crops" else None))
    step = draw(st.integers(1, 64))
    if what == "crops":
        rows, cols = req.grid or (1, 1)
        grid = draw(st.sampled_from([(rows + 1, cols), (rows, cols + 1)]))
        return cfg, req, dataclasses.replace(req, grid=grid), what
    if what == "prompt":
        return cfg, req, dataclasses.replace(req, prompt_tokens=req.prompt_tokens + step), what
    if what == "decode":
        return cfg, req, dataclasses.replace(req, decode_tokens=req.decode_tokens + step), what
    return cfg, req, dataclasses.replace(req, batch=req.batch + draw(st.integers(1, 3))), what


@pytest.mark.parametrize("what", GROWTHS)
@MEDIUM
@given(data=st.data(), attention=attentions, accounting=accountings)
def test_more_crops_tokens_or_steps_never_cost_less(what, data, attention, accounting):
    cfg, small, large, what = data.draw(grown_requests(what))
    a = stage_costs(cfg, small, attention, accounting=accounting)
    b = stage_costs(cfg, large, attention, accounting=accounting)
    for stage in STAGES:
        for f in COST_FIELDS:
            assert getattr(b[stage], f) >= getattr(a[stage], f) * (1 - REL), (what, stage, f)


@MEDIUM
@given(w=grown_requests(), spec=hardware_specs(), mode=st.sampled_from(["cuda_graph", "stream"]))
def test_more_crops_tokens_or_steps_never_take_less_time(w, spec, mode):
    cfg, small, large, what = w
    from roofsim.engine import simulate
    ra, rb = stage_records(cfg, small), stage_records(cfg, large)
    for stage in STAGES:
        ta = simulate(ra[stage], spec, launch_mode=mode).total_s
        tb = simulate(rb[stage], spec, launch_mode=mode).total_s
        assert tb >= ta * (1 - REL), (what, stage)


@MEDIUM
@given(data=st.data(), pair=faster_spec_pairs(), attention=attentions)
def test_predicted_latency_never_rises_when_a_roof_rises(data, pair, attention):
    slow, fast, which = pair
    cfg = data.draw(configs())
    req = data.draw(requests(cfg))
    records = stage_records(cfg, req, attention)
    k = max(req.decode_tokens, 1)
    before, after = predict_latency(records, slow, k), predict_latency(records, fast, k)
    for stage in STAGES:
        assert after.stage_s[stage] <= before.stage_s[stage] * (1 + REL), (which, stage)
    assert after.ttft_s <= before.ttft_s * (1 + REL), which
    assert after.tpot_s <= before.tpot_s * (1 + REL), which


@MEDIUM
@given(data=st.data(), ttft=st.floats(1e-4, 1e3), tpot=st.floats(1e-5, 10.0),
       attention=attentions)
def test_required_throughput_times_budget_is_the_work(data, ttft, tpot, attention):
    cfg = data.draw(configs())
    req = data.draw(requests(cfg))
    costs = stage_costs(cfg, req, attention)
    need = ttft_requirement(costs, ttft)
    work = costs["vision"].flops + costs["prefill"].flops
    assert math.isclose(need.flops_per_s * ttft, work, rel_tol=REL)
    assert math.isclose((need.tensor_flops_per_s + need.cuda_flops_per_s) * ttft, work,
                        rel_tol=REL)
    assert math.isclose(need.bytes_per_s * ttft,
                        costs["vision"].io_bytes + costs["prefill"].io_bytes, rel_tol=REL)
    # a tighter budget never asks for less
    assert ttft_requirement(costs, ttft / 2).flops_per_s >= need.flops_per_s
    if req.decode_tokens:
        per_token = tpot_requirement(costs, req.decode_tokens, tpot)
        assert math.isclose(per_token.flops_per_s * tpot * req.decode_tokens,
                            costs["decode"].flops, rel_tol=REL)
        assert math.isclose(per_token.bytes_per_s * tpot * req.decode_tokens,
                            costs["decode"].io_bytes, rel_tol=REL)


@MEDIUM
@given(grid=st.tuples(st.integers(1, 10), st.integers(1, 10)))
def test_required_ttft_throughput_grows_with_the_crop_grid(grid):
    """The specification's table (required TFLOP/s vs crop grid, 1 s TTFT) is monotone."""
    rows, cols = grid
    base = ttft_requirement(stage_costs(DEFAULT_CONFIG, Request(grid=grid))).flops_per_s
    for bigger in ((rows + 1, cols), (rows, cols + 1)):
        assert ttft_requirement(stage_costs(DEFAULT_CONFIG, Request(grid=bigger))).flops_per_s \
            >= base
