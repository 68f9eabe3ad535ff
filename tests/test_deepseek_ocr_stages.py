"""Stage records and costs: attention variants, KV cache, lm_head, batching, decode steps."""

import numpy as np
import pytest
import yaml

from roofsim.errors import UserError
from roofsim.workloads.deepseek_ocr import (Request, config_from_dict, layer_cost, layer_records,
                                            load_config,
                                            parameter_counts, stage_costs, stage_records, views)
from roofsim.kernels.softmax import SOFTMAX_FLOPS_PER_ELEMENT
from roofsim.workloads.deepseek_ocr.layers import LAYER_NAMES

CFG = load_config()
REQ = Request(grid=(2, 3), prompt_tokens=16, decode_tokens=20)


def costs(**kw):
    req = kw.pop("request", REQ)
    return stage_costs(CFG, req, **kw)


def test_flash_and_normal_have_equal_flops_but_normal_moves_more_bytes():
    flash, normal = costs(attention="flash"), costs(attention="normal")
    for stage in ("vision", "decode"):
        assert normal[stage].flops_tensor == pytest.approx(flash[stage].flops_tensor, rel=1e-12)
        assert normal[stage].flops_cuda == pytest.approx(flash[stage].flops_cuda, rel=1e-12)
    # full score matrix (the report's prefill accounting): equal prefill FLOPs too
    f, n = costs(attention="flash", accounting="report"), costs(attention="normal", accounting="report")
    assert n["prefill"].flops_tensor == pytest.approx(f["prefill"].flops_tensor, rel=1e-12)
    assert normal["vision"].io_bytes > 1.3 * flash["vision"].io_bytes
    assert normal["prefill"].io_bytes > flash["prefill"].io_bytes
    assert normal["vision"].activation_peak_bytes > flash["vision"].activation_peak_bytes


def test_normal_attention_writes_and_reads_the_scores():
    t = stage_records(CFG, REQ, attention="normal")["vision"]
    scores = (t.name == "global/scores") & (t.layer == "vision.sam.blocks.2.attn")
    # global block at 1024: 12 heads x 4096^2 bf16 scores written once
    assert t.bytes_written[scores][0] == 12 * 4096 ** 2 * 2
    soft = (t.name == "global/softmax") & (t.layer == "vision.sam.blocks.2.attn")
    assert t.flops_cuda[soft][0] == (SOFTMAX_FLOPS_PER_ELEMENT + 2) * 12 * 4096 ** 2
    assert t.bytes_read[soft][0] >= 2 * 12 * 4096 ** 2 * 2   # scores + the rel-pos bias


def test_kv_cache_is_61440_bytes_per_token():
    c = costs()
    s0 = views(CFG, REQ).image_tokens + REQ.prompt_tokens
    assert c["vision"].kv_cache_bytes == 0
    assert c["prefill"].kv_cache_bytes == s0 * 61440
    assert c["decode"].kv_cache_bytes == (s0 + REQ.decode_tokens) * 61440


def test_lm_head_over_all_positions_adds_its_matmul_for_every_other_token():
    last, all_ = costs(lm_head="last"), costs(lm_head="all")
    s0 = views(CFG, REQ).image_tokens + REQ.prompt_tokens
    assert all_["prefill"].flops_tensor - last["prefill"].flops_tensor == pytest.approx(
        2 * 1280 * 129280 * (s0 - 1))


def test_decode_has_one_attention_row_per_layer_and_step_with_a_growing_context():
    t = stage_records(CFG, REQ)["decode"]
    core = t.kind == "attention"
    assert core.sum() == 12 * REQ.decode_tokens
    s0 = views(CFG, REQ).image_tokens + REQ.prompt_tokens
    kv = t.param("seq_kv")[core & (t.layer == "decoder.layers.3.self_attn")]
    assert list(kv) == list(s0 + 1 + np.arange(REQ.decode_tokens))
    others = ~core
    assert (t.count[others & (t.name == "q_proj")] == REQ.decode_tokens).all()


def test_decode_reads_the_activated_weights_once_per_step():
    c = costs()["decode"]
    activated = parameter_counts(CFG)["activated_per_decoded_token"]
    assert c.weight_bytes / REQ.decode_tokens == pytest.approx(2 * activated, rel=0.01)


def test_decode_flops_per_step_are_twice_the_activated_parameters_plus_attention():
    req = Request(grid=(2, 3), prompt_tokens=16, decode_tokens=1)
    c = stage_costs(CFG, req)["decode"]
    activated = parameter_counts(CFG)["activated_per_decoded_token"]
    context = views(CFG, req).image_tokens + 16 + 1
    expected = 2 * activated + 4 * 1280 * 12 * context
    assert c.flops_tensor == pytest.approx(expected, rel=0.01)


