"""`roofsim predict-kernels`: the public CSV contract (kind, dtype, the shape-parameter columns;
every row repeated with predicted_s and bound), calibrated and not, and one-line errors."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from roofsim.calibration import load_profile
from roofsim.calibration.fit import measurement_table
from roofsim.calibration.measurements import HOLDOUT, read_measurements
from roofsim.cli import main as cli_main
from roofsim.data import data_dir
from roofsim.engine import simulate
from roofsim.hardware import load_hardware
from roofsim.records import SHAPE_PARAMS

HEADER = ["kind", *SHAPE_PARAMS, "dtype"]
ROWS = [
    {"kind": "gemm", "m": "4096", "n": "4096", "k": "4096", "dtype": "bfloat16"},
    {"kind": "linear", "m": "1", "n": "1280", "k": "1280", "bias": "0", "dtype": "bfloat16"},
    {"kind": "attention", "batch": "1", "heads": "10", "seq_q": "1", "seq_kv": "8192",
     "head_dim": "128", "causal": "1", "dtype": "bfloat16"},
    {"kind": "conv2d", "batch": "1", "c_in": "3", "c_out": "768", "h": "1024", "w": "1024",
     "kernel": "16", "stride": "16", "padding": "0", "bias": "1", "dtype": "bfloat16"},
    {"kind": "rmsnorm", "rows": "4", "cols": "1280", "dtype": "float32"},
    {"kind": "silu", "numel": "6848", "dtype": ""},
]


def _write(path, rows, header=HEADER):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({h: r.get(h, "") for h in header})
    return path


def _run(capsys, *args):
    rc = cli_main(["predict-kernels", *map(str, args)])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_output_repeats_every_row_and_adds_two_columns(tmp_path, capsys):
    cases = _write(tmp_path / "c.csv", ROWS)
    rc, out, err = _run(capsys, cases, "--hardware", "h100-sxm")
    assert rc == 0, err
    got = list(csv.DictReader(io.StringIO(out)))
    assert list(got[0]) == HEADER + ["predicted_s", "bound"]
    assert len(got) == len(ROWS)
    for src, row in zip(ROWS, got):
        assert all(row[h] == src.get(h, "") for h in HEADER)
        assert float(row["predicted_s"]) > 0
        assert row["bound"] in ("launch", "tensor", "cuda", "memory")
    assert got[0]["bound"] == "tensor"          # a 4096^3 bf16 GEMM is compute-bound


def test_calibrated_predictions_match_the_engine_with_the_profile(tmp_path, capsys):
    m = read_measurements(data_dir("calibration") / "h100-sxm" / "measurements.csv")
    held = m.select(np.flatnonzero((m["split"] == HOLDOUT) & m.stable)[:40])
    rows = [{"kind": k, "dtype": d, **{p: ("" if np.isnan(held[p][i]) else str(int(held[p][i])))
                                       for p in SHAPE_PARAMS}}
            for i, (k, d) in enumerate(zip(held["kind"], held["dtype"]))]
    cases = _write(tmp_path / "held.csv", rows)
    out_csv = tmp_path / "out.csv"
    rc, _, err = _run(capsys, cases, "--hardware", "h100-sxm", "--calibration", "h100-sxm",
                      "-o", out_csv)
    assert rc == 0 and "predicted 40 kernels" in err
    got = np.array([float(r["predicted_s"]) for r in csv.DictReader(open(out_csv))])
    hw = load_hardware("h100-sxm")
    profile = load_profile("h100-sxm")
    want = simulate(measurement_table(held), hw, profile, l2_warm=False).launch_time_s
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # Calibrated, these held-out kernels land near their measured durations (the harness's
    # per-launch time less the graph gap it includes).
    err_pct = np.abs(got - (held["kernel_s"] - profile.graph_gap_s)) / held["kernel_s"]
    assert np.median(err_pct) < 0.10


def test_uncalibrated_and_calibrated_differ(tmp_path, capsys):
    cases = _write(tmp_path / "c.csv", ROWS)
    _, plain, _ = _run(capsys, cases, "--hardware", "h200")
    _, cal, _ = _run(capsys, cases, "--hardware", "h200", "--calibration", "h200")
    a = [float(r["predicted_s"]) for r in csv.DictReader(io.StringIO(plain))]
    b = [float(r["predicted_s"]) for r in csv.DictReader(io.StringIO(cal))]
    assert a != b and all(x > 0 for x in b)


@pytest.mark.parametrize("rows, header, needle", [
    ([{"kind": "matmul"}], HEADER, "kind 'matmul'"),
    ([{"kind": "gemm", "m": "x", "n": "1", "k": "1"}], HEADER, "column m: expected a number"),
    ([{"kind": "gemm", "m": "-1", "n": "1", "k": "1"}], HEADER, "column m"),
    ([{"kind": "gemm", "m": "1", "n": "1"}], HEADER, "needs shape parameter 'k'"),
    ([{"m": "1"}], ["m"], "no 'kind' column"),
    ([{"kind": "gemm", "m": "1", "n": "1", "k": "1", "dtype": "int3"}], HEADER, "dtype"),
])
def test_bad_cases_fail_with_one_line(tmp_path, capsys, rows, header, needle):
    cases = _write(tmp_path / "bad.csv", rows, header)
    rc, _, err = _run(capsys, cases, "--hardware", "h100-sxm")
    assert rc == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_file_and_unknown_calibration(tmp_path, capsys):
    rc, _, err = _run(capsys, tmp_path / "none.csv", "--hardware", "h100-sxm")
    assert rc == 2 and "not found" in err
    cases = _write(tmp_path / "c.csv", ROWS)
    rc, _, err = _run(capsys, cases, "--hardware", "h100-sxm", "--calibration", "b999")
    assert rc == 2 and "no such folder" in err
