"""The committed end-to-end measurements (calibration/h200/e2e and calibration/h100-sxm/e2e,
issue 7) and how the prediction compares with them. The measurements are a test set: nothing
is fitted to them."""

import csv
import gzip
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from roofsim.errors import UserError
from roofsim.hardware import load_hardware
from roofsim.e2e import TARGET_ERROR, compare_e2e, load_e2e
from roofsim.workloads import deepseek_ocr as ds

ROOT = Path(__file__).resolve().parents[1]
E2E = ROOT / "calibration" / "h200" / "e2e"
GRIDS = ("1x2", "2x2", "2x3", "3x3", "4x5", "5x6", "6x10", "8x10", "10x10")
STATE = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "temp_c", "throttle")


@pytest.fixture(scope="module")
def measured():
    return load_e2e(E2E)


def _by(rows, stage):
    return sorted((r for r in rows if r["stage"] == stage), key=lambda r: int(r["image_tokens"]))


def test_every_grid_and_stage_was_measured_on_an_h200_with_provenance(measured):
    rows, prov = measured
    assert {(r["grid"], r["stage"]) for r in rows} == {(g, s) for g in GRIDS
                                                      for s in ("vision", "prefill", "decode")}
    assert all(r["status"] == "ok" for r in rows)
    assert prov["device_id"] == "h200" and "H200" in prov["device_before"]["name"]
    for key in ("driver", "max_sm_clock_mhz", "power_limit_w"):
        assert prov["device_before"][key] not in ("", None)
    assert prov["torch"] and prov["transformers"] and prov["command"]
    for r in rows:
        assert all(r[f] != "" for f in STATE)


def test_image_tokens_are_the_models(measured):
    cfg = ds.load_config()
    for r in measured[0]:
        grid = (int(r["rows"]), int(r["cols"]))
        assert int(r["image_tokens"]) == ds.image_tokens(cfg, "gundam", grid)
        if r["stage"] == "decode":
            assert int(r["kv_len"]) == int(r["image_tokens"]) + int(r["prompt_tokens"])


def test_kernel_time_is_within_wall_time_and_its_spread(measured):
    for r in measured[0]:
        k, lo, hi = float(r["kernel_s"]), float(r["kernel_min_s"]), float(r["kernel_max_s"])
        assert 0 < lo <= k <= hi <= 1.05 * lo       # three profiled forwards agree
        assert k <= float(r["wall_median_s"])        # one stream: kernels fit in the wall time
        assert int(r["kernel_count"]) > 0


def test_more_image_tokens_cost_more_kernel_time(measured):
    rows = measured[0]
    for stage in ("vision", "prefill", "decode"):
        t = [float(r["kernel_s"]) for r in _by(rows, stage)]
        assert all(b > a for a, b in zip(t, t[1:])), stage


def test_the_kernel_list_adds_up_to_the_rows(measured):
    sums = defaultdict(lambda: [0.0, 0])
    with gzip.open(E2E / "kernels.csv.gz", "rt", newline="") as f:
        for k in csv.DictReader(f):
            if k["category"] == "kernel":
                s = sums[(k["grid"], k["stage"])]
                s[0] += float(k["duration_s"])
                s[1] += 1
    for r in measured[0]:
        total, n = sums[(r["grid"], r["stage"])]
        assert n == int(r["kernel_count"])
        assert float(r["kernel_min_s"]) * 0.999 <= total <= float(r["kernel_max_s"]) * 1.001


# ---- predicted vs measured -------------------------------------------------------------------

pytest.importorskip("transformers")
CHECK_GRIDS = ("1x2", "4x5", "10x10")   # small, middle, largest: keeps the captures quick


@pytest.fixture(scope="module")
def comparisons(measured):
    from roofsim.calibration.fit import fit_profile
    from roofsim.calibration.measurements import read_measurements
    from roofsim.calibration.profile import load_profile
    hw = load_hardware("h200")
    try:
        profile = load_profile(ROOT / "calibration" / "h200")
    except UserError:        # no fitted profile committed (or an older format): fit one here
        profile = fit_profile(read_measurements(ROOT / "calibration" / "h200" / "measurements.csv"),
                              hw, device_name="NVIDIA H200", ident="h200")
    return {(c.grid, c.stage): c for c in compare_e2e(measured[0], hw, profile,
                                                      grids=set(CHECK_GRIDS))}


def test_prediction_covers_every_checked_row(comparisons):
    assert set(comparisons) == {(g, s) for g in CHECK_GRIDS for s in ("vision", "prefill", "decode")}
    for c in comparisons.values():
        assert np.isfinite(c.error) and c.predicted_s > 0


