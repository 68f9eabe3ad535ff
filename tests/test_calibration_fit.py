"""Fitting and prediction on the committed measurements (calibration/<device>/).

The held-out rows (30%, a fixed hash of the case id, stored in the CSV) are never used in a
fit. Accuracy is checked at the level the benchmark reached (each folder's accuracy.json,
written by `roofsim calibrate --fit-only` / benchmarks/bench_calibration_accuracy.py --write)
minus a margin: MARGIN_OVERALL percentage points of MAPE overall, MARGIN_KIND per kind. The fit
is deterministic, so the margins only absorb floating-point differences between machines.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from roofsim.calibration import load_profile
from roofsim.calibration.accuracy import accuracy_table, evaluate
from roofsim.calibration.physfit import fit_kind
from roofsim.calibration.fit import fit_profile, measurement_table, recorded_fit_inputs
from roofsim.calibration.measurements import FIT, HOLDOUT, read_measurements
from roofsim.calibration.profile import profile_from_dict
from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.errors import UserError
from roofsim.hardware import load_hardware
from roofsim.io import read_json, stored_file

MARGIN_OVERALL = 0.5   # MAPE percentage points
MARGIN_KIND = 2.0

CAL = data_dir("calibration")
ROOT = Path(__file__).resolve().parents[1]
DEVICES = sorted(d.name for d in CAL.iterdir() if stored_file(d / "profile.json").is_file()) \
    if CAL.is_dir() else []


def _recorded(device):
    rows = json.loads((CAL / device / "accuracy.json").read_text())["rows"]
    return {r["kind"]: r for r in rows}


def _check_against_record(rows, device):
    recorded = _recorded(device)
    got = {r["kind"]: r for r in rows}
    assert set(got) == set(recorded)
    assert got["overall"]["rows"] == recorded["overall"]["rows"]
    assert got["overall"]["calibrated_mape_pct"] <= \
        recorded["overall"]["calibrated_mape_pct"] + MARGIN_OVERALL
    for kind, r in got.items():
        assert r["calibrated_mape_pct"] <= recorded[kind]["calibrated_mape_pct"] + MARGIN_KIND, kind


H200_INPUTS = recorded_fit_inputs(CAL / "h200")
H200_COMPANIONS = H200_INPUTS.companions


def test_the_h200_profile_records_its_companions_and_further_sets():
    """As calibration/README.md fits it: the 40-, 16- and 8-SM companions (whose times enter
    the kind fit) and more, and the kernel sets that guided changes joined to its rows."""
    assert {40, 16, 8} <= {c.sm_count for c in H200_COMPANIONS}
    assert len(H200_INPUTS.more) >= 1
    own = read_measurements(CAL / "h200" / "measurements.csv")
    assert len(H200_INPUTS.measurements) > len(own)


@pytest.fixture(scope="module")
def h200():
    m = H200_INPUTS.measurements
    hw = load_hardware("h200")
    profile = fit_profile(m.select(m["split"] == FIT), hw, device_name="NVIDIA H200",
                          companions=H200_COMPANIONS)
    return m, hw, profile


def test_both_devices_are_committed():
    assert {"h100-sxm", "h200"} <= set(DEVICES)


def test_refit_h200_reaches_the_recorded_held_out_accuracy(h200):
    m, hw, profile = h200
    rows = accuracy_table(evaluate(m.select(m["split"] == HOLDOUT), profile, hw))
    _check_against_record(rows, "h200")
    overall = rows[-1]
    # Calibration is what the issue asks for: far better than datasheet roofs on these rows.
    assert overall["calibrated_mape_pct"] < overall["roofline_mape_pct"] / 3


def test_committed_h200_profile_is_what_the_fit_gives(h200):
    m, hw, refit = h200
    committed = load_profile(CAL / "h200")
    table = measurement_table(m.select(m.stable))
    a = committed.predict_launch_s(table, hw)
    b = refit.predict_launch_s(table, hw)
    np.testing.assert_allclose(a, b, rtol=1e-9)


def _refit_moved(h200, relative: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions on every stable row of the committed profile's refit, and of a refit on
    kernel times moved by `relative` noise (what another BLAS or CPU changes)."""
    from roofsim.calibration.measurements import Measurements
    m, hw, refit = h200
    rows = m.select(m["split"] == FIT)
    cols = dict(rows.columns)
    cols["kernel_s"] = cols["kernel_s"] * (
        1.0 + relative * np.random.default_rng(seed).standard_normal(len(rows)))
    moved = fit_profile(Measurements(cols, rows.path), hw, device_name="NVIDIA H200",
                        companions=H200_COMPANIONS)
    table = measurement_table(m.select(m.stable))
    return moved.predict_launch_s(table, hw), refit.predict_launch_s(table, hw)


