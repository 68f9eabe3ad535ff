"""benchmarks/measure_models.py checked on the CPU (--device cpu --tiny) with small configs: one
row per case written as measured, provenance with versions and settings, the budget stop."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tiny_models import write_tiny  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("measure_models",
                                                  ROOT / "benchmarks" / "measure_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("measure")
    models = [write_tiny(n, tmp) for n in ("llama-3.1-8b", "qwen3-30b-a3b", "qwen2-vl-7b")]
    out = tmp / "out"
    argv = ["--device", "cpu", "--tiny", "--out", str(out), "--models",
            ",".join(str(m) for m in models), "--prefill", "8", "--prefill-batch", "1,2",
            "--decode-kv", "12", "--batch", "2", "--image", "56x84", "--graph",
            "--warmup", "0", "--repeats", "1", "--profile-repeats", "1"]
    status = _script().main(argv)
    return status, out, [m.stem for m in models]


def test_every_case_has_a_row(measured):
    status, out, names = measured
    assert status == 0
    for name in names:
        rows = _rows(out / name / "e2e.csv")
        cases = [(r["stage"], r["batch"], r["tokens"], r["kv_len"]) for r in rows]
        expected = [("prefill", "1", "8", "0"), ("prefill", "2", "8", "0"),
                    ("decode", "2", "1", "12"), ("decode_graph", "2", "1", "12")]
        if name.endswith("vl-7b"):
            expected.insert(0, ("vision", "1", "0", "0"))
        assert cases == expected
        for r in rows:
            if r["stage"] == "decode_graph":   # no CUDA here: skipped with a reason
                assert r["status"] == "skipped" and r["error"]
            else:
                assert r["status"] == "ok", r["error"]
                assert float(r["wall_median_s"]) > 0


def test_provenance_names_versions_and_settings(measured):
    _, out, names = measured
    import torch
    import transformers
    for name in names:
        prov = json.loads((out / name / "provenance.json").read_text())
        assert prov["torch"] == torch.__version__
        assert prov["transformers"] == transformers.__version__
        assert prov["settings"]["decode_kv"] == [12]
        assert prov["settings"]["layers"] == 2
        assert prov["device_before"]["nvml"] in ("ok", "unavailable")
        assert "device_after" in prov


def test_budget_stops_before_new_cases(tmp_path):
    model = write_tiny("mistral-7b-v0.3", tmp_path)
    out = tmp_path / "out"
    _script().main(["--device", "cpu", "--tiny", "--out", str(out), "--models", str(model),
                    "--budget", "1e-9", "--warmup", "0", "--repeats", "1",
                    "--profile-repeats", "1"])
    assert _rows(out / model.stem / "e2e.csv") == []
