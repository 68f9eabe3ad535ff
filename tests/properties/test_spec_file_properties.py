"""Spec files (hardware/*.yaml, workloads/deepseek-ocr.yaml): any valid document round-trips
through YAML; a randomly corrupted field gives the clear one-line error that names the file and
the field, never a traceback (library and CLI)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from roofsim.cli import main as cli_main
from roofsim.errors import UserError
from roofsim.io import dump_yaml
from roofsim.hardware import SCHEMA, SCHEMA_BY_NAME, dump_hardware, load_hardware, spec_to_dict
from roofsim.workloads.deepseek_ocr import config_from_dict, load_config
from strategies import (FEW, MEDIUM, SHIPPED_SPECS, config_dicts, random_config_dicts,
                        random_spec_dicts)


@contextlib.contextmanager
def _yaml_file(doc, text: str | None = None):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        # roofsim's dumper quotes a text its YAML 1.2 reading would take for a number ('0E0'
        # as a name): yaml.safe_dump wrote it bare and the file then failed on the name first
        path.write_text(text if text is not None else dump_yaml(doc, sort_keys=False),
                        encoding="utf-8")
        yield path


def _cli(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli_main(argv)
        except SystemExit as exc:                 # argparse exits on its own errors
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def _assert_clear(message: str, path: Path, field: str | None) -> None:
    assert "\n" not in message.strip(), message
    assert "Traceback" not in message
    assert str(path) in message or path.name in message, message
    if field is not None:
        assert field in message, (field, message)


# ---- hardware specs ------------------------------------------------------------------------

@MEDIUM
@given(doc=st.one_of(st.sampled_from(sorted(SHIPPED_SPECS)).map(
    lambda h: spec_to_dict(SHIPPED_SPECS[h])), random_spec_dicts()))
def test_any_valid_hardware_document_round_trips(doc):
    with _yaml_file(doc) as path:
        spec = load_hardware(str(path))
    again = yaml.safe_load(dump_hardware(spec))
    assert again == spec_to_dict(spec)
    with _yaml_file(None, text=dump_hardware(spec)) as path:
        reloaded = load_hardware(str(path))
    assert dataclasses.replace(reloaded, path="") == dataclasses.replace(spec, path="")
    for f in SCHEMA:
        if f.name in doc and f.kind == "number":
            assert math.isclose(getattr(spec, f.name), doc[f.name], rel_tol=1e-15)


_NOT_A_NUMBER = st.sampled_from(["fast", "", [1, 2], {"a": 1}, True])
_BAD_NUMBERS = {"negative": st.sampled_from([-1.0, -1e9]), "huge": st.just(1e300),
                "nan": st.just(float("nan")), "infinite": st.sampled_from([float("inf"),
                                                                           float("-inf")]),
                "type": _NOT_A_NUMBER}
HARDWARE_CORRUPTIONS = (*_BAD_NUMBERS, "delete", "unknown", "map_key")


@st.composite
def corrupted_hardware(draw, how: str):
    """(document, the field the error must name) with one field corrupted `how`."""
    doc = draw(random_spec_dicts())
    if how == "unknown":
        field = draw(st.sampled_from(sorted(doc)))
        doc["bogus_" + field] = 1
        return doc, "bogus_" + field
    if how == "delete":
        field = draw(st.sampled_from([f.name for f in SCHEMA if f.required]))
        del doc[field]
        return doc, field
    if how == "map_key":
        field = draw(st.sampled_from([f.name for f in SCHEMA if f.kind == "numbers"
                                      and f.name in doc]))
        doc[field] = {**doc[field], "no_such_key": 1.0}
        return doc, "no_such_key"
    # a bad value in a number field, a number map's entry, or (wrong type) a text field
    kinds = ("number", "integer", "numbers") + (("text",) if how == "type" else ())
    field = draw(st.sampled_from([f.name for f in SCHEMA if f.name in doc and f.kind in kinds
                                  and not f.choices]))
    spec = SCHEMA_BY_NAME[field]
    if spec.kind == "text":
        doc[field] = draw(st.sampled_from([5, [1], {"x": 1}, True]))
        return doc, field
    bad = draw(_BAD_NUMBERS[how])
    if spec.kind == "numbers":
        key = draw(st.sampled_from(sorted(doc[field])))
        doc[field] = {**doc[field], key: bad}
        return doc, f"{field}.{key}"
    doc[field] = bad
    return doc, field


@pytest.mark.parametrize("how", HARDWARE_CORRUPTIONS)
@FEW
@given(data=st.data())
def test_a_corrupted_hardware_field_gives_the_clear_error(how, data):
    doc, field = data.draw(corrupted_hardware(how))
    with _yaml_file(doc) as path:
        try:
            load_hardware(str(path))
        except UserError as err:
            _assert_clear(str(err), path, field)
        else:
            raise AssertionError(f"accepted a corrupted {field}")
        status, _, stderr = _cli(["hardware", "show", str(path)])
    assert status == 2
    assert stderr.startswith("roofsim: error: ") and stderr.count("\n") == 1, stderr
    _assert_clear(stderr, path, field)


@MEDIUM
@given(doc=random_spec_dicts(), cut=st.integers(1, 400), junk=st.sampled_from(
    [": : :", "\t- [", "{unclosed", "key: [1, 2", "\x00"]))
def test_a_mangled_hardware_file_gives_the_clear_error(doc, cut, junk):
    text = yaml.safe_dump(doc, sort_keys=False)
    text = text[:cut] + junk + text[cut:]
    with _yaml_file(None, text=text) as path:
        try:
            load_hardware(str(path))
        except UserError as err:
            _assert_clear(str(err), path, None)
        # a mangling that still parses to a valid spec is fine; any other exception is not


# ---- workload configs ----------------------------------------------------------------------

def _config_document(cfg) -> dict:
    """A loaded config back to the YAML document it came from."""
    doc = {"name": cfg.name, "dtype": cfg.dtype}
    for section in ("sam", "compressor", "clip", "projector", "decoder", "views"):
        part = dataclasses.asdict(getattr(cfg, section))
        doc[section] = {k: (list(v) if isinstance(v, tuple) and k != "modes" else v)
                        for k, v in part.items()}
    doc["views"]["modes"] = dict(cfg.views.modes)
    return doc


@MEDIUM
@given(raw=config_dicts())
def test_any_valid_workload_config_round_trips(raw):
    with _yaml_file(raw) as path:
        cfg = load_config(path)
    assert cfg == dataclasses.replace(config_from_dict(copy.deepcopy(raw)), source=str(path))
    doc = _config_document(cfg)
    assert doc == {**raw, "views": {**raw["views"], "modes": {k.lower(): v for k, v in
                                                             raw["views"]["modes"].items()}}}
    with _yaml_file(doc) as path2:
        assert dataclasses.replace(load_config(path2), source="") == \
            dataclasses.replace(cfg, source="")


@st.composite
def corrupted_configs(draw):
    """(document, the name the error must contain)."""
    doc = draw(random_config_dicts())
    section = draw(st.sampled_from(["sam", "compressor", "clip", "projector", "decoder",
                                    "views", "<top>"]))
    how = draw(st.sampled_from(["type", "negative", "delete", "unknown", "null"]))
    if section == "<top>":
        key = draw(st.sampled_from(["name", "dtype", "sam", "decoder", "views"]))
        if how == "unknown":
            doc["bogus_section"] = {}
            return doc, "bogus_section"
        if how == "delete":
            del doc[key]
            return doc, key
        doc[key] = 7 if key in ("name", "dtype") else draw(st.sampled_from([7, "x", None, [1]]))
        return doc, key
    fields = doc[section]
    key = draw(st.sampled_from(sorted(fields)))
    value = fields[key]
    if how == "unknown":
        fields["bogus_" + key] = 1
        return doc, "bogus_" + key
    if how == "delete":
        del fields[key]
        return doc, key
    if how == "null":
        fields[key] = None
        return doc, key
    if isinstance(value, bool):
        fields[key] = draw(st.sampled_from(["yes please", 2, [True]]))
    elif isinstance(value, int):
        fields[key] = -1 if how == "negative" else draw(st.sampled_from(["12", 1.5, [3], True]))
    elif isinstance(value, str):
        fields[key] = draw(st.sampled_from([3, [key], {"a": 1}]))
    elif isinstance(value, list):
        fields[key] = draw(st.sampled_from(["0,1", [-1], [1.5], 3]))
    else:                                              # views.modes
        fields[key] = draw(st.sampled_from([[], {"tiny": -64}, {"tiny": "big"}, 640]))
    return doc, key


@MEDIUM
@given(case=corrupted_configs())
def test_a_corrupted_config_field_gives_the_clear_error(case):
    doc, field = case
    with _yaml_file(doc) as path:
        try:
            load_config(path)
        except UserError as err:
            _assert_clear(str(err), path, field)
        else:
            raise AssertionError(f"accepted a corrupted {field}")
        status, _, stderr = _cli(["cost", "--config", str(path), "--json"])
    assert status == 2
    assert stderr.startswith("roofsim: error: ") and stderr.count("\n") == 1, stderr
    _assert_clear(stderr, path, field)
