"""The DeepSeek-OCR reference at batch B: prefill and decode captured with B sequences on meta,
the vision stage run once per image (B requests: B times)."""

from __future__ import annotations

import numpy as np
import pytest

from roofsim.predict import request_for
from roofsim.reference.stages import case_config
from roofsim.workloads import workload

B = 4


@pytest.fixture(scope="module")
def records():
    wl = workload(None, "reference")
    return {b: wl.stage_records(request_for(wl, (1, 2), 16, 3, b)) for b in (1, B)}


def _flops(t):
    return t.total("flops_tensor") + t.total("flops_cuda")


def test_batch_one_keeps_its_capture_key_and_a_batch_gets_its_own():
    assert "batch" not in case_config("prefill", seq_len=100)
    assert case_config("decode", kv_len=100, batch=B)["batch"] == B


@pytest.mark.parametrize("stage", ["prefill", "decode"])
def test_decoder_work_is_b_times_with_weights_read_once(records, stage):
    one, many = records[1].table(stage), records[B].table(stage)
    assert many.total("flops_tensor") == pytest.approx(B * one.total("flops_tensor"), rel=1e-12)
    assert _flops(many) == pytest.approx(B * _flops(one), rel=1e-4)
    dense = [t.select((t.weight_bytes > 0) & (t.kind != "grouped_gemm")) for t in (one, many)]
    assert dense[0].total("weight_bytes") > 0
    assert dense[1].total("weight_bytes") == dense[0].total("weight_bytes")   # read once


def test_prefill_reads_every_expert_once_and_decode_more_experts_for_more_rows(records):
    for stage, grows in (("prefill", False), ("decode", True)):
        w1, wb = (records[b].table(stage).total("weight_bytes") for b in (1, B))
        assert (wb > w1) if grows else (wb == w1), stage


def test_vision_runs_once_per_image(records):
    one, many = records[1].table("vision"), records[B].table("vision")
    assert np.array_equal(many.count, B * one.count)
    assert _flops(many) == pytest.approx(B * _flops(one))


def test_the_reference_sweep_source_takes_a_batch():
    from roofsim.reference.source import ReferenceSource
    from roofsim.workloads.deepseek_ocr import Request
    src = ReferenceSource(fit=False)
    one, two = (src.evaluate(Request(grid=(1, 2), prompt_tokens=16, decode_tokens=2, batch=b))
                for b in (1, 2))
    for s in ("vision", "prefill", "decode"):
        assert two.costs[s].flops == pytest.approx(2 * one.costs[s].flops, rel=1e-4), s
    assert two.costs["decode"].kv_cache_bytes == 2 * one.costs["decode"].kv_cache_bytes
