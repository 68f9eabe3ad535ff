"""A profile's SM shares change the SM count on the device that measured them; another device's
fields come in at the target's SM count (roofsim.calibration.profile, _predict)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from roofsim.calibration import load_profile
from roofsim.calibration.profile import CalibrationProfile
from roofsim.hardware import derive_sm_restricted, load_hardware, spec_to_dict
from roofsim.kernels import records_from_params

CAL = Path(__file__).resolve().parents[1] / "calibration"
NAMING = ("id", "name", "sources", "notes", "path")


@pytest.fixture(scope="module")
def h200():
    return load_profile(CAL / "h200")


@pytest.mark.parametrize("sms", [8, 20, 66, 131])
def test_the_device_at_its_own_restriction_is_that_restriction(sms):
    """On the device's own restrictions the device term is 1: source_at builds the spec
    roofsim hardware derive builds, but for its name."""
    hw = load_hardware("h200")
    target = derive_sm_restricted(hw, sms)
    a, b = spec_to_dict(CalibrationProfile.source_at(hw, target)), spec_to_dict(target)
    for k in NAMING:
        a.pop(k, None), b.pop(k, None)
    assert a == b


def test_a_slower_hbm_does_not_slow_a_launch_its_few_sms_bind(h200):
    """A large bf16 add on 8 SMs is bound by the bytes its SMs keep in flight (the H200's
    companions timed it so: calibration/h200-sm8); the chip's HBM binds only its whole-chip
    time. The same chip with 0.7x the HBM bandwidth (an H100's ratio) is then as fast on 8 SMs,
    and slower on all of them."""
    hw = load_hardware("h200")
    slow = replace(hw, id="h200-slow-hbm", mem_bandwidth_gbps=0.7 * hw.mem_bandwidth_gbps)
    table = records_from_params("elementwise", {"numel": [2 ** 28]}, "bfloat16")
    few = [h200.predict_launch_s(table, derive_sm_restricted(h, 8))[0] for h in (hw, slow)]
    whole = [h200.predict_launch_s(table, h)[0] for h in (hw, slow)]
    assert whole[1] / whole[0] > 1.25
    assert few[1] / few[0] == pytest.approx(1.0, abs=0.05)


def test_a_faster_device_at_the_same_sms_is_never_slower(h200):
    """Every field of the target moves the time through the device term's physics: more HBM
    bandwidth, a higher clock or a lower latency never slows a launch on fewer SMs."""
    hw = load_hardware("h200")
    table = records_from_params("linear", {"m": [1, 64, 4096], "n": [4096] * 3,
                                           "k": [4096] * 3}, "bfloat16")
    base = h200.predict_launch_s(table, derive_sm_restricted(hw, 16))
    for faster in (replace(hw, id="x", mem_bandwidth_gbps=1.5 * hw.mem_bandwidth_gbps),
                   replace(hw, id="x", mem_latency_ns=0.7 * hw.mem_latency_ns),
                   replace(hw, id="x", sm_mem_bandwidth_gbps=1.3 * hw.sm_mem_bandwidth_gbps)):
        t = h200.predict_launch_s(table, derive_sm_restricted(faster, 16))
        assert np.all(t <= base * (1 + 1e-9))
