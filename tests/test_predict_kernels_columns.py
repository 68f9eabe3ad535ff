"""predict-kernels keeps a column it does not know as the user's own, unless it looks like a
misspelling of one the file lacks (then the shape would be timed without it, silently)."""

from __future__ import annotations

import csv
import io

import pytest

from roofsim.cli import main


@pytest.mark.parametrize("column,meant", [("dtyp", "dtype"), ("bais", "bias"),
                                          ("causel", "causal")])
def test_a_misspelt_column_is_named_with_its_guess(tmp_path, capsys, column, meant):
    cases = tmp_path / "c.csv"
    cases.write_text(f"kind,m,n,k,{column}\nlinear,893,1280,1280,1\n")
    assert main(["predict-kernels", str(cases), "--hardware", "h200"]) == 2
    err = capsys.readouterr().err
    assert f"column '{column}': did you mean '{meant}'?" in err and len(err.splitlines()) == 1


def test_the_users_own_columns_are_kept(tmp_path, capsys):
    cases = tmp_path / "c.csv"
    cases.write_text("kind,m,n,k,note\nlinear,893,1280,1280,qkv projection\n")
    assert main(["predict-kernels", str(cases), "--hardware", "h200"]) == 0
    assert "qkv projection" in capsys.readouterr().out


@pytest.mark.parametrize("written", ["BF16", "BFloat16", " bf16 ", "Float16", "FP32"])
def test_a_dtype_is_read_whatever_its_case(tmp_path, capsys, written):
    """'BF16' is how papers and vendors write it: the same dtype as 'bf16', the same time."""
    canonical = {"bf16": "bf16", "bfloat16": "bf16", "float16": "fp16", "fp32": "fp32"}[
        written.strip().lower()]
    times = []
    for dtype in (written, canonical):
        cases = tmp_path / "c.csv"
        cases.write_text(f"kind,dtype,m,n,k\nlinear,{dtype},893,1280,1280\n")
        assert main(["predict-kernels", str(cases), "--hardware", "h200"]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert len(rows) == 1 and rows[0]["dtype"] == dtype.strip()   # repeated as read
        times.append(float(rows[0]["predicted_s"]))
    assert times[0] == times[1] > 0


def test_a_dtype_that_is_none_in_any_case_is_still_refused(tmp_path, capsys):
    cases = tmp_path / "c.csv"
    cases.write_text("kind,dtype,m,n,k\nlinear,BF17,893,1280,1280\n")
    assert main(["predict-kernels", str(cases), "--hardware", "h200"]) == 2
    err = capsys.readouterr().err
    assert "'BF17' is not a documented dtype" in err and len(err.splitlines()) == 1
