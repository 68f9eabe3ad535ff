"""Transformers models from their config (issue 12): shipped configs, capture of what the real
kernels do (GQA through SDPA, repeat_kv where a mask forces it, MLA, MoE grouped GEMMs, sliding
windows), the prefill FLOP cross-check against the closed form, the workload protocol and the
CLI (`roofsim predict --model`, `roofsim models`)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roofsim.workloads.hf.configs import model_config, shipped_models
from roofsim.workloads.hf.workload import decode_points

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from roofsim.capture import capture  # noqa: E402
from roofsim.kernels import work  # noqa: E402
from roofsim.workloads.hf import build, cases, params  # noqa: E402
from roofsim.workloads.hf.check import FLOP_TOLERANCE  # noqa: E402
from tiny_models import tiny_raw, write_tiny  # noqa: E402

PREFILL_TOKENS = 256


@pytest.fixture(scope="module")
def built():
    """Every shipped model built on meta once (no weights)."""
    return {n: build.build_model(model_config(n)) for n in shipped_models()}


def _capture(model, case):
    args, kwargs = case.make_inputs()
    return capture(case.module, *args, **kwargs)


# ---- shipped configs -------------------------------------------------------------------

def test_issue_models_are_shipped():
    need = {"llama-3.1-8b", "qwen2.5-7b", "qwen3-30b-a3b", "mistral-7b-v0.3", "deepseek-v2-lite"}
    assert need <= set(shipped_models())
    assert any(model_config(n).is_vision_language for n in shipped_models())


@pytest.mark.parametrize("name", shipped_models())
def test_config_builds_with_its_layers_and_parameters(built, name):
    mc = model_config(name)
    model = built[name]
    assert build.text_config(model).num_hidden_layers == mc.num_layers
    counts = params.parameter_counts(model, mc)
    assert counts.total == sum(p.numel() for p in model.parameters())
    n, k = params.experts_and_top_k(mc)
    assert (n > 0) == (counts.routed_experts > 0)
    inactive = counts.routed_experts - counts.routed_experts * k // n if n else 0
    assert counts.active == counts.total - inactive - counts.embedding - counts.vision


# ---- the FLOP cross-check ------------------------------------------------------------------

@pytest.mark.parametrize("name", shipped_models())
def test_prefill_flops_are_the_closed_form(built, name):
    """Captured matrix FLOPs of a prefill = 2 x active parameters x tokens + lm_head on the
    last position + attention (QK^T and PV over every score), within 2%."""
    mc = model_config(name)
    model = built[name]
    cap = _capture(model, cases.prefill_case(model, mc, PREFILL_TOKENS))
    closed = params.prefill_flops(params.parameter_counts(model, mc), mc, PREFILL_TOKENS)
    assert cap.matrix_flops == pytest.approx(closed, rel=FLOP_TOLERANCE)
    assert cap.table.total("flops_tensor") == pytest.approx(closed, rel=FLOP_TOLERANCE)
    assert cap.unknown_ops == ()


# ---- attention as the kernels run it ---------------------------------------------------------

def _attention(cap):
    return cap.table.select(cap.table.kind == "attention")


@pytest.mark.parametrize("stage", ["prefill", "decode"])
def test_grouped_query_attention_runs_fused_without_repeating_kv(built, stage):
    mc = model_config("llama-3.1-8b")
    t = mc.text
    model = built["llama-3.1-8b"]
    case = cases.prefill_case(model, mc, 128) if stage == "prefill" else \
        cases.decode_case(model, mc, 512)
    cap = _capture(model, case)
    att = _attention(cap)
    assert cap.sdpa_backends == {"flash": mc.num_layers}
    assert len(att) == mc.num_layers
    heads, kv_heads = t["num_attention_heads"], t["num_key_value_heads"]
    assert set(att.param("heads")) == {heads}
    # K/V are read as the KV heads: the formula's K/V part scaled by kv_heads / heads.
    p = {k: att.param(k)[:1] for k in ("batch", "heads", "seq_q", "seq_kv", "head_dim",
                                        "causal")}
    full = work("attention", p, "bfloat16")["bytes_read"][0]
    q_only = work("attention", {**p, "seq_kv": np.zeros(1), "causal": np.zeros(1)},
                  "bfloat16")["bytes_read"][0]
    assert att.bytes_read[0] == pytest.approx(q_only + (full - q_only) * kv_heads / heads)
    # No copy inside attention as big as the repeated K/V of a layer.
    layer0 = cap.under(f"{stage}.model.layers.0.self_attn").table
    kv_len = att.param("seq_kv")[0]
    repeated = heads * kv_len * t["hidden_size"] // heads * 2
    copies = layer0.select(layer0.kind == "copy")
    assert not np.any(copies.bytes_written >= repeated)


def test_a_masked_grouped_query_prefill_repeats_kv_and_reads_the_mask(tmp_path):
    """A sliding window needs a mask: transformers repeats K/V (two copy kernels) and SDPA runs
    the memory-efficient kernel with an additive bias."""
    raw = tiny_raw("mistral-7b-v0.3")
    raw["sliding_window"] = 8
    path = tmp_path / "windowed.json"
    path.write_text(json.dumps(raw))
    mc = model_config(path)
    model = build.build_model(mc)
    tokens = 24
    cap = _capture(model, cases.prefill_case(model, mc, tokens))
    att = _attention(cap)
    assert cap.sdpa_backends == {"efficient": mc.num_layers}
    assert set(att.param("bias")) == {1}
    layer0 = cap.under("model.layers.0.self_attn").table
    head_dim = raw.get("head_dim") or raw["hidden_size"] // raw["num_attention_heads"]
    rep = raw["num_attention_heads"] * tokens * head_dim * 2          # bf16 bytes of K (or V)
    copies = layer0.select((layer0.name == "aten.clone") & (layer0.bytes_written == rep))
    assert len(copies) == 2                          # repeat_kv of K and of V
    assert set(copies.param("stride")) == {1}        # from a broadcast view: the strided kernel


def test_multi_head_latent_attention_counts_both_head_dims(built):
    mc = model_config("deepseek-v2-lite")
    t = mc.text
    model = built["deepseek-v2-lite"]
    cap = _capture(model, cases.prefill_case(model, mc, 64))
    att = _attention(cap)
    d_qk = t["qk_nope_head_dim"] + t["qk_rope_head_dim"]
    d_v = t["v_head_dim"]
    assert set(att.param("head_dim")) == {d_qk}
    assert set(att.param("head_dim_v")) == {d_v}
    scores = t["num_attention_heads"] * 64 * 64
    assert att.flops_tensor[0] == pytest.approx(2.0 * scores * (d_qk + d_v))
    # Q and K read at d_qk, V at d_v (causal, one query tile: each head streams the visible
    # 64 x 65 / 2 / 64 key rows once), O written at d_v; bf16
    heads = t["num_attention_heads"]
    rows = heads * 64
    kv_rows = heads * 64 * 65 / 2 / 64
    assert att.param("causal")[0] == 1
    assert att.bytes_read[0] == pytest.approx(2.0 * (rows * d_qk + kv_rows * (d_qk + d_v)))
    assert att.bytes_written[0] == pytest.approx(rows * (2.0 * d_v + 4))
    assert "flash" not in cap.sdpa_backends          # flash takes one head dim only


def test_moe_experts_run_as_grouped_gemms_over_the_routed_rows(built):
    mc = model_config("qwen3-30b-a3b")
    t = mc.text
    model = built["qwen3-30b-a3b"]
    tokens = 4
    cap = _capture(model, cases.prefill_case(model, mc, tokens))
    g = cap.table.select(cap.table.kind == "grouped_gemm")
    assert len(g) == 2 * mc.num_layers                 # gate_up and down per MoE layer
    rows = tokens * t["num_experts_per_tok"]
    active = min(t["num_experts"], rows)
    assert set(g.param("batch")) == {active}
    assert np.allclose(g.param("m") * g.param("batch"), rows)


@pytest.mark.parametrize("name", shipped_models())
def test_kv_cache_bytes_are_what_the_model_caches(built, name):
    mc = model_config(name)
    shapes = build.kv_shapes(built[name], "meta")
    per_token = sum(int(np.prod(k)) + int(np.prod(v)) for k, v in shapes)   # batch 1, 1 token
    assert params.kv_cache_bytes_per_token(mc) == per_token * params.KV_ELEMENT_BYTES


# ---- decode steps ------------------------------------------------------------------------

@given(st.integers(1, 5000), st.integers(1, 300), st.lists(st.integers(1, 6000), max_size=3),
       st.floats(-3, 3), st.floats(0, 5), st.floats(-2, 2))
def test_decode_points_average_a_piecewise_affine_step_exactly(kv, steps, kinks, a, b, c):
    """For a step affine in the cache length between kinks, the weighted points give the mean
    over the K steps exactly; weights sum to 1."""
    kinks = sorted(set(kinks))

    def step(n):                      # affine pieces with a jump in slope and value at kinks
        piece = sum(n >= k for k in kinks)
        return a + b * n + c * piece * (n + piece)

    pts = decode_points(kv, steps, kinks)
    assert sum(w for _, w in pts) == pytest.approx(1.0)
    exact = np.mean([step(n) for n in range(kv, kv + steps)])
    assert sum(w * step(n) for n, w in pts) == pytest.approx(exact, rel=1e-9, abs=1e-9)


def test_decode_step_grows_with_the_cache(built):
    mc = model_config("qwen2.5-7b")
    model = built["qwen2.5-7b"]
    short = _capture(model, cases.decode_case(model, mc, 256)).table
    long = _capture(model, cases.decode_case(model, mc, 4096)).table
    assert len(short) == len(long)
    assert long.total("bytes_read") > short.total("bytes_read")
    assert long.total("weight_bytes") == short.total("weight_bytes")


# ---- vision-language models -------------------------------------------------------------

def test_vision_stage_tokens_are_the_encoders_output(built):
    from roofsim.workloads.hf import vision
    name = next(n for n in shipped_models() if model_config(n).is_vision_language)
    mc = model_config(name)
    model = built[name]
    image = (448, 672)
    case = cases.vision_case(model, mc, image)
    args, kwargs = case.make_inputs()
    out = case.module(*args, **kwargs).pooler_output
    assert out.shape[0] == vision.image_tokens(mc, *image)
    cap = capture(case.module, *args, **kwargs)
    assert len(_attention(cap)) == mc.vision["depth"]


# ---- the CLI -------------------------------------------------------------------------------

@pytest.fixture
def roofsim(tmp_path_factory, monkeypatch, capsys):
    """Run `roofsim ARGV` in this process with a fresh capture cache: (status, stdout, stderr)."""
    from roofsim.cli import main
    monkeypatch.setenv("ROOFSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))

    def run(*argv):
        status = main(list(argv))
        out = capsys.readouterr()
        return status, out.out, out.err
    return run


@pytest.mark.parametrize("name", ["llama-3.1-8b", "qwen2-vl-7b"])
def test_predict_model_json_gives_the_issue_keys(tmp_path, roofsim, name):
    path = write_tiny(name, tmp_path)
    status, out, err = roofsim("predict", "--model", str(path), "--prompt-tokens", "32",
                               "--decode-tokens", "4", "--hardware", "h200", "--calibration",
                               "h200", "--json")
    assert status == 0, err
    d = json.loads(out)
    vlm = model_config(path).is_vision_language
    assert ("vision_s" in d) == vlm
    assert d["ttft_s"] == pytest.approx(d["prefill_s"] + d.get("vision_s", 0.0))
    assert d["tpot_s"] > 0 and d["prefill_s"] > 0
    assert d["model"] == path.stem


def test_a_cached_predict_imports_neither_torch_nor_transformers(tmp_path, roofsim):
    import os
    path = write_tiny("qwen3-30b-a3b", tmp_path)
    argv = ["predict", "--model", str(path), "--prompt-tokens", "16", "--decode-tokens", "2",
            "--hardware", "h200", "--json"]
    assert roofsim(*argv)[0] == 0                                   # fills the cache
    probe = ("import sys, runpy; sys.argv = ['roofsim'] + %r\n"
             "try:\n    runpy.run_module('roofsim', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('IMPORTED', 'torch' in sys.modules, 'transformers' in sys.modules)" % argv)
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       env=dict(os.environ))
    assert r.stdout.strip().splitlines()[-1] == "IMPORTED False False", r.stderr


def test_deepseek_ocr_stays_the_default_with_its_keys(roofsim):
    status, out, err = roofsim("predict", "--implementation", "flash", "--json")
    assert status == 0, err
    d = json.loads(out)
    for key in ("implementation", "hardware", "calibration", "grid", "image_tokens",
                "prompt_tokens", "decode_tokens", "vision_s", "prefill_s", "ttft_s", "tpot_s",
                "host_overhead_s", "eager_ttft_s", "eager_tpot_s", "stages", "notes"):
        assert key in d
    assert d["grid"] == "2x3" and d["model"] == "deepseek-ocr"


def test_model_flag_mistakes_are_one_line(tmp_path, roofsim):
    status, _, err = roofsim("predict", "--model", "no-such-model")
    assert status == 2 and "no such shipped model" in err
    path = write_tiny("llama-3.1-8b", tmp_path)
    status, _, err = roofsim("predict", "--model", str(path), "--grid", "2x3")
    assert status == 2 and "--image" in err
    status, _, err = roofsim("predict", "--model", str(path), "--implementation", "flash")
    assert status == 2 and "captured" in err
    status, _, err = roofsim("predict", "--model", str(path), "--image", "64x64")
    assert status == 2 and "no vision encoder" in err


def test_models_show_counts_the_built_model(tmp_path, roofsim):
    path = write_tiny("deepseek-v2-lite", tmp_path)
    status, out, err = roofsim("models", "show", str(path), "--json")
    assert status == 0, err
    d = json.loads(out)
    model = build.build_model(model_config(path))
    assert d["parameters"] == sum(p.numel() for p in model.parameters())
    assert d["layers"] == tiny_raw("deepseek-v2-lite")["num_hidden_layers"]
    assert d["active_parameters"] < d["parameters"]


def test_sweep_model_latency_is_predicts(tmp_path, roofsim):
    """A model's sweep point predicts what `roofsim predict` does for the same request (one
    latency path), and its decode stage holds K steps."""
    from roofsim.hardware import load_hardware
    from roofsim.predict import predict
    path = write_tiny("qwen2.5-7b", tmp_path)
    status, out, err = roofsim("sweep", "vision-prefill", "--model", str(path), "--vary",
                               "prompt-tokens=8,32", "--decode-tokens", "3", "--hardware",
                               "h200", "--no-plots", "--json", "--out", str(tmp_path / "sw"))
    assert status == 0, err
    doc = json.loads(out)
    assert [p["label"] for p in doc["points"]] == ["prompt-tokens=8", "prompt-tokens=32"]
    for point, prompt in zip(doc["points"], (8, 32)):
        got = point["sources"]["captured"]["prediction"]
        want = predict(model=str(path), prompt_tokens=prompt, decode_tokens=3,
                       hardware=load_hardware("h200"))
        assert got["ttft_s"] == pytest.approx(want.ttft_s)
        assert got["tpot_s"] == pytest.approx(want.tpot_s)
    status, _, err = roofsim("sweep", "decode", "--model", str(path), "--vary", "heads=2,4",
                             "--no-plots", "--out", str(tmp_path / "sw"))
    assert status == 2 and "heads" in err


def test_report_model_tables_and_sweeps(tmp_path, monkeypatch):
    from roofsim.hardware import load_hardware
    from roofsim.report import ReportOptions, build_report
    monkeypatch.setenv("ROOFSIM_CACHE_DIR", str(tmp_path / "cache"))
    path = write_tiny("qwen2-vl-7b", tmp_path)
    res = build_report(ReportOptions(hardware=load_hardware("h200"), out_dir=tmp_path / "rep",
                                     model=str(path), image=(112, 168), figures=False,
                                     progress=False, decode_tokens=4))
    md = res.path.read_text()
    assert md.startswith(f"# {path.stem}")
    stages = [r[0] for r in res.tables["stage_costs"]["rows"]]
    assert stages == ["vision", "prefill", "decode"]
    for stem in ("prefill_tokens", "batch"):
        assert (tmp_path / "rep" / "sweep" / stem / f"{stem}.csv").is_file()
        assert f"sweep_{stem}" in res.tables


def test_models_list_names_every_shipped_model(built, roofsim, monkeypatch):
    from roofsim.workloads.hf import summary
    monkeypatch.setattr(summary, "parameter_counts_of", lambda mc: params.parameter_counts(
        built[mc.name], mc).as_dict())
    status, out, err = roofsim("models", "list", "--json")
    assert status == 0, err
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list(shipped_models())
    for r in rows:
        mc = model_config(r["name"])
        assert r["layers"] == mc.num_layers
        assert r["parameters"] == sum(p.numel() for p in built[r["name"]].parameters())
        assert (r["active_parameters"] < r["parameters"])
        assert r["vision_language"] == mc.is_vision_language


def test_verify_model_reports_the_closed_form_check(tmp_path, roofsim):
    path = write_tiny("qwen3-30b-a3b", tmp_path)
    status, out, err = roofsim("verify", "--model", str(path), "--prompt-tokens", "24", "--json")
    assert status == 0, err
    d = json.loads(out)
    mc = model_config(path)
    model = build.build_model(mc)
    closed = params.prefill_flops(params.parameter_counts(model, mc), mc, 24)
    assert d["closed_form_flops"] == pytest.approx(closed)
    assert d["ok"] and abs(d["error"]) <= FLOP_TOLERANCE


def test_cost_of_a_model_says_its_activation_peak_is_not_modelled(tmp_path, roofsim):
    """A captured model has no activation-peak model: the table says n/a, not nan."""
    path = write_tiny("llama-3.1-8b", tmp_path)
    status, out, err = roofsim("cost", "--model", str(path), "--layers", "none",
                               "--prompt-tokens", "8", "--decode-tokens", "2")
    assert status == 0, err
    rows = [line for line in out.splitlines() if line.startswith(("prefill", "decode"))]
    assert len(rows) == 2 and all(" n/a " in line for line in rows), out
    assert "nan" not in out


def test_a_checkpoint_folder_is_read_through_its_config_json(tmp_path):
    """--model takes a checkpoint folder as from_pretrained does (its config.json); a folder
    without one is one line saying so."""
    import shutil
    from roofsim.errors import UserError
    from roofsim.workloads.hf.configs import model_config
    shipped = model_config("llama-3.1-8b")
    folder = tmp_path / "Llama-ckpt"
    folder.mkdir()
    shutil.copy(shipped.source, folder / "config.json")
    mc = model_config(str(folder))
    assert mc.name == "Llama-ckpt" and mc.raw == shipped.raw
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="without a config.json"):
        model_config(str(tmp_path / "empty"))


def _fixed_vlm(tmp_path, model_type, **top):
    """A tiny vision-language config of `model_type`, one of vision.FIXED_SIZE_FAMILIES."""
    text = {"model_type": {"llava": "llama", "paligemma": "gemma", "gemma3": "gemma3_text"}[
        model_type], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 512,
        "max_position_embeddings": 4096}
    vision_type = "clip_vision_model" if model_type == "llava" else "siglip_vision_model"
    raw = {"architectures": ["X"], "model_type": model_type, "torch_dtype": "bfloat16",
           "image_token_index": 500, "text_config": text,
           "vision_config": {"model_type": vision_type, "hidden_size": 32,
                             "intermediate_size": 64, "num_hidden_layers": 3,
                             "num_attention_heads": 2, "image_size": 112, "patch_size": 14},
           **top}
    path = tmp_path / f"{model_type}.json"
    path.write_text(json.dumps(raw))
    return model_config(path)


@pytest.mark.parametrize("model_type, top, tokens", [
    ("llava", {"vision_feature_select_strategy": "default"}, 64),    # (112 / 14)^2, no CLS
    ("llava", {"vision_feature_select_strategy": "full"}, 65),       # CLS kept
    ("paligemma", {"projection_dim": 64, "hidden_size": 64}, 64),
    ("gemma3", {"mm_tokens_per_image": 16}, 16),                    # pooled to 4 x 4
])
def test_fixed_size_vision_encoders_give_their_image_tokens(tmp_path, model_type, top, tokens):
    """LLaVA, PaliGemma and Gemma 3 resize every image to vision_config.image_size: the tokens
    their get_image_features hands the decoder are vision.image_tokens' at any image size, and
    the capture holds the tower's attention, one per layer."""
    from roofsim.workloads.hf import vision
    mc = _fixed_vlm(tmp_path, model_type, **top)
    model = build.build_model(mc)
    for image in ((112, 112), (480, 640)):
        assert vision.image_tokens(mc, *image) == tokens
        case = cases.vision_case(model, mc, image)
        args, kwargs = case.make_inputs()
        first = case.module(*args, **kwargs).pooler_output[0]   # one image's (tokens, width)
        assert first.shape[-2] == tokens
    cap = capture(case.module, *args, **kwargs)
    assert len(_attention(cap)) == 3
    assert not any(p.startswith("language_model") for p in cap.table.layer)