# H200 decode step: 13..18% over until calibration's per-launch times (a CUDA-graph replay / R,
# each node's gap included) were turned into kernel durations with the measured graph gap
# (calibration/h200/gap/, roofsim.engine.simulate): the profiler's durations exclude it.
def test_decode_step_is_within_the_target(comparisons):
    errors = {g: comparisons[(g, "decode")].error for g in CHECK_GRIDS}
    assert all(abs(e) <= TARGET_ERROR for e in errors.values()), errors


def test_decode_step_kernel_count_is_the_captured_one_within_the_multi_kernel_ops(comparisons):
    # Sort, top-k and grouped GEMM launch several kernels per op; the rest are one each.
    for g in CHECK_GRIDS:
        c = comparisons[(g, "decode")]
        assert c.predicted_launches <= c.measured_kernels <= 1.25 * c.predicted_launches


@pytest.mark.parametrize("stage", ["vision", "prefill"])
def test_vision_and_prefill_are_within_the_target(comparisons, stage):
    errors = {g: comparisons[(g, stage)].error for g in CHECK_GRIDS}
    assert all(abs(e) <= TARGET_ERROR for e in errors.values()), errors


# ---- H100 SXM (calibration/h100-sxm/e2e: measured with the strided suite timed) ----------------

E2E_H100 = ROOT / "calibration" / "h100-sxm" / "e2e"
# Where the H100 prediction stands (benchmarks/bench_e2e_accuracy.py --device h100-sxm, from
# kernel-level calibration alone, the strided suite incl. transposed operands timed): every
# stage within the 15% target at every grid (worst: vision -5.3%, prefill +13.8%, decode
# +11.4%). Prefill's over-prediction grows with length: MoE row gathers are calibrated as
# single-element gathers (see the closing note of issue 7).


@pytest.fixture(scope="module")
def measured_h100():
    return load_e2e(E2E_H100)


@pytest.fixture(scope="module")
def comparisons_h100(measured_h100):
    from roofsim.calibration.profile import load_profile
    hw = load_hardware("h100-sxm")
    profile = load_profile(ROOT / "calibration" / "h100-sxm")
    return {(c.grid, c.stage): c for c in compare_e2e(measured_h100[0], hw, profile,
                                                      grids=set(CHECK_GRIDS))}


def test_h100_measurements_cover_every_grid_and_stage_with_provenance(measured_h100):
    rows, prov = measured_h100
    assert {(r["grid"], r["stage"]) for r in rows} == {(g, s) for g in GRIDS
                                                      for s in ("vision", "prefill", "decode")}
    assert all(r["status"] == "ok" for r in rows)
    assert prov["device_id"] == "h100-sxm" and "H100" in prov["device_before"]["name"]
    assert prov["torch"] and prov["transformers"] and prov["command"]


@pytest.mark.parametrize("stage", ["vision", "prefill", "decode"])
def test_h100_every_stage_is_within_the_target(comparisons_h100, stage):
    errors = {g: comparisons_h100[(g, stage)].error for g in CHECK_GRIDS}
    assert all(abs(e) <= TARGET_ERROR for e in errors.values()), errors


def test_process_walls_reads_every_other_process_and_skips_failed_rows(tmp_path):
    from roofsim.e2e import process_walls
    header = "grid,stage,status,wall_median_s\n"
    (tmp_path / "e2e.csv").write_text(header + "1x2,decode,ok,0.020\n")
    for i, (wall, status) in enumerate(((0.030, "ok"), (0.025, "ok"), (0.9, "error")), 2):
        d = tmp_path / f"process{i}"
        d.mkdir()
        (d / "e2e.csv").write_text(header + f"1x2,decode,{status},{wall}\n")
    (tmp_path / "process9").mkdir()                     # a process folder without a file
    walls = process_walls(tmp_path, lambda r: (r["grid"], r["stage"]))
    assert walls == {("1x2", "decode"): [0.030, 0.025]}
    assert process_walls(tmp_path / "process2", lambda r: r["grid"]) == {}


def test_process_walls_reads_another_value_and_skips_rows_without_it(tmp_path):
    from roofsim.e2e import process_walls, row_probe
    header = "grid,stage,status,wall_median_s,host_probe_s\n"
    for i, probe in enumerate(("8e-06", "", "1.2e-05"), 2):
        d = tmp_path / f"process{i}"
        d.mkdir()
        (d / "e2e.csv").write_text(header + f"1x2,decode,ok,0.02,{probe}\n")
    probes = process_walls(tmp_path, lambda r: r["grid"], value=row_probe)
    assert probes == {"1x2": [8e-06, 1.2e-05]}
    assert process_walls(tmp_path, lambda r: r["grid"]) == {"1x2": [0.02, 0.02, 0.02]}
