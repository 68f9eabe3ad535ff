"""A profile's SM shares change the SM count on the device that measured them; another device's
fields come in at the target's SM count (roofsim.calibration.profile, _predict)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmark_module import load_benchmark
from roofsim.calibration import load_profile
from roofsim.calibration.profile import SHARE_PHYSICS_PRIOR, CalibrationProfile
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


def test_the_share_prior_is_the_physics_the_prediction_blends_toward(h200, monkeypatch):
    """The physics prior of a companion shape's share (companion_physical_shares, what the
    interpolation is fitted on) is the physical share a prediction of that shape at its
    companion's SM count passes to sm_fraction_at: one share, in training and in prediction."""
    g = h200.groups[("gemm", "bfloat16")]
    rows = np.flatnonzero(g.sm_counts == 16)[:40]
    seen = {}
    real = CalibrationProfile.sm_fraction_at

    def spy(self, group, params, dtype, physical, target_sms):
        seen[group.family] = physical.copy()
        return real(self, group, params, dtype, physical, target_sms)

    monkeypatch.setattr(CalibrationProfile, "sm_fraction_at", spy)
    table = g.companion_table().select(rows)
    h200.predict_launch_s(table, derive_sm_restricted(load_hardware("h200"), 16))
    np.testing.assert_allclose(seen["gemm"], h200.companion_physical_shares(g)[rows],
                               rtol=1e-9, atol=1e-12)
    assert np.all((seen["gemm"] >= 0.0) & (seen["gemm"] <= 1.0))


def test_the_physics_prior_predicts_held_out_companion_shares_better(h200):
    """Leave-one-shape-out over the gemm companions' shares (benchmarks/share_metric_loo.py):
    interpolating the shares' departure from the physics (SHARE_PHYSICS_PRIOR) misses the
    held-out shapes' times by less than interpolating the shares themselves, at 8 SMs and over
    every count."""
    loo = load_benchmark("share_metric_loo")
    g = h200.groups[("gemm", "bfloat16")]
    with_prior = loo.group_share_errors(h200, g, SHARE_PHYSICS_PRIOR)
    without = loo.group_share_errors(h200, g, 0.0)
    ok = np.isfinite(with_prior) & np.isfinite(without)
    assert SHARE_PHYSICS_PRIOR > 0
    assert with_prior[ok].mean() < without[ok].mean()
    eight = ok & (g.sm_counts == 8)
    assert with_prior[eight].mean() < without[eight].mean()
