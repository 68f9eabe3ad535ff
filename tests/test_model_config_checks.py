"""A user's transformers config.json with bad sizes is one line naming the file and field
(exit 2), before any model is built; one transformers reads but cannot build is too."""

from __future__ import annotations

import json

import pytest

from roofsim.cli import main
from roofsim.errors import UserError
from roofsim.workloads.hf.configs import SIZE_FIELDS, model_config, models_dir, shipped_models


def _config(tmp_path, **changes):
    raw = json.loads((models_dir() / "llama-3.1-8b.json").read_text())
    raw.update(changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    return path


def _vision_config(tmp_path, **changes):
    raw = json.loads((models_dir() / "qwen2-vl-7b.json").read_text())
    raw["vision_config"].update(changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    return path


DECODER_CASES = [
    ("num_attention_heads", 0), ("hidden_size", "4096"), ("hidden_size", 256.5),
    ("intermediate_size", -5), ("num_hidden_layers", 0), ("num_hidden_layers", 1_000_000),
    ("vocab_size", 0), ("max_position_embeddings", -1), ("head_dim", True)]
VISION_CASES = [
    ("depth", 0), ("depth", 10**9), ("num_heads", 0), ("embed_dim", 1280.5),
    ("patch_size", 0), ("patch_size", [14, 14]), ("spatial_merge_size", 0),
    ("temporal_patch_size", 0), ("in_chans", 0), ("mlp_ratio", 0), ("mlp_ratio", True),
    ("mlp_ratio", 65.0), ("mlp_ratio", "4")]


@pytest.mark.parametrize("block,field,value", [("", f, v) for f, v in DECODER_CASES] +
                         [("vision_config", f, v) for f, v in VISION_CASES])
def test_a_bad_size_names_the_file_and_field(tmp_path, block, field, value):
    """A decoder size, or a vision encoder's (vision_config: roofsim divides by its patch and
    merge sizes, the encoder reshapes by its heads and channels)."""
    make = _vision_config if block else _config
    path = make(tmp_path, **{field: value})
    with pytest.raises(UserError) as exc:
        model_config(path)
    name = f"{block}.{field}" if block else field
    assert str(path) in str(exc.value) and f"'{name}' is {value!r}" in str(exc.value)


def test_kv_heads_must_divide_the_heads_and_top_k_the_experts(tmp_path):
    with pytest.raises(UserError, match="not a multiple of 'num_key_value_heads' 3"):
        model_config(_config(tmp_path, num_key_value_heads=3))
    with pytest.raises(UserError, match="'num_experts_per_tok' 9 is more than the 8 experts"):
        model_config(_config(tmp_path, num_local_experts=8, num_experts_per_tok=9))


def test_null_sizes_and_every_shipped_model_pass(tmp_path):
    assert model_config(_config(tmp_path, num_key_value_heads=None)).num_layers == 32
    for name in shipped_models():
        model_config(name)
    assert all(bound >= 1024 for bound in SIZE_FIELDS.values())


def test_the_cli_exits_2_with_one_line(tmp_path, capsys):
    path = _config(tmp_path, num_hidden_layers=0)
    assert main(["predict", "--model", str(path), "--hardware", "h200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'num_hidden_layers' is 0" in err[0]


def test_vision_heads_must_divide_the_vision_width(tmp_path):
    with pytest.raises(UserError, match="'vision_config.embed_dim' 1280 is not a multiple of "
                                        "the 7 vision heads"):
        model_config(_vision_config(tmp_path, num_heads=7))
    assert model_config(_vision_config(tmp_path, num_heads=None)).is_vision_language


@pytest.mark.parametrize("ratio", [4, 4.0, 2.6875])
def test_a_vision_mlp_ratio_may_be_any_positive_number(tmp_path, ratio):
    """transformers reads mlp_ratio as a float (Qwen2VLVisionConfig: 4): 4.0 is the same."""
    assert model_config(_vision_config(tmp_path, mlp_ratio=ratio)).is_vision_language


def test_a_bad_vision_size_exits_2_with_one_line_before_any_division(tmp_path, capsys):
    # spatial_merge_size 0 was a ZeroDivisionError traceback in the image-token arithmetic
    path = _vision_config(tmp_path, spatial_merge_size=0)
    assert main(["predict", "--model", str(path), "--hardware", "h200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'vision_config.spatial_merge_size' is 0" in err[0]


def test_a_config_transformers_cannot_build_is_a_user_error(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from roofsim.workloads.hf.build import build_model
    tiny = {"num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
            "vocab_size": 256, "hidden_act": "relu7"}
    path = _config(tmp_path, **tiny)
    with pytest.raises(UserError, match="transformers cannot build a llama model"):
        build_model(model_config(path))


def test_sweep_vision_of_a_text_model_is_refused(capsys, tmp_path):
    assert main(["sweep", "vision", "--model", "llama-3.1-8b", "--no-plots",
                 "--out", str(tmp_path / "sw")]) == 2
    assert "llama-3.1-8b has no vision stage" in capsys.readouterr().err


def test_a_class_without_sdpa_is_captured_with_the_attention_transformers_runs(tmp_path, capsys):
    """Gemma 2 (logit soft-capping) has no SDPA attention in transformers: it was a 'cannot
    build' error; transformers itself runs such a class eagerly, so roofsim captures that."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from roofsim.workloads.hf.build import FALLBACK_ATTENTION, build_model
    tiny = {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
            "num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
            "vocab_size": 256, "max_position_embeddings": 512, "sliding_window": 64,
            "query_pre_attn_scalar": 16, "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0, "torch_dtype": "bfloat16"}
    path = tmp_path / "gemma2.json"
    path.write_text(json.dumps(tiny))
    model = build_model(model_config(path))
    assert model.config._attn_implementation == FALLBACK_ATTENTION
    assert main(["predict", "--model", str(path), "--hardware", "h200", "--prompt-tokens", "32",
                 "--decode-tokens", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ttft_s"] > 0 and doc["tpot_s"] > 0


def _tiny(tmp_path, name, **fields):
    raw = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
           "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
           "max_position_embeddings": 512, "torch_dtype": "bfloat16", **fields}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    return path


def test_a_model_without_a_kv_cache_is_one_line(tmp_path, capsys):
    """Mamba's cache holds state-space layers: the decode step was an AttributeError traceback
    in reading the cache's keys."""
    pytest.importorskip("transformers")
    path = _tiny(tmp_path, "mamba", architectures=["MambaForCausalLM"], model_type="mamba",
                 state_size=8, expand=2, conv_kernel=4)
    assert main(["predict", "--model", str(path), "--hardware", "h200", "--prompt-tokens", "16",
                 "--decode-tokens", "2"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines()
           if line.startswith("roofsim:")]
    assert len(err) == 1 and "not attention keys and values" in err[0]


def test_a_config_that_builds_but_cannot_run_is_one_line(tmp_path, capsys):
    """DeepSeek-V3 with num_key_value_heads below its heads builds, then its attention's shapes
    disagree in the forward: that was a RuntimeError traceback from inside the capture."""
    pytest.importorskip("transformers")
    path = _tiny(tmp_path, "dsv3", architectures=["DeepseekV3ForCausalLM"],
                 model_type="deepseek_v3", n_routed_experts=8, num_experts_per_tok=2,
                 moe_intermediate_size=64, n_shared_experts=1, kv_lora_rank=32,
                 q_lora_rank=48, qk_rope_head_dim=8, qk_nope_head_dim=16, v_head_dim=16,
                 first_k_dense_replace=1, n_group=2, topk_group=1)
    assert main(["predict", "--model", str(path), "--hardware", "h200", "--prompt-tokens", "16",
                 "--decode-tokens", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fails in its prefill forward (RuntimeError" in err[0]


def test_a_gpt2_style_config_is_told_which_names_it_gave(tmp_path):
    """GPT-2's config names its layers n_layer (transformers maps it through attribute_map):
    the error said 'num_hidden_layers' is missing and that transformers would fill in a default,
    which it does not (session 45's CLI sweep). It names the file's own field."""
    raw = json.loads((models_dir() / "llama-3.1-8b.json").read_text())
    raw["n_layer"] = raw.pop("num_hidden_layers")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(UserError, match="'num_hidden_layers' is missing; the file gives "
                                        "'n_layer'"):
        model_config(path)
