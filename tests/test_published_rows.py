"""bench_transfer's rows of gpu-benches' small-kernel curve (issue 11, item 4): each regime's
bandwidths and error are the model's against the curve's, as they claim."""

from __future__ import annotations

import numpy as np
import pytest

from roofsim.calibration import load_profile, published
from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params
from benchmark_module import load_benchmark

@pytest.fixture(scope="module")
def bench_transfer():
    return load_benchmark("bench_transfer")


def _issued(profile, hw, nbytes):
    t = records_from_params("silu", {"numel": list(nbytes / 8.0)}, "float32")
    tim = simulate(t, hw, profile, launch_mode="cuda_graph")
    return tim.launch_time_s + tim.node_gap_s


def test_a_curve_the_model_predicts_exactly_scores_zero(bench_transfer):
    profile = load_profile(data_dir("calibration") / "h200")
    hw = load_hardware("a100-sxm-80gb")
    nbytes = np.geomspace(2**20, 2e9, 40)
    exact = published.Curve("a100_80", "gpu-small-kernels", "graph", nbytes,
                            nbytes / _issued(profile, hw, nbytes), "test")
    rows = bench_transfer.small_kernel_rows({d: profile for d in bench_transfer.DEVICES},
                                            {"a100_80": exact})
    assert {r["target"] for r in rows} == {"a100-sxm-80gb"}
    assert len(rows) == 2 * len(bench_transfer.DEVICES)       # the DRAM and L2 regimes
    for r in rows:
        assert r["error"] == pytest.approx(0.0, abs=1e-12)
        assert r["predicted"] == pytest.approx(r["measured"], rel=1e-12)
    # a GPU measured twice as fast as predicted: -50 % (throughput, as the MAMF rows)
    fast = published.Curve("a100_80", "gpu-small-kernels", "graph", nbytes,
                           2 * exact.bandwidth, "test")
    for r in bench_transfer.small_kernel_rows({d: profile for d in bench_transfer.DEVICES},
                                              {"a100_80": fast}):
        assert r["error"] == pytest.approx(-0.5, rel=1e-9)


def test_gpus_without_a_spec_are_left_out(bench_transfer):
    profile = load_profile(data_dir("calibration") / "h200")
    nbytes = np.geomspace(2**20, 2e9, 40)
    curve = published.Curve("l40", "gpu-small-kernels", "graph", nbytes, nbytes / 1e-5, "t")
    assert published.spec_id("l40") is None
    assert bench_transfer.small_kernel_rows({d: profile for d in bench_transfer.DEVICES},
                                            {"l40": curve}) == []
