"""Bad input drawn by hypothesis: whatever text reaches a size flag, a grid, a hardware file, a
model config, a calibration profile or a cases CSV, the CLI answers with its normal output
(exit 0) or one clear line (exit 2): never a traceback, never more than two lines of error.

EXAMPLES (the sum of the max_examples below) counts into the corpus size the README states.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofsim.cli import main

SIZE_FLAGS = 40
GRIDS = 40
YAML_FILES = 30
JSON_FILES = 20
CSV_FILES = 40
EXAMPLES = SIZE_FLAGS + GRIDS + YAML_FILES + JSON_FILES + CSV_FILES
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def assert_answered(rc: int, out: str, err: str) -> None:
    assert rc in (0, 2), (rc, err)
    assert "Traceback" not in err and "Traceback" not in out
    if rc == 2:
        lines = err.strip().splitlines()
        assert 1 <= len(lines) <= 2 and lines[0].startswith("roofsim: error: "), err
        assert out == ""


# Text a user might type where a number is expected: numbers of every form, and near misses.
numbers = st.one_of(
    st.integers(-10**30, 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789.-+eExX_ ", max_size=12),
    st.text(max_size=8),
)


@settings(max_examples=SIZE_FLAGS, **COMMON)
@given(flag=st.sampled_from(["--prompt-tokens", "--decode-tokens", "--batch", "--min-crops",
                             "--max-crops"]),
       value=numbers)
def test_any_text_for_a_size_is_answered(flag, value):
    argv = ["cost", "--layers", "none", f"{flag}={value}"]
    if "crops" in flag:
        argv += ["--image", "2480x3508"]
    assert_answered(*run(argv))


@settings(max_examples=GRIDS, **COMMON)
@given(rows=numbers, cols=numbers, sep=st.sampled_from(["x", "X", "×", "*", ""]))
def test_any_crop_grid_is_answered(rows, cols, sep):
    assert_answered(*run(["tokens", f"--grid={rows}{sep}{cols}"]))


yaml_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.tuples(st.sampled_from(["name", "id", "sm_count", "decoder", "views", "a"]),
                       st.sampled_from(["1", "-1", "x", "[1, 2]", "{a: 1}", "", "1e999", "null"])),
             max_size=6).map(lambda kv: "".join(f"{k}: {v}\n" for k, v in kv)),
)


@settings(max_examples=YAML_FILES, **COMMON)
@given(text=yaml_text, command=st.sampled_from([("hardware", "show"), ("cost", "--config")]))
def test_any_yaml_file_is_answered(text, command):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        rc, out, err = run([*command, str(path)])
    assert_answered(rc, out, err)
    assert rc == 2          # no such text is a whole hardware spec or model config


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=JSON_FILES, **COMMON)
@given(doc=json_values, profile_like=st.booleans())
def test_any_calibration_profile_is_answered(doc, profile_like):
    if profile_like and isinstance(doc, dict):
        doc = {"format": "roofsim-calibration-profile", **doc}
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "profile.json").write_text(json.dumps(doc))
        rc, out, err = run(["predict", "--implementation", "flash", "--calibration", d])
    assert_answered(rc, out, err)


cells = st.one_of(st.sampled_from(["", "0", "1", "64", "1.5", "-1", "x", "nan", "1e300",
                                   "bfloat16", "int8", "gemm", "attention", "conv2d"]),
                  st.text(alphabet="0123456789.,-e\" \n", max_size=6))
columns = st.lists(st.sampled_from(["kind", "dtype", "m", "n", "k", "bias", "batch", "seq_q",
                                    "seq_kv", "head_dim", "causal", "c_in", "c_out", "h", "w",
                                    "kernel", "stride", "numel", "rows", "cols", "bogus"]),
                   min_size=1, max_size=8)


@settings(max_examples=CSV_FILES, **COMMON)
@given(header=columns, rows=st.lists(st.lists(cells, max_size=9), max_size=4),
       kind=st.sampled_from(["gemm", "linear", "attention", "conv2d", "copy", "softmax"]))
def test_any_cases_csv_is_answered(header, rows, kind):
    lines = [",".join(header)] + [",".join([kind, *r]) for r in rows]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cases.csv"
        path.write_text("\n".join(lines) + "\n")
        assert_answered(*run(["predict-kernels", str(path), "--hardware", "h100-sxm"]))
