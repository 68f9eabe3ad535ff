"""Data stored gzip-compressed (the committed test sets' measurement CSVs, the shipped profiles):
read as the plain file reads, found under the plain file's name, written back where it is
stored, and a broken stream is one line naming the file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from roofsim.calibration.measurements import read_measurements
from roofsim.calibration.profile import load_profile
from roofsim.data import data_dir
from roofsim.errors import UserError
from roofsim.io import gunzip, gzip_bytes, read_text, stored_file, write_stored_text

STORED = data_dir("calibration") / "h200" / "mixed-fresh6" / "measurements.csv.gz"


def test_a_committed_test_set_is_stored_compressed_and_reads_under_its_plain_name():
    plain = STORED.with_name("measurements.csv")
    assert not plain.exists() and STORED.is_file()
    assert stored_file(plain) == STORED
    m = read_measurements(plain)
    assert len(m) > 1000 and np.isfinite(m["kernel_s"][m.ok]).all()


def test_compressed_and_plain_copies_read_the_same(tmp_path):
    plain = tmp_path / "measurements.csv"
    plain.write_bytes(gzip.decompress(STORED.read_bytes()))
    a, b = read_measurements(plain), read_measurements(STORED)
    assert stored_file(plain) == plain          # the plain file wins where both exist
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


def test_every_member_of_a_gzip_file_is_read_and_trailing_bytes_refused(tmp_path):
    """`gzip -c more.csv >> measurements.csv.gz` appends a second member: RFC 1952 reads the
    file as both members' bytes in turn (only the first was read before session 45, so the
    appended rows were dropped without a word); bytes after the last member that are no gzip
    member are one line naming the file."""
    data = gzip.decompress(STORED.read_bytes())
    head, tail = data.splitlines(keepends=True)[:1], data.splitlines(keepends=True)[1:]
    two = tmp_path / "two" / "measurements.csv.gz"
    two.parent.mkdir()
    two.write_bytes(gzip.compress(b"".join(head + tail[:100])) +
                    gzip.compress(b"".join(tail[100:])))
    assert len(read_measurements(two)) == len(read_measurements(STORED))
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd"), "f.gz") == b"abcd"
    with pytest.raises(UserError, match="more than"):
        gunzip(gzip.compress(b"x" * 600) + gzip.compress(b"x" * 600), "f.gz", limit=1000)
    junk = tmp_path / "junk" / "measurements.csv.gz"
    junk.parent.mkdir()
    junk.write_bytes(STORED.read_bytes() + b"trailing junk")
    with pytest.raises(UserError, match="after its gzip data") as err:
        read_measurements(junk)
    assert str(junk) in str(err.value) and "\n" not in str(err.value)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(b"ab") + gzip.compress(b"cd" * 100)[:12])
    with pytest.raises(UserError, match="cut short"):
        gunzip(cut.read_bytes(), cut)


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
        assert not plain.exists() and stored_file(plain).name == "measurements.csv.gz"
        assert len(read_measurements(plain)) > 10_000


def test_the_shipped_profiles_are_stored_compressed_and_load_by_folder_and_name():
    for device in ("h200", "h100-sxm"):
        folder = data_dir("calibration") / device
        assert not (folder / "profile.json").exists()
        assert stored_file(folder / "profile.json").name == "profile.json.gz"
        by_folder, by_name = load_profile(folder), load_profile(device)
        assert by_folder.device_name == by_name.device_name and by_folder.groups


def test_a_profile_is_written_back_where_it_is_stored(tmp_path):
    """A refit into a folder that keeps profile.json.gz rewrites the .gz (no plain file that
    would shadow it), byte-identically for the same profile; elsewhere it writes plain JSON."""
    src = load_profile("h200")
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "profile.json.gz").write_bytes(b"")          # the stored copy, to be replaced
    written = src.save(kept / "profile.json")
    assert written == kept / "profile.json.gz" and not (kept / "profile.json").exists()
    first = written.read_bytes()
    assert src.save(kept / "profile.json").read_bytes() == first
    plain = tmp_path / "plain"
    plain.mkdir()
    assert src.save(plain / "profile.json") == plain / "profile.json"
    assert gzip.decompress(first) == (plain / "profile.json").read_bytes()
    assert load_profile(kept).to_dict() == load_profile(plain).to_dict()


def test_gzip_bytes_are_the_same_on_every_run_and_name_no_file_or_time():
    data = b"roofsim" * 100
    a = gzip_bytes(data)
    assert a == gzip_bytes(data) and gzip.decompress(a) == data
    assert a[4:8] == b"\0\0\0\0"          # MTIME 0
    assert a[3] & 0x08 == 0                # FLG: no FNAME


def test_stored_text_goes_plain_where_nothing_is_stored_and_where_both_are(tmp_path):
    both = tmp_path / "both.json"
    both.write_text("old")
    (tmp_path / "both.json.gz").write_bytes(gzip_bytes(b"gz"))
    assert write_stored_text(both, "new") == both and both.read_text() == "new"
    fresh = tmp_path / "fresh.json"
    assert write_stored_text(fresh, "x") == fresh and fresh.read_text() == "x"
    named = tmp_path / "named.json.gz"           # a .gz name given: compressed, as readers expect
    assert write_stored_text(named, "y") == named and read_text(named) == "y"
