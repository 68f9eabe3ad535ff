"""`roofsim hardware list|show` and `roofsim roofline` through roofsim.cli.main."""

from __future__ import annotations

import json

import pytest
import yaml

from roofsim.cli import main
from roofsim.engine import simulate
from roofsim.hardware import list_hardware, load_hardware, spec_to_dict
from roofsim.records import RecordTable


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def assert_user_error(capsys, *argv, fragments=()):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("roofsim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    for fragment in fragments:
        assert fragment in err, err
    return err


# ---- hardware list / show ------------------------------------------------------------------

def test_list_text_names_every_spec(capsys):
    code, out, _ = run(capsys, "hardware", "list")
    assert code == 0
    for hw_id in list_hardware():
        assert hw_id in out
    assert "ridge" in out and "GB/s" in out


def test_list_json(capsys):
    rows = run_json(capsys, "hardware", "list")
    assert [r["id"] for r in rows] == list_hardware()
    for r in rows:
        spec = load_hardware(r["id"])
        assert r["tensor_bfloat16_tflops"] == spec.tensor_core_tflops["bfloat16"]
        assert r["cuda_float32_tflops"] == spec.cuda_core_tflops["float32"]
        assert r["mem_bandwidth_gbps"] == spec.mem_bandwidth_gbps
        assert r["ridge_point_flop_per_byte"] == pytest.approx(
            spec.tensor_core_tflops["bfloat16"] * 1e12 / (spec.mem_bandwidth_gbps * 1e9))
    assert [r["id"] for r in rows if r["default"]] == ["rtx-5090"]


def test_show_text_lists_every_field_with_source(capsys):
    code, out, _ = run(capsys, "hardware", "show", "h100-sxm")
    assert code == 0
    spec = load_hardware("h100-sxm")
    for name, value in spec_to_dict(spec).items():
        if name in ("schema_version", "sources", "references", "notes"):
            continue
        keys = [f"{name}.{k}" for k in value] if isinstance(value, dict) else [name]
        for key in keys:
            line = next(line for line in out.splitlines() if line.startswith(key + " "))
            if key not in ("id", "name"):
                assert spec.source_of(key) in line
    for ref in spec.references.values():
        assert ref in out


def test_show_default_is_rtx_5090(capsys):
    code, out, _ = run(capsys, "hardware", "show")
    assert code == 0 and out.startswith("rtx-5090:")


def test_show_json_with_overrides(capsys):
    data = run_json(capsys, "hardware", "show", "h100-sxm", "--set", "mem_bandwidth_gbps=6000",
                    "--set", "efficiency.memory=0.9")
    fields = data["fields"]
    assert fields["mem_bandwidth_gbps"] == 6000 and fields["efficiency"]["memory"] == 0.9
    assert fields["id"] == "h100-sxm-derived"
    assert data["derived"]["memory_roof_byte_per_s"] == pytest.approx(6000e9 * 0.9)


def test_show_json_fields_load_back(capsys, tmp_path):
    data = run_json(capsys, "hardware", "show", "l40s")
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(data["fields"]))
    assert spec_to_dict(load_hardware(str(path))) == spec_to_dict(load_hardware("l40s"))


# ---- roofline ------------------------------------------------------------------------------

def test_roofline_json_matches_engine(capsys):
    data = run_json(capsys, "roofline", "--hardware", "h100-sxm", "--flops", "1e12",
                    "--cuda-flops", "1e9", "--bytes", "4e9", "--dtype", "bf16", "--launch", "stream")
    spec = load_hardware("h100-sxm")
    table = RecordTable.from_columns(1, kind="gemm", name="k", dtype="bfloat16",
                                     flops_tensor=1e12, flops_cuda=1e9, bytes_read=4e9)
    t = simulate(table, spec, launch_mode="stream")
    assert data["time_s"] == pytest.approx(float(t.time_s[0]))
    assert data["bound"] == t.bound_names()[0]
    assert data["terms_s"]["memory"] == pytest.approx(float(t.memory_s[0]))
    assert data["inputs"]["dtype"] == "bfloat16"
    assert data["arithmetic_intensity_flop_per_byte"] == pytest.approx((1e12 + 1e9) / 4e9)
    ridge = (spec.tensor_core_tflops["bfloat16"] * spec.efficiency["tensor_core"]
             / (spec.mem_bandwidth_gbps * 1e-3 * spec.efficiency["memory"]))
    assert data["ridge_point_flop_per_byte"]["tensor"] == pytest.approx(ridge)
    assert data["achieved_flop_per_s"] == pytest.approx((1e12 + 1e9) / data["time_s"])


@pytest.mark.parametrize("flops, nbytes, bound, intensity", [
    ("1e13", "1e6", "tensor", "compute side"), ("1e6", "1e10", "memory", "memory side"),
    ("0", "0", "launch", "none (no FLOPs, no bytes)")])
def test_roofline_text(capsys, flops, nbytes, bound, intensity):
    code, out, _ = run(capsys, "roofline", "--flops", flops, "--bytes", nbytes)
    assert code == 0
    assert f"bound: {bound}" in out and "rtx-5090" in out and intensity in out
    assert "inf" not in out


def test_roofline_override_changes_time(capsys):
    base = run_json(capsys, "roofline", "--hardware", "h100-sxm", "--flops", "1", "--bytes", "1e10")
    fast = run_json(capsys, "roofline", "--hardware", "h100-sxm", "--set",
                    "mem_bandwidth_gbps=6704", "--flops", "1", "--bytes", "1e10")
    assert fast["terms_s"]["memory"] == pytest.approx(base["terms_s"]["memory"] / 2)


# ---- bad input: exit 2, one line, no traceback ---------------------------------------------

