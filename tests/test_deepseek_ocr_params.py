"""Parameter counts against ../shared/reference/deepseek-ocr.md ('Parameters')."""

import pytest

from roofsim.workloads.deepseek_ocr import load_config, parameter_counts, weight_bytes

CFG = load_config()


def test_parameter_counts_match_the_checkpoint():
    p = parameter_counts(CFG)
    assert p["sam"] == 95_569_152
    assert p["clip"] == 303_177_728
    assert p["projector"] == 2_622_720
    assert p["separators"] == 2_560
    assert p["decoder"] == 2_934_734_080
    assert p["total"] == 3_336_106_240
    assert weight_bytes(CFG) == 6_672_212_480


def test_activated_parameters_per_decoded_token():
    assert parameter_counts(CFG)["activated_per_decoded_token"] == pytest.approx(574.1e6, rel=1e-3)