def test_a_fixed_size_vlm_without_image_size_is_one_line(tmp_path, roofsim):
    mc = _fixed_vlm(tmp_path, "llava")
    raw = dict(mc.raw)
    raw["vision_config"] = {k: v for k, v in raw["vision_config"].items() if k != "image_size"}
    path = tmp_path / "no_size.json"
    path.write_text(json.dumps(raw))
    status, _, err = roofsim("predict", "--model", str(path), "--image", "640x480",
                             "--hardware", "h200")
    assert status == 2 and "'vision_config.image_size' is None" in err


def test_paligemma_predicts_end_to_end(tmp_path, roofsim):
    """PaliGemma makes its mask before its decoder makes the cache: without the empty cache
    generate() hands in, the prefill read the positions on the host (a meta .item() error)."""
    mc = _fixed_vlm(tmp_path, "paligemma", projection_dim=64, hidden_size=64)
    status, out, err = roofsim("predict", "--model", str(mc.source), "--image", "640x480",
                               "--prompt-tokens", "8", "--decode-tokens", "2",
                               "--hardware", "h200", "--json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["image_tokens"] == 64 and doc["vision_s"] > 0 and doc["prefill_s"] > 0


def test_qwen2_vl_refuses_an_image_its_processor_refuses():
    """Qwen2-VL's smart_resize refuses an aspect ratio past 200 (MAX_RATIO): such an image got
    3,571 image tokens without a word (session 45's CLI sweep); 200 itself is answered."""
    from roofsim.errors import UserError
    from roofsim.workloads.hf.configs import model_config
    from roofsim.workloads.hf.vision import image_tokens
    mc = model_config("qwen2-vl-7b")
    assert image_tokens(mc, 20, 4000) > 0
    for h, w in ((1, 100000), (20, 5000), (5000, 20)):
        with pytest.raises(UserError, match="aspect ratio past 200"):
            image_tokens(mc, h, w)