def test_unknown_hardware(capsys):
    assert_user_error(capsys, "hardware", "show", "h100", fragments=("h100-sxm",))


@pytest.mark.parametrize("argv, named", [
    (["hardware", "derive", "h2000", "--sms", "8"], "hardware derive h2000: unknown hardware"),
    (["hardware", "show", "h2000"], "hardware show h2000: unknown hardware"),
    (["roofline", "--hardware", "h2000", "--flops", "1", "--bytes", "1"],
     "--hardware h2000: unknown hardware"),
])
def test_unknown_hardware_names_how_it_was_given(capsys, argv, named):
    """`hardware derive X` said '--hardware X', an option derive does not have: the message
    names the argument the user gave, and still suggests the close name."""
    err = assert_user_error(capsys, *argv, fragments=(named, "did you mean h200?"))
    assert argv[0] != "hardware" or "--hardware" not in err


def test_missing_file(capsys, tmp_path):
    path = str(tmp_path / "gone.yaml")
    assert_user_error(capsys, "roofline", "--hardware", path, "--flops", "1", "--bytes", "1",
                      fragments=(path, "not found"))


def test_bad_file_field(capsys, tmp_path):
    raw = yaml.safe_load(open(load_hardware("h100-sxm").path))
    raw["mem_bandwidth_gbps"] = 3.35
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert_user_error(capsys, "hardware", "show", str(path),
                      fragments=(str(path), "mem_bandwidth_gbps = 3.35", "TB/s"))


@pytest.mark.parametrize("field, value", [
    ("name", "NVIDIA\nH100"), ("arch", "sm_90\tHopper"), ("name", "H100\x1b[2J"),
    ("name", "H100\u2028SXM"),
])
def test_a_text_field_with_a_control_character_is_refused(capsys, tmp_path, field, value):
    """A name or arch holding a newline, a tab or an escape was printed raw: `hardware show`'s
    title and `hardware list`'s table broke. A file's field and a --set are refused; notes may
    span lines (printed last, on lines of their own)."""
    raw = yaml.safe_load(open(load_hardware("h100-sxm").path))
    raw[field] = value
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert_user_error(capsys, "hardware", "show", str(path),
                      fragments=(str(path), f"{field} = {value!r} holds the control character"))
    assert_user_error(capsys, "hardware", "show", "h100-sxm", "--set", f"{field}={value}",
                      fragments=(f"(--set {field}={value!r})", f"{field} = {value!r}"))
    assert_user_error(capsys, "hardware", "show", "h100-sxm", "--set",
                      f"sources.mem_bandwidth_gbps={value}",
                      fragments=("--set sources.mem_bandwidth_gbps=",
                                 "sources.mem_bandwidth_gbps = "))
    raw[field] = "x"
    raw["notes"] = "two\nlines"
    path.write_text(yaml.safe_dump(raw))
    assert run(capsys, "hardware", "show", str(path))[0] == 0


@pytest.mark.parametrize("setting, fragment", [
    ("mem_bandwidth_gbps=3.35", "did you give TB/s?"), ("efficiency.memory=-1", "efficiency.memory"),
    ("sm_count=many", "sm_count"), ("bogus=1", "unknown field 'bogus'"), ("novalue", "KEY=VALUE"),
])
def test_bad_set(capsys, setting, fragment):
    assert_user_error(capsys, "hardware", "show", "h100-sxm", "--set", setting,
                      fragments=(fragment,))


@pytest.mark.parametrize("argv, fragment", [
    (["--flops", "-5", "--bytes", "1"], "--flops -5"),
    (["--flops", "lots", "--bytes", "1"], "--flops lots"),
    (["--flops", "1", "--bytes", "nan"], "--bytes nan"),
    (["--flops", "1", "--bytes", "1", "--dtype", "int4"], "--dtype int4"),
])
def test_bad_roofline_args(capsys, argv, fragment):
    assert_user_error(capsys, "roofline", *argv, fragments=(fragment,))


def test_set_keeps_the_text_of_a_text_field(capsys):
    """`--set name=1e3` was rewritten to 1000.0 by the command line before the spec read it."""
    data = run_json(capsys, "hardware", "show", "h100-sxm", "--set", "name=1e3")
    assert data["fields"]["name"] == "1e3"


def test_set_number_in_a_yaml_1_1_form_is_refused(capsys):
    """`--set sm_count=1:30` made a 90-SM device without a word (YAML 1.1 sexagesimal)."""
    assert_user_error(capsys, "roofline", "--hardware", "h100-sxm", "--set", "sm_count=1:30",
                      "--flops", "1", "--bytes", "1",
                      fragments=("--set sm_count=1:30", "would read it as 90"))


@pytest.mark.parametrize("argv, fragment", [
    (["h100-sxm", "--sms", "4", "-o", ""], "--output '': expected a file name"),
    (["h100-sxm", "--sms", "2.5"], "--sms 2.5: expected an integer >= 1"),
    (["", "--sms", "4"], "expected a hardware id or a YAML file, not an empty value"),
])
def test_bad_derive_args(capsys, argv, fragment):
    """`hardware derive -o ''` printed the spec instead of refusing the empty file name."""
    assert_user_error(capsys, "hardware", "derive", *argv, fragments=(fragment,))


def test_derive_checks_the_output_before_work(capsys, tmp_path):
    assert_user_error(capsys, "hardware", "derive", "h100-sxm", "--sms", "4", "-o",
                      str(tmp_path / "no" / "x.yaml"), fragments=("--output",))
    assert main(["hardware", "derive", "h100-sxm", "--sms", "4", "-o",
                 str(tmp_path / "x.yaml")]) == 0
    assert load_hardware(str(tmp_path / "x.yaml")).sm_count == 4
