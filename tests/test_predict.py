"""roofsim.predict and `roofsim predict`: stage timing of one request."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.cli import main
from roofsim.engine import simulate
from roofsim.hardware import load_hardware
from roofsim.predict import eager_wall_s, predict, stage_records
from roofsim.workloads import deepseek_ocr as ds

H100 = load_hardware("h100-sxm")


# ---- the eager wall-time model -------------------------------------------------------------

def _eager_by_launch(launch_s, count, h):
    """The definition, one launch at a time: launch j is issued at j x h and starts when it is
    issued and the previous one is done."""
    end, issued = 0.0, 0.0
    for t, c in zip(launch_s, count):
        for _ in range(int(c)):
            issued += h
            end = max(end, issued) + t
    return end


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e-3), st.integers(1, 5)), min_size=1, max_size=30),
       st.floats(0, 5e-4))
def test_eager_wall_time_is_the_one_stream_queue(records, h):
    t = np.array([r[0] for r in records])
    c = np.array([r[1] for r in records], dtype=float)
    assert eager_wall_s(t, c, h) == pytest.approx(_eager_by_launch(t, c, h), rel=1e-9, abs=1e-15)


def test_eager_wall_time_is_launch_bound_or_kernel_bound():
    t = np.full(100, 1e-6)
    assert eager_wall_s(t, np.ones(100), 10e-6) == pytest.approx(100 * 10e-6 + 1e-6)
    assert eager_wall_s(t, np.ones(100), 0.0) == pytest.approx(100e-6)


# ---- stage timing -----------------------------------------------------------------------------

def test_analytic_prediction_is_the_engine_over_the_workload_records():
    req = ds.Request(grid=(2, 3), prompt_tokens=16, decode_tokens=8)
    tables = ds.stage_records(ds.load_config(), req, attention="flash")
    p = predict((2, 3), 16, 8, hardware=H100, implementation="flash")
    assert p.vision_s == pytest.approx(simulate(tables["vision"], H100).total_s)
    assert p.prefill_s == pytest.approx(simulate(tables["prefill"], H100).total_s)
    assert p.ttft_s == pytest.approx(p.vision_s + p.prefill_s)
    assert p.tpot_s == pytest.approx(simulate(tables["decode"], H100).total_s / 8)
    assert p.stages["decode"].launches == pytest.approx(tables["decode"].launches / 8)
    assert p.image_tokens == 893


@pytest.mark.parametrize("impl", ["flash", "normal"])
def test_bound_and_kind_breakdowns_add_up_to_the_stage(impl):
    p = predict("3x3", 16, 4, hardware=H100, implementation=impl)
    for s in p.stages.values():
        assert sum(s.by_bound.values()) == pytest.approx(s.kernel_s)
        assert sum(v[0] for v in s.by_kind.values()) == pytest.approx(s.kernel_s)
        assert sum(v[1] for v in s.by_kind.values()) == pytest.approx(s.launches)


def test_normal_attention_is_never_faster_than_flash():
    f = predict("4x5", 16, 4, hardware=H100, implementation="flash")
    n = predict("4x5", 16, 4, hardware=H100, implementation="normal")
    assert n.ttft_s >= f.ttft_s


def test_one_by_one_grid_is_the_global_view_only():
    p = predict("1x1", 10, 1, hardware=H100, implementation="flash")
    assert p.grid is None and p.image_tokens == 273


def test_no_decode_tokens_means_no_tpot():
    p = predict("1x2", 16, 0, hardware=H100, implementation="flash")
    assert p.tpot_s is None and "decode" not in p.stages


def test_host_overhead_adds_an_eager_estimate_no_less_than_kernel_time():
    p = predict("2x2", 16, 4, hardware=H100, implementation="flash", host_overhead_s=20e-6)
    for s in p.stages.values():
        assert s.eager_s >= s.kernel_s
        assert s.eager_s >= s.launches * 20e-6 * 0.999
    assert p.eager_tpot_s == p.stages["decode"].eager_s


# ---- the captured reference ----------------------------------------------------------------

try:
    import transformers  # noqa: F401
    HAVE_REFERENCE = True
except ImportError:  # pragma: no cover - the reference extra is missing
    HAVE_REFERENCE = False
needs_reference = pytest.mark.skipif(not HAVE_REFERENCE, reason="needs torch and transformers")


@needs_reference
def test_reference_decode_step_is_the_mean_of_the_first_and_last_step():
    from roofsim.reference.stages import capture_stage
    recs = stage_records("reference", "1x2", 16, 5)
    seq = 483 + 16
    first = capture_stage("decode", kv_len=seq).table
    last = capture_stage("decode", kv_len=seq + 4).table
    p = predict("1x2", 16, 5, hardware=H100, records=recs)
    expected = 0.5 * (simulate(first, H100).total_s + simulate(last, H100).total_s)
    assert p.tpot_s == pytest.approx(expected)
    assert p.stages["vision"].launches == recs.table("vision").launches


@needs_reference
def test_reference_has_more_kernels_than_the_fused_analytic_model():
    ref = predict("1x2", 16, 1, hardware=H100, implementation="reference")
    flash = predict("1x2", 16, 1, hardware=H100, implementation="flash")
    for s in ("vision", "prefill", "decode"):
        assert ref.stages[s].launches > flash.stages[s].launches


# ---- the CLI -----------------------------------------------------------------------------------

def test_cli_json_has_every_stage_and_the_objectives(capsys):
    assert main(["predict", "--grid", "2x3", "--prompt-tokens", "16", "--decode-tokens", "10",
                 "--hardware", "h100-sxm", "--implementation", "flash", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ttft_s"] == pytest.approx(d["vision_s"] + d["prefill_s"])
    assert d["tpot_s"] == pytest.approx(d["stages"]["decode"]["kernel_s"])
    for s in ("vision", "prefill", "decode"):
        assert d["stages"][s]["launches"] > 0
        assert set(d["stages"][s]["by_bound_s"]) == {"launch", "tensor", "cuda", "memory", "link"}


def test_cli_text_with_eager_estimate(capsys):
    assert main(["predict", "--grid", "1x2", "--hardware", "h100-sxm", "--implementation",
                 "normal", "--host-overhead-us", "8"]) == 0
    out = capsys.readouterr().out
    assert "TTFT" in out and "TPOT" in out and "eager" in out and "8 us" in out


@pytest.mark.parametrize("args", [["--grid", "0x3"], ["--grid", "abc"],
                                  ["--prompt-tokens", "-1"], ["--host-overhead-us", "x"],
                                  ["--host-overhead-us", "1e308"],
                                  ["--calibration", "/nonexistent/folder"]])
def test_cli_user_mistakes_are_one_line_exit_2(args, capsys):
    assert main(["predict", "--implementation", "flash", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("roofsim: error:") and err.count("\n") == 1


@pytest.mark.parametrize("capacity_gb,limited", [(141, True), (7.2, False)])
def test_the_memory_line_never_offers_more_positions_than_the_decoder_reads(
        capsys, capacity_gb, limited):
    """Memory alone would hold 154,005 positions of DeepSeek-OCR on 141 GB: the line offers the
    decoder's 8,192 and says so; on a small GPU memory binds and its figure stands alone."""
    import re
    assert main(["predict", "--implementation", "flash", "--hardware", "h200",
                 "--set", f"mem_capacity_gb={capacity_gb}"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("memory:"))
    offered = int(re.search(r", ([\d,]+) positions at batch 1", line).group(1).replace(",", ""))
    assert offered <= 8192
    assert ("the model's limit" in line) == limited


def test_a_config_declaring_another_dtype_is_told_what_was_timed(tmp_path, capsys):
    """roofsim times every --model in bf16: a config declaring float32 weights gets a line
    saying so, and the JSON names the dtype timed; a bf16 config gets no line."""
    from roofsim.workloads.hf.configs import model_config
    raw = dict(model_config("llama-3.1-8b").raw)
    raw.pop("dtype", None)
    raw["torch_dtype"] = "float32"
    path = tmp_path / "fp32.json"
    path.write_text(json.dumps(raw))
    base = ["predict", "--hardware", "h200", "--prompt-tokens", "16", "--decode-tokens", "2"]
    assert main([*base, "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert "timed in bfloat16" in out and "declares float32" in out
    assert main([*base, "--model", "llama-3.1-8b"]) == 0
    assert "timed in" not in capsys.readouterr().out
    assert main([*base, "--model", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dtype"] == "bfloat16"


def test_a_config_declaring_quantized_weights_is_told_they_are_not_modelled(tmp_path, capsys):
    """A quantization_config (fp8 blocks, say) was ignored without a word, the model timed and
    sized in bf16 (session 45's CLI sweep): a line says so, in the JSON too."""
    from roofsim.workloads.hf.configs import model_config
    raw = dict(model_config("llama-3.1-8b").raw)
    raw["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3",
                                  "weight_block_size": [128, 128]}
    path = tmp_path / "fp8.json"
    path.write_text(json.dumps(raw))
    base = ["predict", "--hardware", "h200", "--prompt-tokens", "16", "--decode-tokens", "2",
            "--model", str(path)]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "timed in bfloat16" in out and "quantized by fp8 (e4m3)" in out and "not model" in out
    assert main([*base, "--json"]) == 0
    assert "fp8 (e4m3)" in json.loads(capsys.readouterr().out)["dtype_note"]


def test_an_encoder_only_config_is_told_its_decode_step_describes_no_run(tmp_path, capsys):
    """A config naming only an encoder head (BertForMaskedLM) got a decode step and a TPOT
    without a word (session 45's CLI sweep): a line says its architectures do not generate text,
    in the JSON too; a causal LM and a config naming no architecture get none."""
    from roofsim.workloads.hf.configs import model_config
    raw = dict(model_config("llama-3.1-8b").raw)
    base = ["predict", "--hardware", "h200", "--prompt-tokens", "16", "--decode-tokens", "2"]
    for archs, told in ((["LlamaForMaskedLM"], True), (["LlamaForCausalLM"], False), (None, False)):
        raw["architectures"] = archs
        path = tmp_path / "config.json"
        path.write_text(json.dumps(raw))
        assert main([*base, "--model", str(path)]) == 0
        assert ("does not generate text" in capsys.readouterr().out) == told
        assert main([*base, "--model", str(path), "--json"]) == 0
        assert ("generation_note" in json.loads(capsys.readouterr().out)) == told
