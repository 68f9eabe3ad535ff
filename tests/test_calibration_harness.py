"""The calibration harness on the CPU (host timers): rows written as measured, a run cut short
keeps them, --resume continues without re-timing, a shape that fails is reported and the run
goes on, provenance records every run, and the GPU-only command says so without a GPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from roofsim.calibration.measurements import (COLUMNS, MeasurementWriter, measured_ids,
                                              read_measurements, split_of)
from roofsim.calibration.run import run_cases
from roofsim.calibration.suites import load_suite
from roofsim.calibration.timing import CpuTimer, TimingConfig
from roofsim.cli import main as cli_main

torch = pytest.importorskip("torch")

SUITE = """
name: tiny
dtype: float32
entries:
  - kind: gemm
    grid: {m: [1, 8, 33], n: [16, 24], k: [16]}
  - kind: softmax
    random: {count: 6, seed: 1, params: {rows: [1, 64], cols: [8, 256]}}
  - kind: silu
    list: [{numel: 100}, {numel: 1000}, {numel: 4096}]
  - kind: grouped_gemm
    list: [{m: 4, n: 16, k: 16, batch: 2}]
"""


@pytest.fixture()
def cases(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(SUITE)
    return load_suite(p)


def _timer():
    return CpuTimer(TimingConfig(target_replay_s=1e-4, max_launches=3, trials=3))


def _failing_runner_table(monkeypatch, kind="silu", numel=1000):
    """Make one case fail as an out-of-memory shape would, the others time normally."""
    import roofsim.calibration.run as run_mod
    real = run_mod.runner_table()

    def broken(params, dtype, device):
        if params.get("numel") == numel:
            raise MemoryError("pretend the device ran out of memory")
        return real[kind](params, dtype, device)
    table = dict(real, **{kind: broken})
    monkeypatch.setattr(run_mod, "runner_table", lambda: table)


def test_cut_short_run_keeps_rows_and_resume_finishes_without_retiming(tmp_path, cases):
    out = tmp_path / "cal"
    first = run_cases(cases, out, timer=_timer(), device="cpu", max_cases=5, command="t1")
    assert first.measured == 5 and first.remaining == len(cases) - 5
    assert "max_cases" in first.stopped
    m = read_measurements(out / "measurements.csv")
    assert len(m) == 5 and m.ok.all()
    assert list(m.columns) == list(COLUMNS)
    done = set(m["case_id"])

    second = run_cases(cases, out, timer=_timer(), device="cpu", resume=True, command="t2")
    assert second.skipped == 5 and second.measured == len(cases) - 5 and not second.stopped
    m = read_measurements(out / "measurements.csv")
    assert sorted(m["case_id"]) == sorted(c.case_id for c in cases)
    # Rows of the first run are untouched (same times), not re-timed.
    again = read_measurements(out / "measurements.csv")
    first_rows = again.select(np.isin(again["case_id"], list(done)))
    assert len(first_rows) == 5
    runs = json.loads((out / "provenance.json").read_text())["runs"]
    assert [r["command"] for r in runs] == ["t1", "t2"]
    assert runs[0]["measured"] == 5 and runs[1]["skipped"] == 5
    assert runs[0]["device_before"] and "software" in runs[0] and runs[0]["harness_version"] >= 1


def test_rows_hold_times_split_and_random_positive_timings(tmp_path, cases):
    out = tmp_path / "cal"
    run_cases(cases, out, timer=_timer(), device="cpu")
    m = read_measurements(out / "measurements.csv")
    assert (m["kernel_s"] > 0).all() and (m["kernel_min_s"] <= m["kernel_s"]).all()
    assert (m["kernel_s"] <= m["kernel_max_s"]).all()
    assert all(s == split_of(c) for s, c in zip(m["split"], m["case_id"]))
    assert set(m["timer"]) == {"host_perf_counter"}
    assert (m["set_bytes"] > 0).all()


def test_failed_shape_is_reported_and_the_run_goes_on(tmp_path, cases, monkeypatch):
    _failing_runner_table(monkeypatch)
    report = run_cases(cases, tmp_path / "cal", timer=_timer(), device="cpu")
    assert [cid for cid, _ in report.failed] == ["silu|float32|numel=1000"]
    assert report.measured == len(cases) - 1
    m = read_measurements(tmp_path / "cal" / "measurements.csv")
    row = m.select(m["case_id"] == "silu|float32|numel=1000")
    assert row["status"][0] == "failed" and row["error"][0] == "out of memory"
    assert np.isnan(row["kernel_s"][0])
    prov = json.loads((tmp_path / "cal" / "provenance.json").read_text())["runs"][-1]
    assert prov["failed"][0]["case_id"] == "silu|float32|numel=1000"


def test_resume_can_retry_failed_shapes(tmp_path, cases, monkeypatch):
    _failing_runner_table(monkeypatch)
    run_cases(cases, tmp_path / "cal", timer=_timer(), device="cpu")
    monkeypatch.undo()
    again = run_cases(cases, tmp_path / "cal", timer=_timer(), device="cpu", resume=True,
                      retry_failed=True)
    assert again.measured == 1
    m = read_measurements(tmp_path / "cal" / "measurements.csv")
    assert m.ok.all() and len(m) == len(cases)   # the retried row replaces the failed one


def test_a_line_cut_by_a_killed_run_is_dropped_and_repaired(tmp_path, cases):
    out = tmp_path / "cal"
    run_cases(cases[:3], out, timer=_timer(), device="cpu")
    path = out / "measurements.csv"
    text = path.read_text()
    path.write_text(text + text.splitlines()[1][:25])      # a half-written last row
    assert len(read_measurements(path)) == 3
    assert len(measured_ids(path)) == 3
    run_cases(cases, out, timer=_timer(), device="cpu", resume=True)
    m = read_measurements(path)
    assert len(m) == len(cases) and m.ok.all()


def test_existing_file_needs_resume(tmp_path, cases):
    run_cases(cases[:1], tmp_path, timer=_timer(), device="cpu")
    from roofsim.errors import UserError
    with pytest.raises(UserError, match="--resume"):
        run_cases(cases, tmp_path, timer=_timer(), device="cpu")


def test_time_budget_stops_cleanly(tmp_path, cases):
    report = run_cases(cases, tmp_path, timer=_timer(), device="cpu", time_budget_s=0.0)
    assert report.measured == 0 and report.remaining == len(cases)
    assert "time budget" in report.stopped


def test_writer_appends_one_flushed_row_at_a_time(tmp_path):
    path = tmp_path / "m.csv"
    with MeasurementWriter(path) as w:
        w.write({"case_id": "a", "kind": "gemm", "dtype": "bfloat16", "m": 64, "n": 64,
                 "k": 64, "status": "ok", "kernel_s": 1e-6, "kernel_min_s": 1e-6,
                 "kernel_max_s": 1e-6})
        assert len(read_measurements(path)) == 1       # readable before close
    assert read_measurements(path)["kernel_s"][0] == 1e-6


def test_calibrate_cli_without_gpu_says_so(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    assert cli_main(["calibrate"]) == 2
    err = capsys.readouterr().err
    assert "needs a CUDA GPU" in err and "Traceback" not in err and err.count("\n") == 1


def test_calibrate_cli_cpu_mode_measures_and_fits(tmp_path, capsys):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "cal"
    rc = cli_main(["calibrate", "--device", "cpu", "--suite", str(suite), "--out", str(out),
                   "--hardware", "h100-sxm"])
    assert rc == 0
    assert (out / "profile.json").is_file() and (out / "accuracy.json").is_file()
    assert "held-out accuracy" in capsys.readouterr().out


def _tiny_suite(tmp_path):
    """The tiny suite written to tmp_path, and the output folder a run of it takes."""
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    return suite, tmp_path / "cal"


def _one_line_error(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("roofsim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_fit_only_refuses_the_measuring_options(tmp_path, capsys):
    """--fit-only measures nothing: a measuring option given with it was silently ignored;
    now every one given is named (as serve --trace names the Poisson options)."""
    suite, out = _tiny_suite(tmp_path)
    assert cli_main(["calibrate", "--device", "cpu", "--suite", str(suite), "--out", str(out),
                     "--no-fit"]) == 0
    capsys.readouterr()
    rc = cli_main(["calibrate", "--fit-only", "--out", str(out), "--hardware", "h100-sxm",
                   "--resume", "--retry-failed", "--suite", str(suite), "--device", "cpu",
                   "--sample", "0.5", "--time-budget", "5", "--sms", "4", "--no-fit"])
    assert rc == 2
    err = _one_line_error(capsys)
    assert ("measuring options would do nothing: --suite, --resume, --retry-failed, --device, "
            "--no-fit, --time-budget, --sample, --sms; give them without --fit-only") in err
    assert not (out / "profile.json").exists()
    assert cli_main(["calibrate", "--fit-only", "--out", str(out), "--hardware", "h100-sxm"]) == 0
    assert (out / "profile.json").is_file()


def test_no_fit_refuses_the_fitting_options(tmp_path, capsys):
    """--no-fit measures only: --hardware, --companion and the other fitting options were
    silently ignored; now they are named, before anything is measured."""
    suite, out = _tiny_suite(tmp_path)
    rc = cli_main(["calibrate", "--device", "cpu", "--suite", str(suite), "--out", str(out),
                   "--no-fit", "--hardware", "h100-sxm", "--sibling", "h200"])
    assert rc == 2
    err = _one_line_error(capsys)
    assert "fitting options would do nothing: --hardware, --sibling; give them without " \
           "--no-fit" in err
    assert not out.exists()


def test_retry_failed_needs_resume(tmp_path, capsys):
    suite, out = _tiny_suite(tmp_path)
    rc = cli_main(["calibrate", "--device", "cpu", "--suite", str(suite), "--out", str(out),
                   "--no-fit", "--retry-failed"])
    assert rc == 2
    assert "--retry-failed" in _one_line_error(capsys) and not out.exists()


@pytest.mark.parametrize("option", ["--graph-gap", "--warm-l2"])
def test_probe_files_are_read_before_measuring(tmp_path, capsys, option):
    """A missing --graph-gap / --warm-l2 file failed only at the fit, after the measuring."""
    suite, out = _tiny_suite(tmp_path)
    rc = cli_main(["calibrate", "--device", "cpu", "--suite", str(suite), "--out", str(out),
                   "--hardware", "h100-sxm", option, str(tmp_path / "no-such.csv")])
    assert rc == 2
    assert "no-such.csv" in _one_line_error(capsys)
    assert not (out / "measurements.csv").exists()
