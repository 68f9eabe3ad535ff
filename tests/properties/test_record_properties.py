"""Records: every count is non-negative and finite; stage totals are the sums of their records;
tensor-core + CUDA-core FLOPs = total FLOPs, at every level (record, table, stage, objective)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from roofsim.objectives import tpot_requirement, ttft_requirement
from roofsim.records import WORK_FIELDS
from roofsim.workloads.deepseek_ocr import STAGES, stage_costs, stage_records
from strategies import FAST, MEDIUM, configs, gemm_tables, requests

attentions = st.sampled_from(["flash", "normal"])
lm_heads = st.sampled_from(["last", "all"])
accountings = st.sampled_from(["model", "report"])
REL = 1e-12


@st.composite
def workloads(draw):
    cfg = draw(configs())
    return cfg, draw(requests(cfg)), draw(attentions), draw(lm_heads), draw(accountings)


@MEDIUM
@given(w=workloads())
def test_every_record_count_is_finite_and_non_negative(w):
    cfg, req, attention, lm_head, accounting = w
    for stage, table in stage_records(cfg, req, attention, lm_head, accounting).items():
        assert set(table.stage) <= {stage}
        for f in WORK_FIELDS + ("count",):
            col = getattr(table, f)
            assert np.all(np.isfinite(col)), (stage, f)
            assert np.all(col >= 0), (stage, f, table.name[np.argmin(col)], col.min())
        # weights are part of what a launch reads
        assert np.all(table.weight_bytes <= table.bytes_read * (1 + REL))
        # shape parameters, where used, are finite and non-negative too
        used = table.params[~np.isnan(table.params)]
        assert np.all(np.isfinite(used)) and np.all(used >= 0)


@MEDIUM
@given(w=workloads())
def test_stage_totals_are_the_sums_of_their_records(w):
    cfg, req, attention, lm_head, accounting = w
    records = stage_records(cfg, req, attention, lm_head, accounting)
    costs = stage_costs(cfg, req, attention, lm_head, accounting)
    for stage in STAGES:
        recs = records[stage].records()          # one KernelRecord per row, summed in Python
        cost = costs[stage]
        for f in WORK_FIELDS:
            expected = math.fsum(getattr(r, f) * r.count for r in recs)
            assert math.isclose(getattr(cost, f), expected, rel_tol=1e-9, abs_tol=0), (stage, f)
        assert math.isclose(cost.launches, math.fsum(r.count for r in recs), rel_tol=1e-12)
        for f in ("activation_peak_bytes", "kv_cache_bytes"):
            v = getattr(cost, f)
            assert math.isfinite(v) and v >= 0, (stage, f)


@MEDIUM
@given(w=workloads())
def test_tensor_plus_cuda_flops_is_the_total_at_every_level(w):
    cfg, req, attention, lm_head, accounting = w
    records = stage_records(cfg, req, attention, lm_head, accounting)
    costs = stage_costs(cfg, req, attention, lm_head, accounting, records=records)
    for stage in STAGES:
        for r in records[stage].records()[:50]:
            assert r.flops == r.flops_tensor + r.flops_cuda
        t = records[stage].totals()
        assert math.isclose(t["flops"], t["flops_tensor"] + t["flops_cuda"], rel_tol=REL)
        c = costs[stage]
        assert math.isclose(c.flops, c.flops_tensor + c.flops_cuda, rel_tol=REL)
        assert math.isclose(c.as_dict()["flops"], t["flops"], rel_tol=1e-9)
        assert math.isclose(c.io_bytes, c.bytes_read + c.bytes_written, rel_tol=REL)
    ttft = ttft_requirement(costs)
    assert math.isclose(ttft.flops, ttft.flops_tensor + ttft.flops_cuda, rel_tol=1e-9)
    assert math.isclose(ttft.flops, costs["vision"].flops + costs["prefill"].flops, rel_tol=1e-9)
    if req.decode_tokens:
        tpot = tpot_requirement(costs, req.decode_tokens)
        assert math.isclose(tpot.flops, tpot.flops_tensor + tpot.flops_cuda, rel_tol=1e-9)


@FAST
@given(table=gemm_tables())
def test_table_totals_are_count_weighted_sums(table):
    t = table.totals()
    for f in WORK_FIELDS:
        assert math.isclose(t[f], math.fsum(getattr(table, f) * table.count), rel_tol=1e-12)
    assert math.isclose(t["flops"], t["flops_tensor"] + t["flops_cuda"], rel_tol=REL)
    assert t["launches"] == table.count.sum()
    by_kind = table.group_totals("kind")
    for f in WORK_FIELDS:
        assert math.isclose(math.fsum(g[f] for g in by_kind.values()), t[f], rel_tol=1e-9)
