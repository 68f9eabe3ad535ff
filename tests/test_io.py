"""roofsim.io: the one reader of YAML, JSON and CSV files, and the atomic writers."""

from __future__ import annotations

import errno
import os

import pytest

from roofsim import io as rio
from roofsim.errors import UserError


def _err(fn, *args, **kw) -> str:
    with pytest.raises(UserError) as exc:
        fn(*args, **kw)
    return str(exc.value)


# ---- reading -----------------------------------------------------------------------------------

def test_yaml_duplicate_key_is_refused_with_its_line(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("outer:\n  x: 1\n  y: 2\n  x: 3\n")
    msg = _err(rio.read_yaml, p)
    assert str(p) in msg and "line 4" in msg and "'x' appears twice" in msg


def test_yaml_same_key_in_different_mappings_is_fine(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("a: {x: 1}\nb: {x: 2}\nc: &base {k: 1}\nd:\n  <<: *base\n  k: 2\n")
    assert rio.read_yaml(p) == {"a": {"x": 1}, "b": {"x": 2}, "c": {"k": 1}, "d": {"k": 2}}


@pytest.mark.parametrize("text, value", [
    # YAML 1.2 core schema, not PyYAML's YAML 1.1 (whose reading is in the comment)
    ("017", 17), ("0o17", 15), ("0x20", 32), ("-42", -42), ("+7", 7),     # 017: octal 15
    ("1:30", "1:30"), ("0b101", "0b101"),                                 # 90, 5
    ("yes", "yes"), ("No", "No"), ("on", "on"), ("OFF", "OFF"), ("y", "y"),  # booleans
    ("true", True), ("False", False), ("TRUE", True),
    ("6e3", 6000.0), ("1.0e12", 1e12), ("-2E-3", -0.002),                 # text, text, -0.002
    ("0.5", 0.5), (".5", 0.5), ("1.", 1.0),
    (".inf", float("inf")), ("-.Inf", float("-inf")),
    ("1_000", 1000), ("2_5.0", 25.0),     # digit separators, as YAML 1.1 and --set read them
    ("~", None), ("null", None), ("", None), ("'017'", "017"), ("1.2.3", "1.2.3"),
])
def test_yaml_scalars_resolve_as_yaml_1_2_core(text, value):
    got = rio.parse_yaml(f"a: {text}\n", "x.yaml")["a"]
    assert got == value and type(got) is type(value)


def test_yaml_nan_and_number_keys():
    got = rio.parse_yaml("a: .NaN\n017: x\n1:30: y\n", "x.yaml")
    assert got["a"] != got["a"] and got[17] == "x" and got["1:30"] == "y"


@pytest.mark.parametrize("text", ["!!int abc", "!!int 1:30", "!!float x", "!!bool yes",
                                  "!!int " + "9" * 5000])
def test_yaml_explicit_tags_with_a_bad_value_are_one_line(text):
    msg = _err(rio.parse_yaml, f"a: 1\nb: {text}\n", "x.yaml")
    assert msg.startswith("x.yaml: line 2: ") and "\n" not in msg


def test_dumped_yaml_reads_back_the_same_under_yaml_1_1_and_1_2():
    """Text a YAML 1.2 reader takes for a number (6e3, 0o17) is quoted, as is text YAML 1.1
    does (yes, 017): a spec written by `hardware derive -o` with name 6e3 loads back."""
    import yaml
    data = {"a": "6e3", "b": "yes", "c": "017", "d": "0o17", "e": "1.0e5", "f": 17,
            "g": 1e20, "h": True, "i": None, "j": "text", "k": 0.5}
    text = rio.dump_yaml(data, sort_keys=False)
    assert rio.parse_yaml(text, "x") == data and yaml.safe_load(text) == data


def test_yaml_explicit_tags_read_as_yaml_1_2():
    assert rio.parse_yaml("a: !!int 017\nb: !!float 1\nc: !!bool true\n", "x") == \
        {"a": 17, "b": 1.0, "c": True}


@pytest.mark.parametrize("content, fragment", [
    (b"\xff\xfe", "not UTF-8"), (b"a: [1\n", "not valid YAML"),
    (b"a: 1\nb\x00: 2\n", "line 2: a NUL byte"),
    (b"[" * 5000 + b"]" * 5000, "not valid YAML"),
])
def test_yaml_decoding_and_syntax_errors_name_the_file(tmp_path, content, fragment):
    p = tmp_path / "bad.yaml"
    p.write_bytes(content)
    msg = _err(rio.read_yaml, p)
    assert msg.startswith(str(p)) and fragment in msg and "\n" not in msg


def test_a_nul_byte_in_a_csv_is_refused_with_its_line(tmp_path):
    p = tmp_path / "c.csv"
    p.write_bytes(b"kind,m\n\n\ngemm,1\x00\n")
    assert "line 4: a NUL byte" in _err(rio.read_csv, p)


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
    p = tmp_path / "bom.yaml"
    p.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert rio.read_yaml(p) == {"a": 1}


def test_os_errors_are_user_errors(tmp_path):
    assert "file not found" in _err(rio.read_text, tmp_path / "gone.yaml", expected="X")
    assert "(expected X)" in _err(rio.read_text, tmp_path / "gone.yaml", expected="X")
    assert "is a folder" in _err(rio.read_text, tmp_path)
    assert "too long" in _err(rio.read_text, tmp_path / ("x" * 300))
    if os.path.exists("/dev/zero"):
        assert "not a regular file" in _err(rio.read_text, "/dev/zero")


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_bytes(b"a: 1\n" * 100)
    assert "larger than" in _err(rio.read_text, p, limit=99)
    assert rio.read_text(p, limit=500).startswith("a: 1")


@pytest.mark.parametrize("text, fragment", [
    ('{"a": 1, "a": 2}', "'a' appears twice"), ('{"a": NaN}', "NaN"),
    ('{"a": Infinity}', "Infinity"), ('{"a": 1,}', "line 1"), ("[" * 100000, "nested"),
])
def test_json_errors(tmp_path, text, fragment):
    p = tmp_path / "p.json"
    p.write_text(text)
    msg = _err(rio.read_json, p)
    assert msg.startswith(str(p)) and fragment in msg


def test_csv_line_numbers_count_blank_lines_and_quoted_newlines(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text('kind,note\n\n\ngemm,"two\nlines"\n\nconv2d,x\n')
    t = rio.read_csv(p, required=("kind",))
    assert [(r.line, r["kind"]) for r in t.rows] == [(4, "gemm"), (7, "conv2d")]
    assert t.where(t.rows[1], "note") == f"{p}: line 7: column note"


@pytest.mark.parametrize("text, fragment", [
    ("kind,m,m\ngemm,1,2\n", "column 'm' appears twice"),
    ("kind,,m\ngemm,1,2\n", "column 2 of the header has no name"),
    ("kind,m\ngemm,1,2\n", "line 2: 3 cells, more than the 2 columns"),
    ("m,n\n1,2\n", "no 'kind' column"),
    ("", "empty"),
])
def test_csv_structure_errors(tmp_path, text, fragment):
    p = tmp_path / "c.csv"
    p.write_text(text)
    assert fragment in _err(rio.read_csv, p, required=("kind",))


def test_csv_short_rows_are_padded_and_cells_stripped(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("kind , m ,n\n gemm , 1\n")
    t = rio.read_csv(p)
    assert t.header == ("kind", "m", "n") and dict(t.rows[0].cells) == {
        "kind": "gemm", "m": "1", "n": ""}


# ---- writing -----------------------------------------------------------------------------------

def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    p = tmp_path / "out.csv"
    rio.atomic_write_text(p, "old\n")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", full)
    msg = _err(rio.atomic_write_text, p, "new\n")
    assert "no space left" in msg and str(p) in msg
    monkeypatch.undo()
    assert p.read_text() == "old\n"
    assert [f.name for f in tmp_path.iterdir()] == ["out.csv"]     # no temporary left


def test_atomic_write_refuses_a_folder_and_a_missing_parent(tmp_path):
    assert "is a folder" in _err(rio.atomic_write_text, tmp_path, "x")
    assert "does not exist" in _err(rio.atomic_write_text, tmp_path / "no" / "f.txt", "x")


def test_atomic_write_goes_through_a_link_and_refuses_a_pipe(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    rio.atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"     # the link still names it
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert "not a regular file" in _err(rio.atomic_write_text, fifo, "x")
    assert fifo.exists() and not fifo.is_file()                 # left as it was


def test_output_folder_moves_everything_in_at_the_end(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.txt").write_text("the user's\n")
    (out / "sweep").mkdir()
    (out / "sweep" / "stale.svg").write_text("old\n")
    (out / "report.md").write_text("old\n")
    with rio.output_folder(out) as staged:
        (staged / "report.md").write_text("new\n")
        (staged / "sweep").mkdir()
        (staged / "sweep" / "fresh.svg").write_text("new\n")
        assert (out / "report.md").read_text() == "old\n"      # nothing moved yet
    assert (out / "report.md").read_text() == "new\n"
    assert sorted(p.name for p in (out / "sweep").iterdir()) == ["fresh.svg"]
    assert (out / "keep.txt").read_text() == "the user's\n"   # not ours: left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]   # no temporaries, no lock


@pytest.mark.parametrize("error", [KeyboardInterrupt, UserError])
def test_output_folder_keeps_the_old_output_when_the_run_fails(tmp_path, error):
    out = tmp_path / "o"
    out.mkdir()
    (out / "a.csv").write_text("old\n")
    with pytest.raises(error):
        with rio.output_folder(out) as staged:
            (staged / "a.csv").write_text("half")
            raise error("stop")
    assert (out / "a.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_a_second_writer_is_refused_and_the_first_still_finishes(tmp_path):
    out = tmp_path / "o"
    with rio.output_folder(out) as staged:
        msg = _err(rio.output_folder(out).__enter__)
        assert "another roofsim run is writing there" in msg
        (staged / "x.txt").write_text("first\n")
    assert (out / "x.txt").read_text() == "first\n"
    with rio.output_folder(out) as staged:          # free again afterwards
        (staged / "x.txt").write_text("second\n")
    assert (out / "x.txt").read_text() == "second\n"


def test_output_folder_checks(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    assert "is a file" in _err(rio.check_output_folder, f)
    assert "is a file, not a folder" in _err(rio.check_output_folder, f / "sub" / "deeper")
    assert "longer than 255" in _err(rio.check_output_folder, tmp_path / ("d" * 300))
    assert rio.check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert "is a folder" in _err(rio.check_output_file, tmp_path)
    assert "does not exist" in _err(rio.check_output_file, tmp_path / "no" / "x.csv")


def test_an_output_path_names_the_part_at_fault(tmp_path):
    """A file where a folder should be, or a folder missing higher up, is named as such (the
    messages said 'the folder <parent> does not exist' for both)."""
    f = tmp_path / "f"
    f.write_text("x")
    for check in (rio.check_output_file, lambda p: rio.atomic_write_text(p, "x")):
        assert f"{f} is a file, not a folder" in _err(check, f / "sub" / "x.csv")
        msg = _err(check, tmp_path / "no" / "such" / "x.csv")
        assert f"the folder {tmp_path / 'no'} does not exist (nor, in it, " \
               f"{tmp_path / 'no' / 'such'})" in msg
        assert f"the folder {tmp_path / 'no'} does not exist" in _err(check, tmp_path / "no" /
                                                                       "x.csv")
    assert not f.is_dir() and not (tmp_path / "no").exists()


def test_a_folder_that_refuses_a_new_file_is_not_called_missing(tmp_path, monkeypatch):
    """/proc and its like exist but answer ENOENT to a new file: the folder was named as not
    existing."""
    def refuse(*_a, **_k):
        raise OSError(errno.ENOENT, "No such file or directory")
    monkeypatch.setattr(rio, "_temp_beside", refuse)
    msg = _err(rio.atomic_write_text, tmp_path / "x.yaml", "x", what="hardware spec")
    assert f"the folder {tmp_path} exists but refuses a new file" in msg
    assert "does not exist" not in msg and str(tmp_path / "x.yaml") in msg


@pytest.mark.skipif(not os.path.isdir("/proc/self") or os.geteuid() != 0,
                    reason="needs Linux's /proc, writable by permission (root)")
def test_writing_into_proc_names_proc_as_refusing():
    msg = _err(rio.atomic_write_text, "/proc/roofsim-test.yaml", "x")
    assert "the folder /proc exists but refuses a new file" in msg
