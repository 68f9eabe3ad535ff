"""`roofsim calibrate --fit-only --more DIR`: further measurements of the same device join a
calibration folder's rows (roofsim.calibration.fit.joined_measurements), the profile records
them, and recorded_fit_inputs gives back exactly what was fitted."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from roofsim.calibration.fit import fit_directory, joined_measurements, recorded_fit_inputs
from roofsim.calibration.measurements import read_measurements, split_of
from roofsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "calibration"
SOURCE = CAL / "h200" / "mixed-fresh7"          # a whole-H200 kernel set, stored gzip-compressed
RESTRICTED = CAL / "h200-sm56" / "mixed-fresh7"  # the same shapes on 56 SMs


def _lines(folder: Path) -> list[str]:
    with gzip.open(folder / "measurements.csv.gz", "rt") as f:
        return f.read().splitlines()


def _folder(path: Path, source: Path, lines: list[str]) -> Path:
    path.mkdir(parents=True)
    (path / "measurements.csv").write_text("\n".join(lines) + "\n")
    shutil.copy(source / "provenance.json", path / "provenance.json")
    return path


@pytest.fixture()
def folders(tmp_path):
    lines = _lines(SOURCE)
    head, rows = lines[0], lines[1:]
    out = _folder(tmp_path / "dev", SOURCE, [head] + rows[:300])
    # the more folder repeats rows 200-299 with another time: the first folder's row is kept
    names = head.split(",")
    times = [names.index(c) for c in ("kernel_s", "kernel_min_s", "kernel_max_s")]
    moved = []
    for r in rows[200:300]:
        cells = next(csv.reader(io.StringIO(r)))
        for at in times:                 # every replay statistic, so they stay ordered
            cells[at] = repr(float(cells[at]) * 3.0)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(cells)
        moved.append(buf.getvalue())
    more = _folder(tmp_path / "more", SOURCE, [head] + moved + rows[300:600])
    return out, more


def test_more_rows_join_once_each_split_by_case_id(folders):
    out, more = folders
    own, extra = read_measurements(out / "measurements.csv"), read_measurements(
        more / "measurements.csv")
    m = joined_measurements(out, [more])
    assert len(m) == 600 == len(set(m["case_id"]))
    assert set(m["case_id"]) == set(own["case_id"]) | set(extra["case_id"])
    first = dict(zip(own["case_id"], own["kernel_s"]))
    got = dict(zip(m["case_id"], m["kernel_s"]))
    assert all(got[c] == t for c, t in first.items())          # the folder's own rows win
    assert all(s == split_of(c) for c, s in zip(m["case_id"], m["split"]))
    assert joined_measurements(out, []).columns.keys() == m.columns.keys()


def test_more_from_another_sm_count_is_one_line(folders, tmp_path):
    out, _ = folders
    lines = _lines(RESTRICTED)
    other = _folder(tmp_path / "sm56", RESTRICTED, lines[:50])
    with pytest.raises(UserError, match="56 SMs") as err:
        joined_measurements(out, [other])
    assert "\n" not in str(err.value)


def test_the_profile_records_its_more_folders_and_refits_from_them(folders):
    out, more = folders
    fit_directory(out, hardware="h200", more=[more])
    meta = json.loads((out / "profile.json").read_text())["meta"]
    assert [e["folder"] for e in meta["more"]] == ["more"]
    assert meta["more"][0]["rows"] == 400
    inputs = recorded_fit_inputs(out)
    assert inputs.more == (more.resolve(),)
    assert len(inputs.measurements) == 600 and inputs.companions == ()
    accuracy = json.loads((out / "accuracy.json").read_text())["rows"]
    held = int(np.sum(inputs.measurements["split"] == "holdout"))
    assert accuracy[-1]["rows"] == held


def test_cli_more_without_measurements_is_one_line(folders, tmp_path):
    out, _ = folders
    r = subprocess.run([sys.executable, "-m", "roofsim", "calibrate", "--fit-only", "--out",
                        str(out), "--hardware", "h200", "--more", str(tmp_path / "nothing")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert "--more" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text", [None, "", "{not json", "[]", '{"meta": {"more": [3]}}',
                                  '{"meta": {"companions": [{"folder": 7}]}}', '{"meta": 5}'])
def test_recorded_fit_inputs_names_the_profile_it_cannot_read(tmp_path, text):
    """A missing, empty or malformed profile.json is one line naming the file, not a traceback."""
    if text is not None:
        (tmp_path / "profile.json").write_text(text)
    with pytest.raises(UserError) as err:
        recorded_fit_inputs(tmp_path)
    assert "profile.json" in str(err.value) and "\n" not in str(err.value)


def test_a_hardware_spec_of_another_sm_count_is_one_line_and_the_restriction_derives(tmp_path):
    """--hardware names the measuring device's spec: one of another SM count than the GPU the
    provenance recorded (or its restriction) is one line (session 45's CLI sweep fitted an
    H200's 56-SM rows as an RTX 5090 without a word); the whole chip's spec is derived to the
    restriction, as the spec named like the device is (it had been taken whole)."""
    from roofsim.calibration.fit import hardware_for
    lines = _lines(RESTRICTED)
    folder = _folder(tmp_path / "sm56", RESTRICTED, lines[:400])
    with pytest.raises(UserError, match="170 SMs.*restricted to 56") as err:
        hardware_for(folder, "rtx-5090")
    assert "\n" not in str(err.value)
    assert hardware_for(folder, "h200")[0].sm_count == 56
    assert hardware_for(folder, None)[0].sm_count == 56
    fit_directory(folder, hardware="h200")
    assert json.loads((folder / "profile.json").read_text())["hardware"]["sm_count"] == 56
