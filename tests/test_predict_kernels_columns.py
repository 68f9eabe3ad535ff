"""predict-kernels keeps a column it does not know as the user's own, unless it looks like a
misspelling of one the file lacks (then the shape would be timed without it, silently)."""

from __future__ import annotations

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
