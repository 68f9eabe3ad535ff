"""Calibration profiles (the shipped fits in calibration/<device>/profile.json): predictions are
finite and positive wherever the profile has an opinion and NaN elsewhere; calibrated engine
time never drops below the launch floor; and a calibrated prediction, like the roofline, never
rises when a roof rises or the launch overhead falls."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from roofsim.calibration.profile import load_profile
from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.perfmodel import (MIN_WARM_SHARE, default_launch_seconds, l2_resident,
                               launches_on)
from roofsim.hardware import derive_sm_restricted, load_hardware
from roofsim.io import stored_file
from roofsim.records import COMM_KINDS, RecordTable
from roofsim.workloads.deepseek_ocr import stage_records
from strategies import (MEDIUM, configs, faster_spec_pairs, gemm_tables, hardware_specs,
                        requests)

PROFILES = {d.name: load_profile(d) for d in sorted(data_dir("calibration").iterdir())
            if stored_file(d / "profile.json").is_file()}
profiles = st.sampled_from(sorted(PROFILES)).map(PROFILES.get)
modes = st.sampled_from(["cuda_graph", "stream"])
REL = 1e-9


@st.composite
def workload_tables(draw) -> RecordTable:
    """All records of a random request on a random config, or random matrix-product records."""
    if draw(st.booleans()):
        return draw(gemm_tables())
    cfg = draw(configs())
    records = stage_records(cfg, draw(requests(cfg)), draw(st.sampled_from(["flash", "normal"])))
    return RecordTable.concat(list(records.values()))


def test_the_shipped_profiles_load():
    assert PROFILES, "no shipped calibration profile found"


@MEDIUM
@given(table=workload_tables(), profile=profiles, spec=hardware_specs())
def test_profile_predictions_are_finite_and_positive_where_covered(table, profile, spec):
    predicted = profile.predict_launch_s(table, spec)
    assert predicted.shape == (len(table),)
    covered = profile.covers(table)
    assert np.all(np.isfinite(predicted[covered])), table.kind[covered & ~np.isfinite(predicted)]
    assert np.all(predicted[covered] > 0)
    assert np.all(np.isnan(predicted[~covered]))          # no opinion: the roofline stays


@MEDIUM
@given(table=workload_tables(), profile=profiles, spec=hardware_specs(), mode=modes)
def test_calibrated_time_is_never_below_the_launch_floor(table, profile, spec, mode):
    t = simulate(table, spec, profile, launch_mode=mode)
    # calibrated time is positive; an uncovered record with no work on an ideal spec may be 0
    assert np.all(np.isfinite(t.launch_time_s)) and np.all(t.launch_time_s >= 0)
    assert np.all(t.launch_time_s[t.calibrated] > 0)
    # a launch (the kernel and the graph gap after it) never beats the floor; the kernel's
    # duration alone is the launch less at most the profile's gap
    # (rounding of launch - gap + gap); an L2-resident launch may save up to MIN_WARM_SHARE
    floor = t.launch_s * np.where(l2_resident(table, spec), MIN_WARM_SHARE, 1.0)
    assert np.all(t.issued_s >= floor * (1 - 1e-12))
    # one gap per graph node the call issues (a conv2d's transforms and bias add, a radix sort)
    nodes = launches_on(table, spec)
    assert np.all((t.node_gap_s >= 0) & (t.node_gap_s <= profile.graph_gap_s * nodes))
    assert np.all(t.node_gap_s[~t.calibrated] == 0)
    np.testing.assert_array_equal(t.calibrated, profile.covers(table))
    # where the profile has no opinion: the physics at its default parameters, at least the
    # launch floor (the collectives: the roofline's link time)
    plain = simulate(table, spec, launch_mode=mode)
    free = np.flatnonzero(~t.calibrated & ~np.isin(table.kind, COMM_KINDS))
    resident = l2_resident(table, spec)
    np.testing.assert_array_equal(
        t.launch_time_s[free],
        np.maximum(default_launch_seconds(table.select(free), spec, resident[free]),
                   t.launch_s[free]))
    comm = ~t.calibrated & np.isin(table.kind, COMM_KINDS)
    np.testing.assert_array_equal(t.launch_time_s[comm], plain.launch_time_s[comm])


@MEDIUM
@given(table=workload_tables(), profile=profiles, pair=faster_spec_pairs())
def test_calibrated_time_never_rises_when_a_roof_rises(table, profile, pair):
    slow, fast, which = pair
    before = simulate(table, slow, profile).launch_time_s
    after = simulate(table, fast, profile).launch_time_s
    assert np.all(after <= before * (1 + REL)), which


H200 = load_hardware("h200")


@MEDIUM
@given(table=workload_tables(), data=st.data())
def test_a_green_context_with_fewer_sms_is_never_faster(table, data):
    """Removing SMs from the H200 (roofsim hardware derive h200 --sms N) never shortens a
    calibrated launch: the two-point law's share f lies in [0, 1] and the stretch of the
    SM-parallel part (persistent rounds or N0 / N) never falls as SMs go."""
    profile = PROFILES["h200"]
    few = data.draw(st.integers(1, 131))
    more = data.draw(st.integers(few, 132))
    spec = lambda n: H200 if n == 132 else derive_sm_restricted(H200, n)   # noqa: E731
    slow = profile.predict_launch_s(table, spec(few))
    fast = profile.predict_launch_s(table, spec(more))
    ok = np.isfinite(slow) & np.isfinite(fast)
    # 1e-6: a launch the power limit binds is flat in the SM count, up to rounding in the p-norm
    # (the H200's stable rows, every SM count from 132 down to 1: at most 1.5e-7 relative).
    assert np.all(slow[ok] >= fast[ok] * (1 - 1e-6)), (few, more,
                                                        table.kind[ok & (slow < fast)])
