"""Weights + KV cache + activation peak (roofsim.memory.MemoryFit): the largest batch and context
that fit, the part that overflows, and `predict --json`'s memory figures."""

from __future__ import annotations

import json

import pytest

from roofsim.activations import peak_working_set, working_set
from roofsim.cli import main
from roofsim.memory import MemoryFit, activation_peak_bytes
from roofsim.predict import request_for, stage_records
from roofsim.records import RecordTable
from roofsim.workloads import workload

GB = 1e9


def _table(read, written, weights):
    return RecordTable.from_columns(len(read), kind="gemm", name="x", bytes_read=read,
                                    bytes_written=written, weight_bytes=weights)


def test_working_set_leaves_weights_out_and_peak_is_the_largest_launch():
    t = _table([10.0, 100.0, 5.0], [1.0, 2.0, 50.0], [0.0, 90.0, 0.0])
    assert list(working_set(t)) == [11.0, 12.0, 55.0]
    assert peak_working_set([t, RecordTable.empty()]) == 55.0
    assert peak_working_set([]) == 0.0


def test_largest_batch_and_context_fill_the_memory():
    fit = MemoryFit(weight_bytes=40 * GB, kv_bytes=8 * GB, activation_peak_bytes=2 * GB,
                    capacity_bytes=100 * GB, batch=4, positions=1000)
    assert fit.total == 50 * GB and fit.overflow() is None
    assert fit.max_batch == 24                  # 60 GB free / 2.5 GB per sequence
    assert fit.max_context == 6000              # 60 GB free / 10 MB per position (batch 4)
    at_max = MemoryFit(40 * GB, 8 * GB * 24 / 4, 2 * GB * 24 / 4, 100 * GB, 24, 1000)
    assert at_max.overflow() is None
    over = MemoryFit(40 * GB, 8 * GB * 25 / 4, 2 * GB * 25 / 4, 100 * GB, 25, 1000)
    assert over.overflow() is not None


def test_overflow_names_the_part_that_crosses_the_capacity():
    assert MemoryFit(120 * GB, 1 * GB, 1 * GB, 100 * GB, 1, 10).overflow() == \
        ("weights", pytest.approx(20 * GB))
    assert MemoryFit(60 * GB, 50 * GB, 1 * GB, 100 * GB, 1, 10).overflow() == \
        ("KV cache", pytest.approx(10 * GB))
    assert MemoryFit(60 * GB, 30 * GB, 15 * GB, 100 * GB, 1, 10).overflow() == \
        ("activation peak", pytest.approx(5 * GB))


def test_analytic_activation_peak_is_cost_s_and_captured_the_largest_launch():
    from roofsim.workloads.deepseek_ocr import Request, load_config, stage_costs
    flash = workload(None, "flash")
    req = request_for(flash, (1, 2), 16, 4, batch=2)
    recs = flash.stage_records(req)
    costs = stage_costs(load_config(), Request(grid=(1, 2), prompt_tokens=16, decode_tokens=4,
                                               batch=2), attention="flash", lm_head="last")
    assert activation_peak_bytes(flash, req, recs) == \
        max(c.activation_peak_bytes for c in costs.values())
    ref = workload(None, "reference")
    rreq = request_for(ref, (1, 2), 16, 4)
    rrecs = ref.stage_records(rreq)
    assert activation_peak_bytes(ref, rreq, rrecs) == \
        peak_working_set(t for s in rrecs.stages for t, _ in rrecs.parts[s]) > 0


def test_predict_json_reports_memory(capsys):
    assert main(["predict", "--grid", "1x2", "--prompt-tokens", "16", "--decode-tokens", "4",
                 "--batch", "8", "--hardware", "h200", "--implementation", "flash",
                 "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["memory"]
    assert m["total_gb"] == pytest.approx(m["weights_gb"] + m["kv_cache_gb"]
                                          + m["activation_peak_gb"])
    assert m["capacity_gb"] == 141 and m["activation_peak_gb"] > 0
    assert m["max_batch"] > 8 and m["max_context"] > 16


def test_predict_names_the_activation_overflow(capsys):
    assert main(["predict", "--grid", "1x1", "--prompt-tokens", "7000", "--decode-tokens",
                 "10", "--batch", "64", "--hardware", "h200", "--implementation", "normal"]) == 2
    err = capsys.readouterr().err
    assert "the activation peak overflows h200's 141 GB by" in err
    assert "at most 52 sequences of 7,283 positions fit" in err
