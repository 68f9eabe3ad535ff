"""benchmarks/measure_models.py checked on the CPU (--device cpu --tiny) with small configs: one
row per case written as measured, provenance with versions and settings, the budget stop."""

import csv
import json
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tiny_models import write_tiny  # noqa: E402
from benchmark_module import load_benchmark  # noqa: E402



def _script():
    return load_benchmark("measure_models")


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


def test_accuracy_benchmark_compares_measured_folders(measured, tmp_path, monkeypatch, capsys):
    """bench_models_accuracy.py reads a measured folder (the config from its provenance, tiny
    layer count included) and prints predicted vs measured per case: with every measured time
    set to 1.25 x the prediction, each error is 1 / 1.25 - 1."""
    from roofsim.calibration.profile import load_profile
    from roofsim.e2e import case_label, compare_model_e2e, load_model_e2e, measured_model
    from roofsim.hardware import load_hardware
    _, out, names = measured
    monkeypatch.setenv("ROOFSIM_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "e2e" / names[0]
    shutil.copytree(out / names[0], folder)
    rows, prov = load_model_e2e(folder)
    for r in rows:
        r["kernel_s"] = "1"                  # any positive time: the predictions come first
    preds = {(c.stage, c.case): c.predicted_s for c in compare_model_e2e(
        measured_model(folder, prov), rows, load_hardware("h200"), load_profile("h200"))}
    assert {stage for stage, _ in preds} == {"prefill", "decode"}
    every = _rows(folder / "e2e.csv")
    for r in every:
        if r["status"] == "ok":
            key = (r["stage"], case_label(r["stage"], int(r["batch"]), int(r["tokens"]),
                                          int(r["kv_len"])))
            r["kernel_s"] = repr(1.25 * preds[key])
    with open(folder / "e2e.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(every[0]))
        w.writeheader()
        w.writerows(every)
    bench = load_benchmark("bench_models_accuracy")
    capsys.readouterr()
    assert bench.main(["--device", "h200", "--e2e", str(tmp_path / "e2e"), "--json",
                       str(tmp_path / "acc.json")]) == 0
    assert f"{1 / 1.25 - 1:+.1%}" in capsys.readouterr().out
    compared = json.loads((tmp_path / "acc.json").read_text())
    assert len(compared) == len(preds)
    assert all(abs(r["error"] - (1 / 1.25 - 1)) < 1e-9 for r in compared)


def test_zero_repeats_are_one_line():
    with pytest.raises(SystemExit, match="--repeats"):
        _script().main(["--device", "cpu", "--tiny", "--out", "/nonexistent", "--repeats", "0"])
