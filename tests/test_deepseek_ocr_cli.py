"""`roofsim tokens` and `roofsim cost`."""

import json

import pytest

from roofsim.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_tokens_for_an_a4_page(capsys):
    rc, out, _ = run(capsys, "tokens", "--image", "2480x3508", "--json")
    d = json.loads(out)
    assert rc == 0 and d["grid"] == [3, 2] and d["image_tokens"] == 903


def test_tokens_text_names_views_grid_and_tokens(capsys):
    rc, out, _ = run(capsys, "tokens", "--grid", "10x10")
    assert rc == 0 and "10373" in out and "10x10" in out


def test_cost_json_has_the_stage_fields(capsys):
    rc, out, _ = run(capsys, "cost", "--grid", "2x3", "--prompt-tokens", "16",
                     "--decode-tokens", "100", "--json")
    d = json.loads(out)
    assert rc == 0 and d["image_tokens"] == 893
    for stage in ("vision", "prefill", "decode"):
        for key in ("flops_tensor", "flops_cuda", "bytes", "activation_peak_bytes",
                    "kv_cache_bytes", "weight_bytes"):
            assert d["stages"][stage][key] >= 0
    assert d["stages"]["decode"]["kv_cache_bytes"] == (893 + 16 + 100) * 61440
    assert d["layers"] and d["parameters"]["total"] == 3_336_106_240


def test_cost_text_prints_stages_and_layers(capsys):
    rc, out, _ = run(capsys, "cost", "--grid", "1x2", "--attention", "normal")
    assert rc == 0
    for word in ("vision", "prefill", "decode", "vision.sam.blocks.2", "decoder.layers.11", "lm_head"):
        assert word in out


@pytest.mark.parametrize("argv", [
    ("cost", "--grid", "0x3"),
    ("cost", "--grid", "2x3", "--prompt-tokens", "-4"),
    ("cost", "--grid", "2x3", "--decode-tokens", "ten"),
    ("cost", "--mode", "huge"),
    ("tokens", "--image", "0x100"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("roofsim: error:")


def test_malformed_config_is_one_line_and_status_2(capsys, tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: x\ndtype: bfloat16\nsam: {}\n")
    rc, _, err = run(capsys, "cost", "--config", str(bad), "--grid", "2x2")
    assert rc == 2 and str(bad) in err and len(err.strip().splitlines()) == 1


def test_the_reference_refuses_a_config_of_other_dimensions(capsys, tmp_path):
    from roofsim.data import data_dir
    shipped = (data_dir("workloads") / "deepseek-ocr.yaml").read_text()
    assert "  layers: 12\n" in shipped
    same, other = tmp_path / "same.yaml", tmp_path / "deeper.yaml"
    same.write_text(shipped)                       # the shipped dimensions from another path
    other.write_text(shipped.replace("  layers: 12\n", "  layers: 24\n"))
    rc, _, err = run(capsys, "predict", "--config", str(other), "--hardware", "h200")
    assert rc == 2 and "the captured reference has the shipped DeepSeek-OCR" in err
    assert run(capsys, "predict", "--config", str(other), "--implementation", "flash",
               "--hardware", "h200")[0] == 0
    assert run(capsys, "predict", "--config", str(same), "--hardware", "h200")[0] == 0


@pytest.mark.parametrize("short, argv", [
    ("--tpot", ("serve", "--tpot", "2", "--requests", "5")),    # not --tpot-target-ms 2
    ("--calib", ("predict", "--calib", "h200")),                # not --calibration h200
    ("--prompt", ("cost", "--grid", "2x3", "--prompt", "16")),  # not --prompt-tokens 16
])
def test_abbreviated_options_are_refused(capsys, short, argv):
    """argparse would complete a unique prefix (`serve --tpot 2` read as a 2 ms TPOT target;
    `serve --tp 2` was one too, before serve had --tp): a request the user did not make. Every
    option must be spelled out."""
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert f"unrecognized arguments: {short} " in err and len(err.strip().splitlines()) == 1


def test_predict_names_the_shipped_profile_it_did_not_use(capsys):
    """Without --calibration on a GPU whose measured profile ships, the text says so (the
    roofline alone is what it printed); with it, or on a GPU without one, it does not."""
    rc, out, _ = run(capsys, "predict", "--hardware", "h200", "--decode-tokens", "2")
    assert rc == 0 and out.strip().splitlines()[-1].endswith("add --calibration h200")
    rc, out, _ = run(capsys, "predict", "--hardware", "h200", "--calibration", "h200",
                     "--decode-tokens", "2")
    assert rc == 0 and "add --calibration" not in out
    rc, out, _ = run(capsys, "predict", "--hardware", "a100-sxm-80gb", "--decode-tokens", "2")
    assert rc == 0 and "add --calibration" not in out
