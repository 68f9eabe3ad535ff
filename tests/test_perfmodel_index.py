"""The strided kernel's index term (roofsim.perfmodel T_index, issue 11 `dims`): it grows with
dims and numel, scales as 1 / SM count, leaves FLOP accounting alone; and `dims` survives the
measurements CSV and the profile file (an old CSV without the column still reads)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.calibration.measurements import (COLUMNS, MeasurementWriter, read_measurements)
from roofsim.calibration.profile import load_profile, profile_from_dict
from roofsim.hardware import load_hardware, with_sm_count
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (INDEX_OPERANDS, KindParams, index_ops_per_element,
                               launch_seconds, unit_terms)

H200 = load_hardware("h200")
PROFILE = load_profile("calibration/h200")


def _strided(kind, numel, dims, stride=1.0):
    n = len(numel)
    return records_from_params(np.full(n, kind, dtype=object),
                               {"numel": np.asarray(numel, float),
                                "stride": np.full(n, stride),
                                "dims": np.asarray(dims, float)},
                               np.full(n, "bfloat16", dtype=object))


def _physical(table, hw=H200):
    kp = PROFILE.groups[(str(table.kind[0]), "bfloat16")].kind_params
    return launch_seconds(unit_terms(table, hw), kp.as_array())


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(INDEX_OPERANDS)),
       numel=st.integers(100_000, 2_000_000_000), dims=st.integers(1, 8),
       more=st.integers(0, 1_000_000_000), sms=st.sampled_from([16, 40, 66, 132]))
def test_strided_time_never_falls_with_dims_or_numel(kind, numel, dims, more, sms):
    hw = with_sm_count(H200, sms)
    t = _physical(_strided(kind, [numel, numel, numel + more], [dims, dims + 1, dims]), hw)
    assert t[1] >= t[0] * (1 - 1e-12)          # one more dimension
    # More elements: for one operand layout. An elementwise case of dims >= 3 is the runner's
    # broadcast add, whose layout (dims_shape) follows numel's factors, so its distinct bytes are
    # not monotone in numel (177,285 elements read 709 kB in 3 dims, 177,288 read 355 kB).
    if not (kind == "elementwise" and dims > 2):
        assert t[2] >= t[0] * (1 - 1e-12)
    # The calibrated prediction (physics x bounded residual) keeps the dims order for a
    # large, index-bound record too.
    big = _strided(kind, [1e9, 1e9], [2, 6])
    p = PROFILE.predict_launch_s(big, H200)
    assert p[1] > p[0]


def test_index_term_scales_as_one_over_sm_count():
    t = _strided("elementwise", [1.2e9], [6])
    for n in (16, 33, 66):
        u1, u2 = unit_terms(t, with_sm_count(H200, n)), unit_terms(t, with_sm_count(H200, 2 * n))
        assert np.allclose(u1.index_s, 2 * u2.index_s, rtol=1e-6)
        # A large index-bound record takes about twice as long on half the SMs.
        ratio = _physical(t, with_sm_count(H200, n))[0] / _physical(t, with_sm_count(H200, 2 * n))[0]
        assert 1.8 < ratio <= 2.0 + 1e-9, (n, ratio)


def test_index_work_counts_dims_and_operands_and_only_on_the_strided_kernel():
    t = records_from_params(
        np.array(["elementwise", "elementwise", "copy", "copy", "gelu", "conv2d"], dtype=object),
        {"numel": np.array([1e6, 1e6, 1e6, 1e6, 1e6, np.nan]),
         "stride": np.array([np.nan, 1, 1, 1, 2, 1]),
         "dims": np.array([np.nan, 5, np.nan, 2, np.nan, np.nan]),
         "batch": np.array([np.nan] * 5 + [1]), "c_in": np.array([np.nan] * 5 + [8]),
         "c_out": np.array([np.nan] * 5 + [8]), "h": np.array([np.nan] * 5 + [8]),
         "w": np.array([np.nan] * 5 + [8]), "kernel": np.array([np.nan] * 5 + [3])},
        np.full(6, "bfloat16", dtype=object))
    ops = index_ops_per_element(t)
    assert ops[0] == 0 and ops[5] == 0            # vectorized kernel; conv2d's own stride
    assert ops[1] > ops[3] and ops[2] == ops[3]   # 5-D > 2-D; missing dims = 2 (the runners')
    assert ops[4] > 0                             # transposed operand: strided kernel too
    u = unit_terms(t, H200)
    before = records_from_params(t.kind[:5], {"numel": np.full(5, 1e6)}, t.dtype[:5])
    assert np.array_equal(t.flops_cuda[:5], before.flops_cuda)   # FLOP accounting as before
    assert (u.index_s[[1, 2, 3, 4]] > 0).all() and u.index_s[0] == 0


# ---- dims through the files -----------------------------------------------------------------
def _rows(path, dims_values):
    with MeasurementWriter(path) as w:
        for i, d in enumerate(dims_values):
            numel = 2 ** 20 * (1 + i)
            w.write({"case_id": f"copy|bfloat16|numel={numel},stride=1,dims={d}", "suite": "s",
                     "kind": "copy", "dtype": "bfloat16", "numel": numel, "stride": 1,
                     "dims": d, "split": "fit", "status": "ok",
                     "kernel_s": 1e-5 * (1 + i) * d, "kernel_min_s": 1e-5 * (1 + i) * d,
                     "kernel_max_s": 1e-5 * (1 + i) * d, "timer": "cuda_events"})


def test_dims_round_trips_through_measurements_and_profile(tmp_path):
    from roofsim.calibration.fit import fit_profile
    path = tmp_path / "measurements.csv"
    dims = [2, 3, 4, 5, 6, 2, 3, 4, 5, 6]
    _rows(path, dims)
    m = read_measurements(path)
    assert list(m["dims"]) == dims
    prof = fit_profile(m, H200, device_name="NVIDIA H200", ident="h200")
    back = profile_from_dict(prof.to_dict())
    g = back.groups[("copy:strided", "bfloat16")]          # stride 1: the strided kernel
    assert g.kind == "copy" and g.layout == "strided"
    from roofsim.records import SHAPE_PARAMS
    got = sorted(zip(g.params[:, SHAPE_PARAMS.index("dims")], g.measured))
    assert sorted(d for d, _ in got) == sorted(dims)
    assert "dims" in prof.to_dict()["groups"][0]["params"]


def test_old_csv_without_dims_reads_and_resumes(tmp_path):
    path = tmp_path / "measurements.csv"
    old = [c for c in COLUMNS if c != "dims"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=old)
        w.writeheader()
        w.writerow({"case_id": "copy|bfloat16|numel=4096,stride=1", "suite": "s", "kind": "copy",
                    "dtype": "bfloat16", "numel": 4096, "stride": 1, "split": "fit",
                    "status": "ok", "kernel_s": 3e-6, "timer": "cuda_events"})
    m = read_measurements(path)
    assert np.isnan(m["dims"]).all() and m["stride"][0] == 1 and m["kernel_s"][0] == 3e-6
    _rows(path, [4])                           # resuming rewrites the header first
    with open(path, newline="") as f:
        assert tuple(next(csv.reader(f))) == COLUMNS
    m = read_measurements(path)
    assert np.isnan(m["dims"][0]) and m["dims"][1] == 4
    assert m["kernel_s"][0] == 3e-6 and m["numel"][0] == 4096


def test_default_kind_params_make_dims_matter():
    t = _strided("copy", [5e8, 5e8], [2, 5])
    s = launch_seconds(unit_terms(t, with_sm_count(H200, 16)), KindParams().as_array())
    assert s[1] > 1.5 * s[0]


def test_attention_streams_in_waves_of_blocks():
    """Attention's per-SM bandwidth term is wave-quantized (roofsim.perfmodel.active_sms): a
    packed decode call of 160 blocks (batch 20 x 8 K/V heads) on 132 SMs streams in two rounds,
    twice the time of 128 blocks (one round), not 160 / 128 of it; a GEMM's stays min(N, blocks)."""
    def attention(batch):
        return records_from_params(np.array(["attention"], dtype=object),
                                   {"batch": np.array([float(batch)]), "heads": np.array([8.0]),
                                    "seq_q": np.array([4.0]), "seq_kv": np.array([8193.0]),
                                    "head_dim": np.array([128.0]), "causal": np.array([0.0]),
                                    "bias": np.array([2.0])},
                                   np.array(["bfloat16"], dtype=object))
    one, two = (unit_terms(attention(b), H200) for b in (16, 20))
    assert one.active_sms[0] == 128 and two.active_sms[0] == 80
    assert two.parallel_s(1.0)[0] / one.parallel_s(1.0)[0] == pytest.approx(2.0, rel=1e-9)
    gemm = records_from_params(np.array(["gemm"], dtype=object),
                               {"m": np.array([2048.0]), "n": np.array([2560.0]),
                                "k": np.array([4096.0])}, np.array(["bfloat16"], dtype=object))
    assert unit_terms(gemm, H200).active_sms[0] == H200.sm_count
