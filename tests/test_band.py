"""The calibration note (issue 11, item 2): which device a profile was measured on, how the
target relates to it, the measured error band, and the warning when the target is another GPU."""

from __future__ import annotations

import json

import pytest

from roofsim.calibration import load_profile
from roofsim.calibration.band import measured_bands, profile_note, relation
from roofsim.cli import main
from roofsim.data import data_dir
from roofsim.hardware import DEFAULT_HARDWARE, derive_sm_restricted, load_hardware, spec_to_dict


@pytest.fixture(scope="module")
def h200():
    return load_profile("h200")


@pytest.mark.parametrize("target, expected", [
    (lambda: load_hardware("h200"), "fitted"),
    (lambda: derive_sm_restricted(load_hardware("h200"), 48), "fewer-sms"),
    (lambda: load_hardware("h200", {"sm_count": "200"}), "more-sms"),   # no band: never measured
    (lambda: load_hardware("h100-sxm"), "same-arch"),
    (lambda: load_hardware("rtx-5090"), "other-arch"),
])
def test_relation_of_a_target_to_the_measuring_device(h200, target, expected):
    assert relation(h200, target()) == expected


def test_bands_come_from_the_transfer_benchmark_output(h200):
    doc = json.loads((data_dir("calibration") / "transfer.json").read_text())
    fitted = [r for r in doc["stages"] if r["fit"] == "h200" and r["target"] == "h200"]
    assert fitted
    band = measured_bands()[("h200", "fitted")]
    for stage in {r["stage"] for r in fitted}:
        assert band[stage] == pytest.approx(max(abs(r["error"]) for r in fitted
                                                if r["stage"] == stage))


def test_no_band_is_claimed_where_no_transfer_was_measured(h200):
    note = profile_note(h200, load_hardware("rtx-5090"))
    assert note.band == {} and "another architecture" in note.warning
    assert "tensor efficiencies" not in note.warning      # the same 0.80 share: nothing scaled
    assert profile_note(h200, load_hardware("h200")).warning == ""


def test_the_warning_says_when_the_tensor_efficiencies_are_scaled(h200):
    """On an A100 (MAMF share 0.87 against Hopper's 0.80) the profile's eta_tensor is scaled
    (CalibrationProfile.transfer_params); the warning says by how much, in one line."""
    note = profile_note(h200, load_hardware("a100-sxm-80gb"))
    assert "tensor efficiencies scaled by 1.09" in note.warning
    assert "\n" not in note.warning


def test_predict_names_the_profile_device_and_warns_on_another_gpu(tmp_path, capsys):
    spec = tmp_path / "h200-sm48.yaml"
    assert main(["hardware", "derive", "h200", "--sms", "48", "-o", str(spec)]) == 0
    capsys.readouterr()
    assert main(["predict", "--grid", "1x2", "--hardware", str(spec), "--calibration", "h200",
                 "--implementation", "flash", "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["calibration_device"] == "NVIDIA H200" and doc["calibration_sms"] == 132
    assert doc["calibration_relation"] == "fewer-sms" and doc["uncertainty"]
    assert "warning" in out.err and "48 SMs" in out.err


def test_calibration_alone_targets_the_device_it_was_measured_on(tmp_path, capsys):
    """--calibration without --hardware predicts the profile's own device (its `hardware`, an
    SM-restricted spec included), not the default GPU with another GPU's profile."""
    args = ["predict", "--grid", "1x2", "--implementation", "flash", "--json"]
    assert main(args + ["--calibration", "h200"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["hardware"] == "h200" and doc["calibration_relation"] == "fitted"
    assert "warning" not in out.err
    assert main(args + ["--calibration", "h200", "--hardware", "h100-sxm"]) == 0
    assert json.loads(capsys.readouterr().out)["hardware"] == "h100-sxm"
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["hardware"] == DEFAULT_HARDWARE
    # a profile measured on 48 SMs: its target is that restricted spec; --set applies on top
    profile = load_profile("h200").to_dict()
    profile["hardware"] = spec_to_dict(derive_sm_restricted(load_hardware("h200"), 48))
    profile["device"]["sm_count"] = 48          # one device: profile_from_dict checks the two
    folder = tmp_path / "sm48"
    folder.mkdir()
    (folder / "profile.json").write_text(json.dumps(profile))
    assert main(args + ["--calibration", str(folder)]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["calibration_sms"] == 48 and doc["calibration_relation"] == "fitted"
    assert "warning" not in out.err
    assert main(args + ["--calibration", str(folder), "--set", "sm_count=40"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["calibration_relation"] == "fewer-sms" and "40 SMs" in out.err
    # more SMs than the measuring chip had (session 45's CLI sweep: it was called fewer-sms and
    # given that band): a device nobody measured, so no band and the warning says so
    assert main(args + ["--calibration", str(folder), "--set", "sm_count=64"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["calibration_relation"] == "more-sms" and doc["uncertainty"] == {}
    assert "no such transfer has been measured" in out.err
    assert main(args + ["--calibration", str(folder), "--set", "no_such_field=1"]) == 2
    assert "hardware (--set no_such_field=1): unknown field" in capsys.readouterr().err