def test_the_fit_is_continuous_in_its_inputs(h200):
    """What another BLAS or CPU changes (the last bits of the inputs) moves no prediction by
    more than 1e-9 (issue 11 item 5): the fit makes no discrete choice that such a change could
    flip, and its answer is where the exact gradient vanishes (physfit._polish), not where the
    optimizer's cost test stopped (that varied by about 1e-7)."""
    moved, refit = _refit_moved(h200, 1e-13, seed=1)
    np.testing.assert_allclose(moved, refit, rtol=1e-9)


def test_the_fit_is_reproducible_to_1e9(h200):
    moved, refit = _refit_moved(h200, 1e-15, seed=2)
    np.testing.assert_allclose(moved, refit, rtol=1e-9)


def test_another_blas_kernel_gives_the_same_profile(h200, tmp_path):
    """The fit in a process whose OpenBLAS runs its most basic kernels (OPENBLAS_CORETYPE:
    other summation orders, as another CPU picks) predicts what this one's does, to 1e-9. Before
    the polish, this moved predictions by 1.2e-7 and failed the committed-profile test on a
    machine other than the one that wrote the profile. The process is
    benchmarks/fit_determinism.py, which fits the H200 as the fixture does."""
    import os
    import subprocess
    import sys
    m, hw, refit = h200
    out = tmp_path / "p.npz"
    env = dict(os.environ, OPENBLAS_CORETYPE="Prescott")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fit_determinism.py"),
                    "--save", str(out)], check=True, env=env, capture_output=True)
    table = measurement_table(m.select(m.stable))
    np.testing.assert_allclose(np.load(out)["h200"], refit.predict_launch_s(table, hw),
                               rtol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
def test_committed_profile_held_out_accuracy_and_no_leak(device):
    profile = load_profile(CAL / device)
    m = recorded_fit_inputs(CAL / device).measurements
    held = m.select(m["split"] == HOLDOUT)
    # No held-out shape is among the profile's fitted shapes.
    fitted = set()
    for g in profile.groups.values():
        fitted |= set(measurement_table_ids(g))
    assert not fitted & set(held["case_id"])
    rows = accuracy_table(evaluate(held, profile, profile.hardware))
    _check_against_record(rows, device)


def measurement_table_ids(g):
    from roofsim.calibration.suites import Case
    from roofsim.records import SHAPE_PARAMS
    for row in g.params:
        params = {p: int(v) for p, v in zip(SHAPE_PARAMS, row) if not np.isnan(v)}
        yield Case.make(g.kind, g.dtype, params).case_id


def test_engine_uses_the_profile_and_lifts_to_its_launch_floor(h200):
    m, hw, profile = h200
    table = measurement_table(m.select(np.flatnonzero(m.stable)[:200]))
    timing = simulate(table, hw, profile)
    assert timing.calibrated.all()
    assert (timing.launch_time_s >= hw.launch_overhead_s("cuda_graph")).all()
    plain = simulate(table, hw)
    assert not plain.calibrated.any()


def test_profile_has_no_opinion_on_unmeasured_kinds(h200):
    _, hw, profile = h200
    from roofsim.kernels import records_from_params
    table = records_from_params(["gemm", "gemm"], {"m": [64, 64], "n": [64, 64], "k": [64, 64]},
                                ["float8_e4m3fn", "float16"])
    out = profile.predict_launch_s(table, hw)
    assert np.isnan(out[0]) and np.isfinite(out[1])   # fp8 unmeasured; fp16 measured


def test_transfer_to_another_spec_follows_its_roofs(h200):
    """A faster HBM speeds up what the H200 runs HBM-bound (large contiguous bf16 adds reach
    0.9 of its bandwidth: twice the bandwidth nearly halves them) and never slows anything;
    contiguous copies (cudaMemcpy), which the 40-SM companion shows bound by the bytes each SM
    keeps in flight (they slow down with fewer SMs), gain little."""
    m, hw, profile = h200
    faster = replace(hw, mem_bandwidth_gbps=hw.mem_bandwidth_gbps * 2)
    for kind, low, high in (("elementwise", 0.5, 0.6), ("copy", 0.8, 0.95)):
        rows = m.select(m.stable & (m["kind"] == kind) & (m["dtype"] == "bfloat16"))
        table = measurement_table(rows)
        same = profile.predict_launch_s(table, hw)
        every = profile.predict_launch_s(table, faster) / same
        assert (every > 0.5 - 1e-9).all() and (every <= 1 + 1e-9).all(), kind
        big = (rows["kernel_s"] > 50e-6) & ~np.isfinite(rows["stride"])   # contiguous, large
        assert big.any()
        assert low < np.median(every[big]) < high, kind
        small = rows["kernel_s"] < 1.6e-6                  # launch-floor kernels barely move
        assert small.any() and (every[small] > 0.9).all(), kind


def test_cross_device_prediction_beats_the_uncalibrated_roofline():
    """Fit on the H200's fit rows, predict the H100's held-out rows (item 6 of the issue)."""
    src = load_profile(CAL / "h200")
    m = read_measurements(CAL / "h100-sxm" / "measurements.csv")
    hw = load_hardware("h100-sxm")
    overall = accuracy_table(evaluate(m.select(m["split"] == HOLDOUT), src, hw))[-1]
    assert overall["calibrated_mape_pct"] < overall["roofline_mape_pct"] / 2


@pytest.mark.parametrize("truth, rel", [
    (dict(phi=2.0, eta_memory=0.7, eta_parallel=1.0, sharpness=4.0), 0.02),
    # a soft knee (p = 2) and a per-SM shortfall: the priors pull eta_m and eta_p a little
    # towards 1 and p down (measured: 0.72, 0.51, 1.79)
    (dict(phi=2.0, eta_memory=0.7, eta_parallel=0.5, sharpness=2.0), 0.05)])
def test_the_physical_fit_recovers_known_kind_parameters(truth, rel):
    """Times made by the model itself at known parameters give those parameters back where the
    data tell the roofs apart: the whole chip and the same shapes on 8-64 SMs (companions).
    On the whole chip alone a streaming kernel's HBM roof, its per-SM roof and the p-norm's
    sharpness trade against each other (eta_m 0.7 at p = 4 and 0.87 at p = 1 give the same
    times to 0.4 %), and the priors settle it (physfit: eta_memory taken at face value)."""
    from roofsim.hardware import derive_sm_restricted
    from roofsim.kernels import records_from_params
    from roofsim.perfmodel import KindParams, launch_seconds, unit_terms
    rng = np.random.default_rng(0)
    numel = np.exp(rng.uniform(np.log(1e3), np.log(3e8), 300)).round()
    hw = load_hardware("h200")
    records = records_from_params("copy", {"numel": numel}, "bfloat16")
    truth = KindParams(**truth)
    u = unit_terms(records, hw)
    extra = []
    for n in (8, 16, 40, 64):
        few = unit_terms(records, derive_sm_restricted(hw, n))
        extra.append((few, launch_seconds(few, truth.as_array())))
    got = fit_kind(u, launch_seconds(u, truth.as_array()), extra=extra)
    for name in ("phi", "eta_memory", "eta_parallel"):
        assert getattr(got, name) == pytest.approx(getattr(truth, name), rel=rel), name
    assert got.sharpness == pytest.approx(truth.sharpness, rel=3 * rel)


def test_bad_profiles_fail_with_one_line(tmp_path):
    with pytest.raises(UserError, match="not a roofsim calibration profile"):
        profile_from_dict({"format": "x"})
    doc = read_json(stored_file(CAL / "h200" / "profile.json"))
    for field, value, says in (("measured_s", float("nan"), "measured_s"),
                               ("measured_s", 1e300, "measured_s"),
                               ("residual", 50.0, "residual")):
        bad = json.loads(json.dumps(doc))
        bad["groups"][0][field][0] = value
        with pytest.raises(UserError, match=says):
            profile_from_dict(bad)
    bad = json.loads(json.dumps(doc))
    bad["groups"][0]["kind_params"]["eta_memory"] = 7.0      # beyond HBM: not physical
    with pytest.raises(UserError, match="eta_memory"):
        profile_from_dict(bad)
    bad = json.loads(json.dumps(doc))
    del bad["hardware"]
    with pytest.raises(UserError, match="hardware"):
        profile_from_dict(bad)
    with pytest.raises(UserError, match="no such folder"):
        load_profile(tmp_path / "nowhere")


def test_the_interpolation_width_is_read_from_the_profile_and_old_ones_keep_theirs():
    """bandwidth_scale: written by the fit (LocalLinearSettings' default), a profile without it
    (fitted before it existed) interpolates at the full k-th-neighbour distance, as it was
    fitted; an unphysical value is one line naming the field."""
    from roofsim.calibration.interpolate import LocalLinearSettings
    doc = read_json(stored_file(CAL / "h200" / "profile.json"))
    assert doc["model"]["bandwidth_scale"] == LocalLinearSettings().bandwidth_scale < 1.0
    assert profile_from_dict(doc).settings.bandwidth_scale == doc["model"]["bandwidth_scale"]
    old = json.loads(json.dumps(doc))
    del old["model"]["bandwidth_scale"]
    assert profile_from_dict(old).settings.bandwidth_scale == 1.0
    for value in (0.0, -1.0, float("nan"), 1e6, "wide"):
        bad = json.loads(json.dumps(doc))
        bad["model"]["bandwidth_scale"] = value
        with pytest.raises(UserError, match="bandwidth_scale") as err:
            profile_from_dict(bad)
        assert "\n" not in str(err.value)


def _companion_group(doc):
    return next(i for i, g in enumerate(doc["groups"]) if "sm_counts" in g)


def test_the_sm_share_follows_the_sm_count_within_the_companions_range(h200, monkeypatch):
    """The SM-parallel share is interpolated over shape and SM count (profile.SM_COUNT_WEIGHT):
    at a companion's count a shape both companions timed takes nearly that companion's f, a
    count between them lies between, and beyond the companions' range the nearest count's f
    holds (no companion tells how it moves further). Read without the physics prior
    (SHARE_PHYSICS_PRIOR 0: the shares themselves interpolated), so that one physical share
    (0) serves every count."""
    _, hw, profile = h200
    from roofsim.calibration import profile as profile_module
    monkeypatch.setattr(profile_module, "SHARE_PHYSICS_PRIOR", 0.0)
    monkeypatch.delitem(profile.__dict__, "_sm_cache", raising=False)
    g = profile.groups[("gemm", "bfloat16")]
    counts = sorted(set(g.sm_counts.astype(int)))
    assert counts == sorted({c.sm_count for c in H200_COMPANIONS})
    assert counts[:5] == [8, 16, 24, 32, 40]
    key = [tuple(np.nan_to_num(p, nan=-1)) for p in g.sm_params]
    lo = {k: f for k, f, c in zip(key, g.sm_fraction, g.sm_counts) if c == 16}
    hi = {k: f for k, f, c in zip(key, g.sm_fraction, g.sm_counts) if c == 40}
    # shapes whose share differs between the two counts (since the library grid's rounds of
    # session 12 the law holds better across counts: 15 gemm shapes differ by 0.15, 4 by 0.3)
    apart = [k for k in lo if k in hi and lo[k] - hi[k] > 0.15]
    assert len(apart) >= 10
    rows = np.array([[np.nan if v == -1 else v for v in k] for k in apart])
    phys = np.zeros(len(rows))
    at = {n: profile.sm_fraction_at(g, rows, "bfloat16", phys, n)
          for n in (4, 8, 16, 20, 24, 40, counts[-1], 130)}
    f16, f40 = np.array([lo[k] for k in apart]), np.array([hi[k] for k in apart])
    assert np.median(np.abs(at[16] - f16)) < np.median(np.abs(at[16] - f40))
    assert np.median(np.abs(at[40] - f40)) < np.median(np.abs(at[40] - f16))
    assert np.median(at[16]) > np.median(at[40])
    # 20 SMs lies between the companions at 16 and 24: its share between theirs
    assert np.all(at[20] <= at[16] + 1e-12) and np.all(at[20] >= at[24] - 1e-12)
    assert np.any(at[20] < at[16] - 1e-3)
    assert np.all(at[4] >= at[8]) and np.all(at[8] >= at[16]) and np.all(at[16] >= at[24])
    assert np.array_equal(at[4], at[8]) and np.array_equal(at[130], at[counts[-1]])
    profile.__dict__.pop("_sm_cache", None)       # the committed prior's interpolators next


def test_a_profile_without_sm_counts_has_one_share_for_every_count():
    """A profile fitted before the share depended on the SM count (no `sm_counts`) loads and
    predicts one share at every count; the counts it does hold are checked (whole, positive,
    one per share)."""
    doc = read_json(stored_file(CAL / "h200" / "profile.json"))
    i = _companion_group(doc)
    old = json.loads(json.dumps(doc))
    del old["groups"][i]["sm_counts"]
    prof = profile_from_dict(old)
    g = next(g for g in prof.groups.values() if g.sm_fraction is not None and
             g.sm_counts is None and len(g.sm_fraction) == len(doc["groups"][i]["sm_fraction"]))
    rows = g.sm_params[:5]
    phys = np.full(len(rows), 0.5)
    shares = [prof.sm_fraction_at(g, rows, g.dtype, phys, n) for n in (8, 16, 24, 40, 96)]
    assert all(np.array_equal(s, shares[0]) for s in shares)
    assert profile_from_dict(doc).groups[(g.family, g.dtype)].sm_counts is not None
    for value, says in ((16.5, "whole"), (0, "SM counts"), (float("nan"), "SM counts")):
        bad = json.loads(json.dumps(doc))
        bad["groups"][i]["sm_counts"][0] = value
        with pytest.raises(UserError, match="sm_counts") as err:
            profile_from_dict(bad)
        assert says in str(err.value) and "\n" not in str(err.value)
    bad = json.loads(json.dumps(doc))
    bad["groups"][i]["sm_counts"].pop()
    with pytest.raises(UserError, match="sm_counts"):
        profile_from_dict(bad)


def test_an_older_profiles_kind_share_still_loads_and_is_still_checked():
    """Profiles fitted before 2026-12-02 carry `kind_sm_share` beside their shares (nothing reads
    it now): a value in [0, 1] loads, one outside is still one line naming the field."""
    doc = read_json(stored_file(CAL / "h200" / "profile.json"))
    i = _companion_group(doc)
    assert "kind_sm_share" not in doc["groups"][i]
    old = json.loads(json.dumps(doc))
    old["groups"][i]["kind_sm_share"] = 0.4
    assert profile_from_dict(old).groups
    old["groups"][i]["kind_sm_share"] = 1.5
    with pytest.raises(UserError, match="kind_sm_share") as err:
        profile_from_dict(old)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("device", ["h200", "h100-sxm"])
def test_the_activations_take_the_elementwise_loops_hbm_efficiency(device):
    """gelu and silu run TensorIterator's vectorized loop as the plain elementwise group does
    (fit.SHARED_HBM_KINDS): the same access pattern, so the same eta_memory, and a slower
    activation is slower on its SMs (a term that scales with them), not on the HBM."""
    from roofsim.calibration import load_profile
    from roofsim.calibration.fit import SHARED_HBM_KINDS, STREAMING_REFERENCE
    p = load_profile(Path(__file__).resolve().parents[1] / "calibration" / device)
    checked = 0
    for (family, dtype), g in p.groups.items():
        if family in SHARED_HBM_KINDS and g.source == "":
            ref = p.groups[(STREAMING_REFERENCE, dtype)]
            assert g.kind_params.eta_memory == ref.kind_params.eta_memory
            checked += 1
    assert checked == 2 * 3          # gelu and silu, each in bf16, fp16 and fp32


@pytest.mark.parametrize("device", ["h200", "h100-sxm"])
def test_the_librarys_16_bit_products_keep_the_sms_bytes_in_flight_at_its_limit(device):
    """fit.FULL_STREAM_KINDS: the bf16 / fp16 gemm and linear groups hold eta_parallel at the
    hardware's limit (the spec's per-SM bandwidth; calibration/h200-sm8/stream-align measured
    0.8-1.0 of it), which the whole chip cannot tell; the fp32 products are fitted as before."""
    from roofsim.calibration.fit import FULL_STREAM_DTYPES, FULL_STREAM_KINDS
    from roofsim.perfmodel import PARAM_BY_NAME
    p = load_profile(Path(__file__).resolve().parents[1] / "calibration" / device)
    held = free = 0
    for (family, dtype), g in p.groups.items():
        if family in FULL_STREAM_KINDS and g.source == "":
            if dtype in FULL_STREAM_DTYPES:
                assert g.kind_params.eta_parallel == PARAM_BY_NAME["eta_parallel"].high
                held += 1
            else:
                free += 1
    assert held >= 2 and free >= 1
