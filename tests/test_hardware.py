"""Hardware specs: the shipped files, the loader against each kind of bad input, overrides, and
round-tripping a spec through YAML."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from roofsim.data import data_dir
from roofsim.errors import UserError
from roofsim.hardware import (DEFAULT_HARDWARE, FIGURE_FIELDS, SCHEMA, SCHEMA_BY_NAME,
                              dump_hardware, list_hardware, load_hardware, spec_from_dict,
                              spec_to_dict, write_hardware)
from roofsim.io import dump_yaml

REQUIRED_IDS = ("rtx-5090", "rtx-4090", "h100-sxm", "h100-pcie", "h200", "a100-sxm-80gb", "l40s",
                "b200")
# The compiled datasheet figures the shipped files were written from (outside the repository:
# present in the development checkout, absent on a bare clone).
DATASHEETS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "gpu-datasheets.yaml"
DATASHEET_IDS = {"rtx-5090": "rtx_5090", "rtx-4090": "rtx_4090", "h100-sxm": "h100_sxm5_80gb",
                 "h100-pcie": "h100_pcie_80gb", "h200": "h200_sxm_141gb",
                 "a100-sxm-80gb": "a100_sxm4_80gb", "l40s": "l40s", "b200": "b200"}


def _raw(hw_id: str) -> dict:
    return yaml.safe_load((data_dir("hardware") / f"{hw_id}.yaml").read_text())


def _write(tmp_path: Path, data, name: str = "x.yaml") -> str:
    """`data` (text, or a mapping written as roofsim writes YAML: dump_yaml quotes a text such
    as an id "0e0" that its YAML 1.2 reading would take for a number; yaml.safe_dump did not,
    and a generated id then failed a test about another field)."""
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else dump_yaml(data, sort_keys=False))
    return str(path)


def _error(name_or_path: str, overrides=None) -> str:
    with pytest.raises(UserError) as info:
        load_hardware(name_or_path, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---- shipped specs -------------------------------------------------------------------------

def test_shipped_ids_and_default():
    ids = list_hardware()
    assert set(REQUIRED_IDS) <= set(ids)
    assert DEFAULT_HARDWARE == "rtx-5090" and DEFAULT_HARDWARE in ids
    assert load_hardware().id == DEFAULT_HARDWARE


@pytest.mark.parametrize("hw_id", REQUIRED_IDS)
def test_shipped_spec_is_complete(hw_id):
    spec = load_hardware(hw_id)
    raw = _raw(hw_id)
    assert spec.id == hw_id and Path(spec.path).name == f"{hw_id}.yaml"
    assert spec.tensor_core_accumulate == "fp32"
    # Every file states its efficiencies and launch overheads explicitly.
    assert set(raw["efficiency"]) == {"tensor_core", "cuda_core", "memory"}
    assert set(raw["launch_overhead_us"]) == {"stream", "cuda_graph"}
    assert spec.launch_overhead_us["stream"] >= spec.launch_overhead_us["cuda_graph"]
    # Every figure has a source, and every cited S-key is written out under references.
    for name, value in spec_to_dict(spec).items():
        if name not in FIGURE_FIELDS:
            continue
        keys = [f"{name}.{k}" for k in value] if isinstance(value, dict) else [name]
        for key in keys:
            assert spec.source_of(key), f"{hw_id}: no source for {key}"
    cited = set(re.findall(r"\bS\d+\b", " ".join(spec.sources.values())))
    assert cited and cited <= set(spec.references), f"{hw_id}: {cited - set(spec.references)}"


@pytest.mark.skipif(not DATASHEETS.is_file(), reason="compiled datasheets not in this checkout")
@pytest.mark.parametrize("hw_id", REQUIRED_IDS)
def test_shipped_figures_match_datasheets(hw_id):
    gpus = {g["id"]: g for g in yaml.safe_load(DATASHEETS.read_text())["gpus"]}
    ref = gpus[DATASHEET_IDS[hw_id]]
    spec = load_hardware(hw_id)
    pairs = [
        (spec.sm_count, ref["sm_count"]), (spec.boost_clock_mhz, ref["boost_clock_mhz"]),
        (spec.mem_bandwidth_gbps, ref["mem_bandwidth_gbps"]),
        (spec.mem_capacity_gb, ref["mem_capacity_gb"]), (spec.l2_cache_mib, ref["l2_mib"]),
        (spec.tensor_core_tflops["bfloat16"], ref["tflops_bf16_dense"]),
        (spec.tensor_core_tflops["float16"], ref["tflops_fp16_dense"]),
        (spec.tensor_core_tflops["float32"], ref["tflops_tf32_dense"]),
        (spec.cuda_core_tflops["float32"], ref["tflops_fp32_vector"]),
    ]
    if ref.get("tflops_fp8_dense") is not None:
        pairs.append((spec.tensor_core_tflops["float8_e4m3fn"], ref["tflops_fp8_dense"]))
    else:
        assert "float8_e4m3fn" not in spec.tensor_core_tflops
    if ref.get("tflops_fp16_vector") is not None:
        pairs.append((spec.cuda_core_tflops["float16"], ref["tflops_fp16_vector"]))
    if ref.get("tflops_bf16_vector") is not None:
        pairs.append((spec.cuda_core_tflops["bfloat16"], ref["tflops_bf16_vector"]))
    if ref.get("tflops_fp16_fp16acc_dense") is not None:
        pairs.append((spec.tensor_core_tflops_fp16_acc["float16"], ref["tflops_fp16_fp16acc_dense"]))
    if ref.get("tensor_peak_clock_mhz") is not None:
        pairs.append((spec.tensor_peak_clock_mhz, ref["tensor_peak_clock_mhz"]))
    measured = ref.get("measured") or {}
    defaults = yaml.safe_load(DATASHEETS.read_text())["global_measured_defaults"]
    launch = defaults["kernel_launch_overhead_us"]
    pairs.append((spec.launch_overhead_us["stream"],
                  measured.get("kernel_launch_us", launch["stream_back_to_back"])))
    pairs.append((spec.launch_overhead_us["cuda_graph"],
                  measured.get("kernel_launch_cuda_graph_us", launch["cuda_graph"])))
    if "gemm_bf16_frac_of_peak" in measured:
        pairs.append((spec.efficiency["tensor_core"],
                      round(measured["gemm_bf16_frac_of_peak"], 2)))
    for got, want in pairs:
        assert got == pytest.approx(want), (hw_id, got, want)


def test_geforce_half_rate_accumulate():
    """GeForce parts: fp32-accumulate tensor peaks are half the fp16-accumulate ones."""
    for hw_id in ("rtx-5090", "rtx-4090"):
        spec = load_hardware(hw_id)
        for dtype in ("float16", "float8_e4m3fn"):
            assert spec.tensor_core_tflops_fp16_acc[dtype] == pytest.approx(
                2 * spec.tensor_core_tflops[dtype], rel=1e-3)


# ---- roofs ---------------------------------------------------------------------------------

def test_roofs_match_scalar_peaks():
    spec = load_hardware("a100-sxm-80gb")
    dtypes = np.array(["bfloat16", "float32", "float8_e4m3fn", "bf16", "int64", "float16"],
                      dtype=object)
    tensor, cuda, mem = spec.roofs(dtypes)
    eff = spec.efficiency
    for i, d in enumerate(dtypes):
        assert tensor[i] == spec.tensor_peak_flops(d) * eff["tensor_core"]
        assert cuda[i] == spec.cuda_peak_flops(d) * eff["cuda_core"]
    assert mem == spec.mem_bandwidth_gbps * 1e9 * eff["memory"]
    # bf16 alias, TF32 for tensor float32; no fp8 path on A100: the CUDA-core fp32 peak.
    assert tensor[3] == tensor[0]
    assert spec.tensor_peak_flops("float32") == spec.tensor_core_tflops["float32"] * 1e12
    assert spec.tensor_peak_flops("float8_e4m3fn") == spec.cuda_core_tflops["float32"] * 1e12
    assert spec.cuda_peak_flops("int64") == spec.cuda_core_tflops["float32"] * 1e12


def test_roofs_many_distinct_labels():
    spec = load_hardware()
    labels = np.array([f"type{i % 40}" for i in range(200)] + ["bfloat16"], dtype=object)
    tensor, cuda, _ = spec.roofs(labels)
    assert tensor[-1] == spec.tensor_peak_flops("bfloat16") * spec.efficiency["tensor_core"]
    assert np.all(cuda[:-1] == spec.cuda_core_tflops["float32"] * 1e12 * spec.efficiency["cuda_core"])


def test_si_conversions():
    spec = load_hardware("h100-sxm")
    assert spec.mem_bandwidth_bytes_per_s == spec.mem_bandwidth_gbps * 1e9
    assert spec.l2_cache_bytes == spec.l2_cache_mib * 2**20
    assert spec.launch_overhead_s("stream") == spec.launch_overhead_us["stream"] * 1e-6
    assert spec.ridge_point("bfloat16") == pytest.approx(
        spec.tensor_core_tflops["bfloat16"] * 1e12 / (spec.mem_bandwidth_gbps * 1e9))


# ---- bad input -----------------------------------------------------------------------------

def test_missing_file(tmp_path):
    msg = _error(str(tmp_path / "nope.yaml"))
    assert "nope.yaml" in msg and "not found" in msg


def test_unknown_name():
    msg = _error("h100-sxm5")
    assert "h100-sxm5" in msg and "h100-sxm" in msg


def test_invalid_yaml(tmp_path):
    msg = _error(_write(tmp_path, "id: [unclosed\n"))
    assert "x.yaml" in msg and "YAML" in msg


@pytest.mark.parametrize("content", ["", "- a\n- b\n", "just text\n"])
def test_not_a_map(tmp_path, content):
    msg = _error(_write(tmp_path, content))
    assert "x.yaml" in msg and "map of fields" in msg


@pytest.mark.parametrize("field", [f.name for f in SCHEMA if f.required])
def test_missing_field(tmp_path, field):
    raw = _raw("h100-sxm")
    del raw[field]
    msg = _error(_write(tmp_path, raw))
    assert "x.yaml" in msg and f"missing field {field}" in msg


def test_missing_required_key(tmp_path):
    raw = _raw("h100-sxm")
    del raw["launch_overhead_us"]["cuda_graph"]
    msg = _error(_write(tmp_path, raw))
    assert "launch_overhead_us.cuda_graph" in msg


def test_unknown_field_suggests(tmp_path):
    raw = _raw("h100-sxm")
    raw["mem_bandwith_gbps"] = raw.pop("mem_bandwidth_gbps")
    msg = _error(_write(tmp_path, raw))
    assert "mem_bandwith_gbps" in msg and "did you mean mem_bandwidth_gbps" in msg


def test_unknown_map_key(tmp_path):
    raw = _raw("h100-sxm")
    raw["tensor_core_tflops"]["fp8"] = 100.0
    msg = _error(_write(tmp_path, raw))
    assert "'fp8'" in msg and "tensor_core_tflops" in msg and "float8_e4m3fn" in msg


@pytest.mark.parametrize("field, value", [
    ("mem_bandwidth_gbps", "3352 GB/s"), ("sm_count", 131.5), ("sm_count", True),
    ("tensor_core_tflops", 989.4), ("efficiency", [0.8]), ("name", 5090),
    ("tensor_core_accumulate", "bf16"),
])
def test_wrong_type(tmp_path, field, value):
    raw = _raw("h100-sxm")
    raw[field] = value
    msg = _error(_write(tmp_path, raw))
    assert "x.yaml" in msg and field in msg and "expected" in msg


@pytest.mark.parametrize("written, fragment", [
    ("1:30", "sm_count = '1:30' has the wrong type (expected an integer (SMs); YAML 1.1 would "
             "read it as 90"),
    ("yes", "sm_count = 'yes' has the wrong type"),
])
def test_yaml_1_1_numbers_in_a_file_are_refused(tmp_path, written, fragment):
    """A hardware file is read as YAML 1.2: what YAML 1.1 read as a number (sexagesimal 1:30,
    the boolean yes) is text, refused by the type check naming the file and the field."""
    text = (data_dir("hardware") / "h100-sxm.yaml").read_text()
    text = re.sub(r"(?m)^sm_count:.*$", f"sm_count: {written}", text)
    msg = _error(_write(tmp_path, text))
    assert "x.yaml" in msg and fragment in msg


@pytest.mark.parametrize("written, value", [("017", 17), ("0o17", 15), ("0x84", 132),
                                            ("1.32e2", 132)])
def test_file_integers_read_as_yaml_1_2(tmp_path, written, value):
    text = (data_dir("hardware") / "h100-sxm.yaml").read_text()
    text = re.sub(r"(?m)^sm_count:.*$", f"sm_count: {written}", text)
    assert load_hardware(_write(tmp_path, text)).sm_count == value


@pytest.mark.parametrize("field, value", [
    ("mem_bandwidth_gbps", 0), ("mem_capacity_gb", -80), ("l2_cache_mib", 0),
    ("boost_clock_mhz", -1), ("sm_count", 0),
])
def test_non_positive(tmp_path, field, value):
    raw = _raw("h100-sxm")
    raw[field] = value
    msg = _error(_write(tmp_path, raw))
    assert "x.yaml" in msg and field in msg and "must be > 0" in msg


@pytest.mark.parametrize("key, value, hint", [
    ("mem_bandwidth_gbps", 3.35, "TB/s"), ("mem_bandwidth_gbps", 3.35e6, "MB/s"),
    ("tensor_core_tflops.bfloat16", 989.4e3 * 1e3, "GFLOP/s"), ("boost_clock_mhz", 1.98, "GHz"),
    ("efficiency.memory", 85, "percent"), ("launch_overhead_us.stream", 2.5e-6, "seconds"),
    ("launch_overhead_us.stream", 2500, "ns"), ("l2_cache_mib", 51200, "KiB"),
])
def test_implausible_magnitude(tmp_path, key, value, hint):
    raw = _raw("h100-sxm")
    top, _, sub = key.partition(".")
    if sub:
        raw[top][sub] = value
    else:
        raw[top] = value
    msg = _error(_write(tmp_path, raw))
    assert "x.yaml" in msg and f"{key} = " in msg and "implausible" in msg and hint in msg


def test_brief_example_message(tmp_path):
    raw = _raw("h100-sxm")
    raw["mem_bandwidth_gbps"] = 3.35
    msg = _error(_write(tmp_path, raw))
    assert msg.endswith("x.yaml: mem_bandwidth_gbps = 3.35 is implausible (expected GB/s "
                        "between 50 and 100000; did you give TB/s?)")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite(tmp_path, value):
    raw = _raw("h100-sxm")
    raw["mem_bandwidth_gbps"] = value
    assert "mem_bandwidth_gbps" in _error(_write(tmp_path, raw))


def test_bad_source_key(tmp_path):
    raw = _raw("h100-sxm")
    raw["sources"]["mem_bw"] = "S3"
    msg = _error(_write(tmp_path, raw))
    assert "mem_bw" in msg and "sources" in msg


def test_bad_id(tmp_path):
    raw = _raw("h100-sxm")
    raw["id"] = "H100 SXM"
    assert "id = 'H100 SXM'" in _error(_write(tmp_path, raw))


def test_zero_allowed_where_documented(tmp_path):
    raw = _raw("h100-sxm")
    raw["launch_overhead_us"]["cuda_graph"] = 0
    raw["interconnect"]["nvlink_bidir_gbps"] = 0
    spec = load_hardware(_write(tmp_path, raw))
    assert spec.launch_overhead_s("cuda_graph") == 0


def test_efficiency_defaults_fill_missing_keys(tmp_path):
    raw = _raw("h100-sxm")
    raw["efficiency"] = {"memory": 0.9}
    spec = load_hardware(_write(tmp_path, raw))
    assert spec.efficiency["memory"] == 0.9
    from roofsim.hardware import DEFAULT_EFFICIENCY
    assert spec.efficiency["tensor_core"] == DEFAULT_EFFICIENCY["tensor_core"]


def test_minimal_user_file(tmp_path):
    """The README's hypothetical GPU loads; figures without a source cite nothing."""
    readme = (data_dir("hardware") / "README.md").read_text()
    block = readme.split("## A hypothetical GPU", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    spec = load_hardware(_write(tmp_path, block, "my-gpu.yaml"))
    assert spec.id == "my-gpu" and spec.source_of("mem_bandwidth_gbps") == ""


# ---- overrides -----------------------------------------------------------------------------

def test_overrides_derive_a_spec():
    base = load_hardware("h100-sxm")
    spec = load_hardware("h100-sxm", {"mem_bandwidth_gbps": "6000",
                                      "tensor_core_tflops.bfloat16": "2000",
                                      "efficiency.memory": "0.9",
                                      "launch_overhead_us.stream": "4"})
    assert spec.mem_bandwidth_gbps == 6000
    assert spec.tensor_core_tflops["bfloat16"] == 2000
    assert spec.tensor_core_tflops["float16"] == base.tensor_core_tflops["float16"]
    assert spec.efficiency["memory"] == 0.9
    assert spec.efficiency["tensor_core"] == base.efficiency["tensor_core"]
    assert spec.launch_overhead_us["stream"] == 4
    assert spec.id == "h100-sxm-derived" and "derived" in spec.name
    assert "mem_bandwidth_gbps=6000" in spec.name
    assert "--set mem_bandwidth_gbps=6000" in spec.source_of("mem_bandwidth_gbps")
    assert "--set tensor_core_tflops.bfloat16=2000" in spec.source_of("tensor_core_tflops.bfloat16")
    assert spec.source_of("tensor_core_tflops.float16") == base.source_of("tensor_core_tflops.float16")


def test_override_adds_map_entry_and_renames():
    spec = load_hardware("a100-sxm-80gb", {"tensor_core_tflops.float8_e4m3fn": "624",
                                           "id": "a100-fp8", "name": "A100 with fp8"})
    assert spec.tensor_core_tflops["float8_e4m3fn"] == 624
    assert spec.id == "a100-fp8" and spec.name == "A100 with fp8"


@pytest.mark.parametrize("key, value, fragment", [
    ("mem_bandwidth_gbps", "3.35", "did you give TB/s?"),
    ("mem_bw", "3000", "unknown field 'mem_bw'"),
    ("efficiency", "0.9", "efficiency is a map"),
    ("sm_count.x", "3", "sm_count is not a map"),
    ("efficiency.memory", "abc", "wrong type"),
    ("tensor_core_tflops.bf16", "2000", "did you mean bfloat16?"),
    # YAML 1.1 forms a number field no longer takes silently (sexagesimal, hex, binary, bool)
    ("sm_count", "1:30", "written in decimal; YAML 1.1 would read it as 90"),
    ("sm_count", "0x20", "YAML 1.1 would read it as 32"),
    ("sm_count", "0b101", "YAML 1.1 would read it as 5"),
    ("efficiency.memory", "yes", "YAML 1.1 would read it as True"),
    ("mem_bandwidth_gbps", ".inf", "written in decimal"),
])
def test_bad_override(key, value, fragment):
    msg = _error("h100-sxm", {key: value})
    assert "h100-sxm.yaml" in msg and f"--set {key}={value}" in msg and fragment in msg


@pytest.mark.parametrize("text, value", [
    ("017", 17), ("0017", 17), ("1_000", 1000), ("132.0", 132), ("+132", 132), ("1e3", 1000),
])
def test_override_numbers_are_decimal(text, value):
    """A --set number reads as the command line's other numbers do (`--sms 017` is 17), not as
    YAML 1.1 would (017 octal 15, 1:30 sexagesimal 90)."""
    assert load_hardware("h100-sxm", {"sm_count": text}).sm_count == value


def test_override_of_a_text_field_stays_text():
    assert load_hardware("h100-sxm", {"name": "1e3", "notes": "017"}).name == "1e3"


# ---- round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("hw_id", REQUIRED_IDS)
def test_shipped_round_trip(tmp_path, hw_id):
    spec = load_hardware(hw_id)
    again = load_hardware(str(write_hardware(spec, tmp_path / f"{hw_id}.yaml")))
    assert spec_to_dict(again) == spec_to_dict(spec)
    assert spec_from_dict(yaml.safe_load(dump_hardware(spec))) == \
        spec_from_dict(spec_to_dict(spec))


def _in_range(spec_name: str, integer: bool = False):
    f = SCHEMA_BY_NAME[spec_name]
    if integer:
        return st.integers(int(f.low), int(f.high))
    return st.floats(f.low, f.high, allow_nan=False, allow_infinity=False)


@st.composite
def valid_specs(draw) -> dict:
    """Random valid hardware files (figures anywhere in their plausible ranges)."""
    tensor_keys = draw(st.sets(st.sampled_from(SCHEMA_BY_NAME["tensor_core_tflops"].keys)))
    cuda_keys = draw(st.sets(st.sampled_from(SCHEMA_BY_NAME["cuda_core_tflops"].keys)))
    data = {
        "id": draw(st.from_regex(r"[a-z0-9][a-z0-9-]{0,12}", fullmatch=True)),
        "name": draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl",
                                                                               "Zp")),
                             min_size=1, max_size=20).filter(str.strip)),
        "sm_count": draw(_in_range("sm_count", integer=True)),
        "boost_clock_mhz": draw(_in_range("boost_clock_mhz")),
        "tensor_core_accumulate": draw(st.sampled_from(("fp32", "fp16"))),
        "tensor_core_tflops": {k: draw(_in_range("tensor_core_tflops"))
                               for k in tensor_keys | {"bfloat16"}},
        "cuda_core_tflops": {k: draw(_in_range("cuda_core_tflops")) for k in cuda_keys | {"float32"}},
        "mem_bandwidth_gbps": draw(_in_range("mem_bandwidth_gbps")),
        "mem_capacity_gb": draw(_in_range("mem_capacity_gb")),
        "l2_cache_mib": draw(_in_range("l2_cache_mib")),
        "launch_overhead_us": {k: draw(st.just(0.0) | _in_range("launch_overhead_us"))
                               for k in ("stream", "cuda_graph")},
        "efficiency": {k: draw(_in_range("efficiency"))
                       for k in ("tensor_core", "cuda_core", "memory")},
    }
    if draw(st.booleans()):
        data["sources"] = {"mem_bandwidth_gbps": draw(st.text(st.characters(
            exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30))}
    return data


def top_of(key: str) -> str:
    return key.split(".", 1)[0]


CORRUPTIONS = {
    "missing": lambda v: None,
    "string": lambda v: "lots",
    "negative": lambda v: -abs(v) - 1 if isinstance(v, (int, float)) else -1,
    "huge": lambda v: 1e12,
    "list": lambda v: [v],
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=valid_specs())
def test_any_valid_spec_round_trips(tmp_path, data):
    spec = load_hardware(_write(tmp_path, data))
    again = load_hardware(str(write_hardware(spec, tmp_path / "again.yaml")))
    assert spec_to_dict(again) == spec_to_dict(spec)
    assert again.mem_bandwidth_gbps == data["mem_bandwidth_gbps"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=valid_specs(), how=st.sampled_from(sorted(CORRUPTIONS)),
       field=st.sampled_from(["sm_count", "boost_clock_mhz", "mem_bandwidth_gbps",
                              "mem_capacity_gb", "l2_cache_mib", "tensor_core_tflops.bfloat16",
                              "cuda_core_tflops.float32", "efficiency.memory",
                              "launch_overhead_us.stream"]))
def test_corrupted_field_gives_clear_error(tmp_path, data, how, field):
    assume(not (how == "missing" and top_of(field) == "efficiency"))  # missing keys default
    top, _, sub = field.partition(".")
    holder, key = (data[top], sub) if sub else (data, top)
    bad = CORRUPTIONS[how](holder[key])
    if bad is None:
        del holder[key]
    else:
        holder[key] = bad
    msg = _error(_write(tmp_path, data))
    assert msg.startswith(str(tmp_path / "x.yaml") + ": ")
    assert field in msg and "expected" in msg


def test_a_measured_folders_unknown_device_is_not_called_an_option(tmp_path):
    """calibrate --fit-only picks the spec named like the measured device: an unknown one is
    'device X', not '--hardware X' (an option the user did not give)."""
    from roofsim.calibration.fit import hardware_for
    out = tmp_path / "h2000"
    out.mkdir()
    with pytest.raises(UserError) as err:
        hardware_for(out, None)
    assert "(device h2000: unknown hardware" in str(err.value)
    assert "--hardware h2000" not in str(err.value)

