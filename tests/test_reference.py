"""roofsim.reference: the transformers-based DeepSeek-OCR v1 assembly on meta tensors.

Expected numbers from ../shared/reference/deepseek-ocr.md (parameters, image tokens, per-view
FLOPs)."""

import dataclasses

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from roofsim.capture import capture  # noqa: E402
from roofsim.reference import DEEPSEEK_OCR  # noqa: E402
from roofsim.reference import models, routing, stages  # noqa: E402


def nparams(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def vision():
    return models.build_vision()


def test_parameter_counts_match_the_checkpoint(vision):
    # Parameters: SAM 95,569,152; CLIP 303,177,728 incl. the unused 602,112-parameter patch
    # conv (not built here); projector 2,622,720; separators 2,560; decoder 2,934,734,080.
    assert nparams(vision.sam) == 95_569_152
    assert nparams(vision.clip) == 303_177_728 - 602_112
    assert nparams(vision.projector) == 2_622_720
    assert vision.image_newline.numel() + vision.view_separator.numel() == 2_560
    assert nparams(models.build_decoder()) == 2_934_734_080


def test_router_gate_stays_fp32_and_the_rest_is_bf16():
    dec = models.build_decoder(layers=2)
    gate = dec.model.layers[1].mlp.gate.weight
    assert gate.dtype == torch.float32 and gate.device.type == "meta"
    assert dec.lm_head.weight.dtype == torch.bfloat16


@pytest.mark.parametrize("grid, tokens", [(None, 273), ((2, 2), 693)])
def test_vision_output_is_the_image_token_layout(vision, grid, tokens):
    assert DEEPSEEK_OCR.image_tokens(grid) == tokens
    args, kwargs = stages.vision_case(grid, module=vision).make_inputs()
    out = vision(*args, **kwargs)
    assert tuple(out.shape) == (tokens, 1280)


def test_image_tokens_of_other_grids():
    assert DEEPSEEK_OCR.image_tokens((1, 2)) == 483
    assert DEEPSEEK_OCR.image_tokens((10, 10)) == 10373


def test_vision_flops_per_view(vision):
    # Per view (SAM + CLIP + projector): 640 -> 388.1, 1024 -> 1140.0 GFLOPs;
    # Gundam with n crops ~ 1140.0 + 388.1 n.
    case = stages.vision_case((1, 2), module=vision)
    args, kwargs = case.make_inputs()
    cap = capture(vision, *args, prefix="vision", **kwargs)
    assert cap.matrix_flops / 1e9 == pytest.approx(1140.0 + 2 * 388.1, rel=2e-4)
    assert cap.unknown_ops == ()
    assert cap.sdpa_backends == {"efficient": 24, "flash": 48}


def test_balanced_routing_counts():
    counts = routing.balanced_expert_counts(512, 6, 64)
    assert sum(counts) == 512 * 6 and max(counts) - min(counts) <= 1
    assert routing.balanced_expert_counts(1, 6, 64).count(1) == 6
    assert routing.active_experts(1, 6, 64) == 6 and routing.active_experts(100, 6, 64) == 64


def test_decode_step_sees_the_kv_cache():
    case = stages.decode_case(100, layers=2)
    args, kwargs = case.make_inputs()
    cap = capture(case.module, *args, prefix="decode", **kwargs)
    att = cap.table.select(cap.table.kind == "attention")
    assert set(att.param("seq_kv")) == {101} and set(att.param("seq_q")) == {1}
    lm = cap.under("decode.lm_head").table
    assert lm.param("m")[0] == 1 and lm.param("n")[0] == 129280
    assert cap.unknown_ops == ()


def test_prefill_lm_head_positions():
    last = stages.prefill_case(64, layers=1)
    every = stages.prefill_case(64, layers=1, all_logits=True, module=last.module)
    caps = []
    for case in (last, every):
        args, kwargs = case.make_inputs()
        caps.append(capture(case.module, *args, prefix="prefill", **kwargs))
    m = [c.under("prefill.lm_head").table.param("m")[0] for c in caps]
    assert m == [1, 64]


def test_decode_steps_from_two_captures_are_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOFSIM_CACHE_DIR", str(tmp_path))
    steps = stages.capture_decode_steps(50, 3, layers=1)
    one_by_one = [stages.capture_stage("decode", kv_len=50 + i, layers=1) for i in range(3)]
    for field in ("flops", "bytes", "weight_bytes", "launches"):
        assert steps.table.totals()[field] == pytest.approx(
            sum(c.table.totals()[field] for c in one_by_one), rel=1e-12)


def test_capture_stage_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOFSIM_CACHE_DIR", str(tmp_path))
    a = stages.capture_stage("prefill", seq_len=32, layers=1)
    files = list((tmp_path / "capture").glob("*.npz"))
    assert len(files) == 1
    b = stages.capture_stage("prefill", seq_len=32, layers=1)
    assert b.table.totals() == a.table.totals() and b.notes == a.notes
    stages.capture_stage("prefill", seq_len=33, layers=1)
    assert len(list((tmp_path / "capture").glob("*.npz"))) == 2


def test_smaller_spec_variants_build():
    small = dataclasses.replace(DEEPSEEK_OCR, sam=dataclasses.replace(
        DEEPSEEK_OCR.sam, layers=3, global_layers=(2,)))
    vis = models.build_vision(small)
    assert len(vis.sam.layers) == 3
    with pytest.raises(ValueError):
        dataclasses.replace(DEEPSEEK_OCR, sam=dataclasses.replace(
            DEEPSEEK_OCR.sam, downsample_channels=(512, 896)))
