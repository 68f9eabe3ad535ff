"""Measurement CSVs stored gzip-compressed (the committed test sets): read as the plain file
reads, found under the plain file's name, and a broken stream is one line naming the file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from roofsim.calibration.measurements import measurements_file, read_measurements
from roofsim.data import data_dir
from roofsim.errors import UserError
from roofsim.io import gunzip

STORED = data_dir("calibration") / "h200" / "mixed-fresh6" / "measurements.csv.gz"


def test_a_committed_test_set_is_stored_compressed_and_reads_under_its_plain_name():
    plain = STORED.with_name("measurements.csv")
    assert not plain.exists() and STORED.is_file()
    assert measurements_file(plain) == STORED
    m = read_measurements(plain)
    assert len(m) > 1000 and np.isfinite(m["kernel_s"][m.ok]).all()


def test_compressed_and_plain_copies_read_the_same(tmp_path):
    plain = tmp_path / "measurements.csv"
    plain.write_bytes(gzip.decompress(STORED.read_bytes()))
    a, b = read_measurements(plain), read_measurements(STORED)
    assert measurements_file(plain) == plain          # the plain file wins where both exist
    assert list(a["case_id"]) == list(b["case_id"])
    np.testing.assert_array_equal(a["kernel_s"], b["kernel_s"])


def test_a_broken_stream_is_one_line_naming_the_file(tmp_path):
    data = STORED.read_bytes()
    cut = tmp_path / "cut" / "measurements.csv.gz"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cut short") as err:
        read_measurements(cut.with_name("measurements.csv"))
    assert str(cut) in str(err.value) and "\n" not in str(err.value)
    junk = tmp_path / "junk" / "measurements.csv.gz"
    junk.parent.mkdir()
    junk.write_bytes(b"case_id,kind\n")
    with pytest.raises(UserError, match="not gzip data"):
        read_measurements(junk)


def test_gunzip_refuses_more_than_the_limit():
    data = gzip.compress(b"x" * 1000)
    assert gunzip(data, "f.gz", limit=1000) == b"x" * 1000
    with pytest.raises(UserError, match="more than"):
        gunzip(data, "f.gz", limit=999)


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_never_shadows_a_compressed_folder(tmp_path, resume):
    """Measuring into a folder whose measurements are stored compressed (calibration/h200 and
    h100-sxm since session 16) would write a plain file that hides them: one line instead."""
    from roofsim.calibration.run import run_cases
    (tmp_path / "measurements.csv.gz").write_bytes(STORED.read_bytes())
    with pytest.raises(UserError) as err:
        run_cases([], tmp_path, timer=None, device="h200", resume=resume)
    assert "measurements.csv.gz" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "measurements.csv").exists()


def test_the_device_folders_are_stored_compressed_and_read_whole():
    for device in ("h200", "h100-sxm"):
        plain = data_dir("calibration") / device / "measurements.csv"
        assert not plain.exists() and measurements_file(plain).name == "measurements.csv.gz"
        assert len(read_measurements(plain)) > 10_000
