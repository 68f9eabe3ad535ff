"""Objectives: required TFLOP/s and bandwidth for TTFT / TPOT budgets, predicted latency."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from roofsim.engine import simulate
from roofsim.hardware import load_hardware
from roofsim.objectives import (Budgets, predict_latency, tpot_requirement, ttft_requirement)
from roofsim.records import RecordTable, StageCost

SPEC_TABLES = json.loads((Path(__file__).parent / "data" / "spec_tables.json").read_text())


def cost(stage, flops_tensor=0.0, flops_cuda=0.0, bytes_read=0.0, bytes_written=0.0,
         weight_bytes=0.0):
    return StageCost(stage=stage, flops_tensor=flops_tensor, flops_cuda=flops_cuda,
                     bytes_read=bytes_read, bytes_written=bytes_written,
                     weight_bytes=weight_bytes, activation_peak_bytes=0.0, kv_cache_bytes=0.0,
                     launches=1.0)


def test_ttft_requirement_reproduces_the_specification_table():
    """The spec's TTFT table is its vision+prefill FLOPs (tensor + CUDA) over the 1.0 s budget."""
    split = SPEC_TABLES["sweeps"]["vision_prefill"]
    required = SPEC_TABLES["ttft_required_tflops"]
    assert len(split) == len(required) == 47
    for row, want in zip(split, required):
        assert row["grid"] == want["grid"]
        # The spec's split table is vision + prefill; put it all in one stage.
        costs = {"vision": cost("vision", row["tensor_tflops"] * 1e12, row["cuda_tflops"] * 1e12),
                 "prefill": cost("prefill")}
        got = ttft_requirement(costs, 1.0).flops_per_s / 1e12
        assert f"{got:.3f}" == f"{want['tflops_per_s']:.3f}"


def test_tpot_requirement_reproduces_the_specification_table():
    """The spec's TPOT column is decode FLOPs over K tokens / 0.05 s per token."""
    split = SPEC_TABLES["sweeps"]["decode"]
    required = SPEC_TABLES["tpot_required_tflops"]
    for row, want in zip(split, required):
        k = want["decode_steps"]
        costs = {"decode": cost("decode", row["tensor_tflops"] * 1e12, row["cuda_tflops"] * 1e12)}
        got = tpot_requirement(costs, k, 0.05).flops_per_s / 1e12
        assert f"{got:.3f}" == f"{want['tflops_per_s']:.3f}"


def test_bandwidth_requirement_counts_weights_and_splits_activations():
    costs = {"vision": cost("vision", 1e12, 0, bytes_read=3e9, bytes_written=1e9, weight_bytes=2e9),
             "prefill": cost("prefill", 2e12, 1e9, bytes_read=5e9, bytes_written=1e9,
                             weight_bytes=4e9),
             "decode": cost("decode", 1e11, 0, bytes_read=8e11, bytes_written=1e9,
                            weight_bytes=7e11)}
    t = ttft_requirement(costs, 0.5)
    assert t.bytes_per_s == pytest.approx((3e9 + 1e9 + 5e9 + 1e9) / 0.5)
    assert t.activation_bytes_per_s == pytest.approx((10e9 - 6e9) / 0.5)
    assert t.flops_per_s == pytest.approx((3e12 + 1e9) / 0.5)
    p = tpot_requirement(costs, 100, 0.05)
    assert p.bytes_per_s == pytest.approx((8e11 + 1e9) / 100 / 0.05)
    assert p.tensor_flops_per_s == pytest.approx(1e11 / 100 / 0.05)


def test_bad_budgets_and_k_fail_early():
    with pytest.raises(ValueError, match="ttft_s"):
        Budgets(ttft_s=0)
    with pytest.raises(ValueError, match="tpot_s"):
        Budgets(tpot_s=float("nan"))
    with pytest.raises(ValueError, match="decode_tokens"):
        tpot_requirement({"decode": cost("decode")}, 0)
    with pytest.raises(KeyError, match="prefill"):
        ttft_requirement({"vision": cost("vision")})


def _table(stage, **work):
    return RecordTable.from_columns(2, kind="gemm", name=np.array(["a", "b"], dtype=object),
                                    stage=stage, **work)


def test_predicted_latency_is_the_engine_sum_with_its_dominant_bound():
    hw = load_hardware("rtx-5090")
    records = {
        # vision: tensor-heavy; prefill: tensor-heavy; decode: memory-heavy (weights)
        "vision": _table("vision", flops_tensor=np.array([4e12, 1e9]), bytes_read=1e6),
        "prefill": _table("prefill", flops_tensor=np.array([1e12, 1e9]), bytes_read=1e6),
        "decode": _table("decode", flops_tensor=1e9, bytes_read=np.array([5e9, 1e9]),
                         weight_bytes=np.array([5e9, 1e9]), count=100.0),
    }
    p = predict_latency(records, hw, decode_tokens=100)
    want = {s: simulate(t, hw).total_s for s, t in records.items()}
    assert p.ttft_s == pytest.approx(want["vision"] + want["prefill"])
    assert p.tpot_s == pytest.approx(want["decode"] / 100)
    assert p.ttft_bound == "tensor"
    assert p.tpot_bound == "memory"
    assert p.meets(Budgets(ttft_s=p.ttft_s * 1.01, tpot_s=p.tpot_s * 0.99)) == {
        "ttft": True, "tpot": False}
    assert p.calibrated_fraction == 0.0
    assert p.as_dict()["ttft_s"] == pytest.approx(p.ttft_s)


def test_predicted_latency_uses_a_calibration_profile():
    hw = load_hardware("rtx-5090")

    class Slow:
        graph_gap_s = 0.0

        def predict_launch_s(self, table, hardware, resident=None):
            return np.full(len(table), 1.0)     # one second per launch, everywhere

    records = {s: _table(s, flops_tensor=1e9) for s in ("vision", "prefill", "decode")}
    p = predict_latency(records, hw, decode_tokens=2, profile=Slow())
    assert p.ttft_s == pytest.approx(4.0)
    assert p.tpot_s == pytest.approx(1.0)
    assert p.calibrated_fraction == pytest.approx(1.0)