def test_batch_repeats_vision_and_batches_the_decoder():
    one = costs()
    four = costs(request=Request(grid=(2, 3), prompt_tokens=16, decode_tokens=20, batch=4))
    assert four["vision"].flops == pytest.approx(4 * one["vision"].flops)
    assert four["prefill"].flops_tensor == pytest.approx(4 * one["prefill"].flops_tensor, rel=1e-9)
    assert four["decode"].kv_cache_bytes == 4 * one["decode"].kv_cache_bytes
    # decode reads the shared weights once per step: less than 4x the bytes
    assert four["decode"].weight_bytes < 4 * one["decode"].weight_bytes


def test_crops_are_one_batched_pass_and_the_global_view_another():
    t = stage_records(CFG, REQ)["vision"]
    patch = t.kind == "conv2d"
    crops = patch & (t.name == "crops/patch_embed")
    glob = patch & (t.name == "global/patch_embed")
    assert t.param("batch")[crops][0] == 6 and t.param("h")[crops][0] == 640
    assert t.param("batch")[glob][0] == 1 and t.param("h")[glob][0] == 1024


def test_records_carry_module_paths_and_stages():
    tables = stage_records(CFG, REQ)
    for stage, t in tables.items():
        assert (t.stage == stage).all()
    assert "vision.sam.blocks.3.attn" in set(tables["vision"].layer)
    assert "decoder.layers.5.mlp" in set(tables["prefill"].layer)
    assert "lm_head" in set(tables["decode"].layer)


def test_global_only_request_has_no_crop_records():
    t = stage_records(CFG, Request(grid=None))["vision"]
    assert not any(str(n).startswith("crops/") for n in t.name)


@pytest.mark.parametrize("layer", LAYER_NAMES)
def test_every_layer_row_builds_non_empty_records(layer):
    t = layer_records(CFG, layer)
    assert len(t) and t.totals()["flops"] > 0


def test_layer_cost_reports_kv_cache_and_attention_activation_memory():
    dense = layer_cost(CFG, "DeepseekV2DecoderLayer_dense")
    assert dense.kv_cache_bytes == 512 * 2 * 1280 * 2          # one layer, 512 tokens, K and V
    assert layer_cost(CFG, "MLPBlock").kv_cache_bytes == 0
    flash = layer_cost(CFG, "Block", attention="flash")
    normal = layer_cost(CFG, "Block", attention="normal")
    assert normal.flops == pytest.approx(flash.flops)
    # normal attention holds the 12 x 4096^2 scores (bf16) read and written by the softmax
    assert normal.activation_peak_bytes >= 2 * 12 * 4096 ** 2 * 2 > flash.activation_peak_bytes


def _raw():
    from roofsim.data import data_dir
    return yaml.safe_load((data_dir("workloads") / "deepseek-ocr.yaml").read_text())


def test_another_config_gives_another_model_of_the_family():
    raw = _raw()
    raw["decoder"]["layers"] = 6
    small = config_from_dict(raw, "half-depth.yaml")
    full = parameter_counts(CFG)["decoder_layers"]
    assert parameter_counts(small)["decoder_layers"] < full
    assert stage_costs(small, REQ)["prefill"].flops < costs()["prefill"].flops


@pytest.mark.parametrize("section,field,value,match", [
    ("sam", "depth", 0, "sam.depth"),
    ("decoder", "heads", "ten", "decoder.heads"),
    ("clip", "hidden", 1008, "net_3_dim"),
    ("decoder", "warp", 3, "unknown field"),
    ("views", "crop_size", 650, "views.crop_size"),
])
def test_malformed_config_names_the_field(section, field, value, match):
    raw = _raw()
    raw[section][field] = value
    with pytest.raises(UserError, match=match):
        config_from_dict(raw, "bad.yaml")


def test_missing_config_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sam: [1, 2\n")
    with pytest.raises(UserError, match="YAML"):
        load_config(bad)


@pytest.mark.parametrize("mode,gflops", [("tiny", 268.3), ("small", 388.1), ("base", 1140.0),
                                         ("large", 1943.2)])
def test_per_view_vision_flops_match_the_reference(mode, gflops):
    """../shared/reference/deepseek-ocr.md: per view (SAM + CLIP + projector), GFLOPs."""
    vision = stage_costs(CFG, Request(mode=mode))["vision"]
    assert vision.flops_tensor / 1e9 == pytest.approx(gflops, rel=5e-4)


def test_gundam_vision_flops_grow_by_one_640_view_per_crop():
    """Reference: Gundam with n crops ~ 1140.0 + 388.1 n GFLOPs."""
    for n, grid in ((2, (1, 2)), (9, (3, 3))):
        vision = stage_costs(CFG, Request(grid=grid))["vision"]
        assert vision.flops_tensor / 1e9 == pytest.approx(1140.0 + 388.1 * n, rel=5e-4)
