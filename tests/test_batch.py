"""Batched requests: per-request latency and token throughput of `predict --batch`."""

from __future__ import annotations

import json

import pytest

from roofsim.cli import main
from roofsim.hardware import load_hardware
from roofsim.predict import predict


@pytest.fixture(scope="module")
def h200():
    return load_hardware("h200")


def test_throughput_is_batch_tokens_over_latency(h200):
    p = predict((1, 2), prompt_tokens=16, decode_tokens=8, hardware=h200,
                implementation="flash", batch=4)
    assert p.latency_s == pytest.approx(p.ttft_s + 8 * p.tpot_s)
    assert p.throughput_tokens_per_s == pytest.approx(4 * 8 / p.latency_s)
    assert p.decode_throughput_tokens_per_s == pytest.approx(4 / p.tpot_s)


def test_batching_raises_throughput_and_costs_tpot(h200):
    one, many = (predict((1, 2), prompt_tokens=16, decode_tokens=8, hardware=h200,
                         implementation="flash", batch=b) for b in (1, 16))
    assert many.tpot_s > one.tpot_s                       # a step over more rows costs more
    assert many.tpot_s < 16 * one.tpot_s                  # ... but far less than B steps
    assert many.decode_throughput_tokens_per_s > 4 * one.decode_throughput_tokens_per_s


def test_predict_json_has_throughput_and_latency(capsys):
    assert main(["predict", "--implementation", "flash", "--batch", "4", "--decode-tokens", "4",
                 "--grid", "1x2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["batch"] == 4
    assert out["throughput_tokens_per_s"] == pytest.approx(4 * 4 / out["latency_s"])
    assert out["decode_throughput_tokens_per_s"] == pytest.approx(4 / out["tpot_s"])


def test_no_decode_means_no_generated_tokens(h200):
    p = predict((1, 2), prompt_tokens=16, decode_tokens=0, hardware=h200, implementation="flash")
    assert p.throughput_tokens_per_s == 0 and p.decode_throughput_tokens_per_s is None
