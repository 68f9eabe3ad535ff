"""A measurements CSV holds only what `roofsim calibrate` writes: a row's status and split are
its words, its shape parameters whole numbers, its replay times ordered; anything else
is one line naming the file, line and column. A fit with no group to fit writes no profile."""

from __future__ import annotations

import csv
import io

import pytest

from roofsim.calibration.fit import MIN_GROUP_SHAPES, fit_directory
from roofsim.calibration.measurements import COLUMNS, read_measurements
from roofsim.errors import UserError

ROW = {"case_id": "linear|bfloat16|m=64,n=128,k=256,bias=0", "suite": "t", "kind": "linear",
       "dtype": "bfloat16", "m": "64", "n": "128", "k": "256", "bias": "0", "split": "fit",
       "status": "ok", "kernel_s": "5e-06", "kernel_min_s": "4.9e-06", "kernel_max_s": "5.2e-06",
       "launches": "100", "timer": "cuda_events"}


def _write(path, *rows):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in COLUMNS})
    path.write_text(buf.getvalue())
    return path


def test_a_well_formed_file_reads(tmp_path):
    m = read_measurements(_write(tmp_path / "measurements.csv", ROW))
    assert len(m) == 1 and m.stable.all()


@pytest.mark.parametrize("column,value,fragment", [
    ("status", "weird", "column status = 'weird': expected one of ok, failed"),
    ("split", "train", "column split = 'train': expected one of fit, holdout"),
    ("m", "3.5", "column m = 3.5: expected a whole number"),
    ("kernel_min_s", "6e-06", "column kernel_min_s = 6e-06: more than kernel_s"),
    ("kernel_max_s", "4e-06", "column kernel_s = 5e-06: more than kernel_max_s"),
    # what the kind's formula refuses (a fit stopped on it without naming the file)
    ("m", "", "kind 'linear' needs shape parameter 'm'"),
    # how the row was timed, as the harness writes it (these were read without a word)
    ("launches", "0", "launches = '0': expected a whole number >= 1 (launches per replay)"),
    ("launches", "2.5", "column launches = '2.5': expected a whole number >= 1"),
    ("trials", "0", "column trials = '0': expected a whole number >= 1"),
    ("sets", "0.5", "column sets = '0.5': expected a whole number >= 1"),
    ("set_bytes", "7.5", "column set_bytes = '7.5': expected a whole number >= 0"),
    ("timer", "cuda_graph",
     "column timer = 'cuda_graph': expected one of cuda_events, host_perf_counter"),
    ("graph", "yes", "column graph = 'yes': expected one of 0, 1"),
])
def test_a_bad_cell_is_one_line_with_its_place(tmp_path, column, value, fragment):
    path = _write(tmp_path / "measurements.csv", ROW, {**ROW, column: value,
                                                        "case_id": ROW["case_id"] + "x"})
    with pytest.raises(UserError) as exc:
        read_measurements(path)
    assert fragment in str(exc.value) and "line 3" in str(exc.value) and str(path) in str(exc.value)


def test_a_failed_row_keeps_no_times_and_may_leave_its_split_empty(tmp_path):
    failed = {**ROW, "status": "failed", "kernel_s": "", "kernel_min_s": "9", "split": ""}
    m = read_measurements(_write(tmp_path / "measurements.csv", failed))
    assert not m.ok.any()


def test_a_fit_with_no_group_writes_no_profile(tmp_path):
    rows = [{**ROW, "case_id": f"linear|bfloat16|m={m},n=128,k=256,bias=0", "m": str(m)}
            for m in (16, 32)]             # fewer than a group's fit needs (MIN_GROUP_SHAPES)
    _write(tmp_path / "measurements.csv", *rows)
    assert len(rows) < MIN_GROUP_SHAPES
    with pytest.raises(UserError, match="no profile written"):
        fit_directory(tmp_path, hardware="h200")
    assert not (tmp_path / "profile.json").exists()


@pytest.mark.parametrize("content,fragment", [
    ('{"runs": [', "not valid JSON"),
    ("[1, 2]", "a JSON list; expected an object"),
    ('{"runs": {"a": 1}}', "runs: expected a list of objects"),
    ('{"runs": [{"software": [1]}]}', "runs[0].software: expected an object"),
    ('{"runs": [{}, {"device_before": {"name": 7}}]}', "runs[1].device_before.name: expected"),
    ('{"sm_restriction": {"requested_sms": 2.5}}', "sm_restriction.requested_sms: expected a "
                                                   "whole number"),
])
def test_a_broken_provenance_is_one_line_naming_it(tmp_path, content, fragment):
    """The folder's provenance.json names the measuring device and its SM restriction; one that
    is not what the harness writes stopped a fit with a traceback (AttributeError, ValueError)."""
    from roofsim.calibration.fit import device_of, sm_restriction_of
    (tmp_path / "provenance.json").write_text(content)
    for read in (device_of, sm_restriction_of):
        with pytest.raises(UserError) as exc:
            read(tmp_path)
        assert fragment in str(exc.value) and str(tmp_path / "provenance.json") in str(exc.value)
