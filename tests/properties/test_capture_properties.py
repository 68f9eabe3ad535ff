"""Capture vs analytic: for random small DeepSeek-OCR-family configurations (dimensions, layers,
heads, experts), the reference assembly captured on meta tensors (roofsim.reference,
roofsim.capture) and the analytic workload (roofsim.workloads.deepseek_ocr) agree on FLOPs
within the documented tolerance, roofsim.verify.TOLERANCE (1 %).

What is compared, and why (the causes are roofsim.verify's KIND_CAUSES / LAYER_CAUSES):
- vision: all FLOPs, and the matrix FLOPs;
- vision, prefill and decode: the matrix FLOPs (the matrix products of the gemm, linear,
  grouped_gemm, attention and conv2d kinds: what a FLOP counter counts, Capture.matrix_flops,
  against the same part of the analytic records). The reference runs RMSNorm, rotary and the router's
  elementwise work unfused, so their small CUDA-core counts differ by design; their share
  grows as the hidden size shrinks, so for the small configurations drawn here only the
  matrix work is held to 1 %. Prefill uses the analytic "report" accounting (full S0 x S0
  scores), as capture counts causal attention the way torch.utils.flop_counter does.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("torch")
pytest.importorskip("transformers")

from roofsim.capture import MATRIX_KINDS  # noqa: E402
from roofsim.kernels import records_from_params  # noqa: E402
from roofsim.records import SHAPE_PARAMS  # noqa: E402
from roofsim.reference.spec import ClipSpec, DecoderSpec, ReferenceSpec, SamSpec  # noqa: E402
from roofsim.reference.stages import capture_decode_steps, capture_stage  # noqa: E402
from roofsim.verify import TOLERANCE  # noqa: E402
from roofsim.workloads.deepseek_ocr import Request, config_from_dict, stage_records  # noqa: E402
from strategies import SLOW, default_raw  # noqa: E402

import numpy as np  # noqa: E402


@st.composite
def small_models(draw):
    """(reference spec, the same model as an analytic config, crop grid, prompt, decode steps).
    The reference's SAM always has rel-pos and qkv bias, its CLIP quick_gelu, its projector one
    Linear with bias, its rotary the whole head: the config says the same."""
    patch = draw(st.sampled_from([8, 16]))
    step = patch * 4
    sam_heads = draw(st.integers(1, 4))
    sam_hidden = sam_heads * draw(st.sampled_from([16, 32]))
    sam_layers = draw(st.integers(1, 3))
    glob = tuple(sorted(draw(st.sets(st.integers(0, sam_layers - 1), max_size=sam_layers))))
    window = draw(st.integers(2, 8))
    sam_mlp = draw(st.integers(16, 256))
    neck, net_2 = draw(st.integers(8, 64)), draw(st.integers(8, 64))
    clip_heads = draw(st.integers(1, 4))
    clip_hidden = clip_heads * draw(st.sampled_from([16, 32]))
    clip_layers, clip_mlp = draw(st.integers(1, 3)), draw(st.integers(16, 256))
    kv_heads = draw(st.integers(1, 4))
    heads = kv_heads * draw(st.sampled_from([1, 2]))
    head_dim = draw(st.sampled_from([16, 32, 64]))
    hidden = heads * head_dim
    layers = draw(st.integers(1, 3))
    dense = draw(st.integers(0, layers))
    # multiples of 8: aten._grouped_mm needs 16-byte aligned bf16 rows
    inter, moe = 8 * draw(st.integers(2, 64)), 8 * draw(st.integers(1, 32))
    experts = draw(st.integers(2, 16))
    top_k = draw(st.integers(1, experts))
    shared = draw(st.integers(0, 2))
    vocab = draw(st.integers(64, 4096))
    global_size = step * draw(st.integers(2, 6))
    crop_size = step * draw(st.integers(1, 4))
    grid = draw(st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2), (1, 3)]))
    clip_grid = global_size // step

    spec = ReferenceSpec(
        sam=SamSpec(hidden=sam_hidden, layers=sam_layers, heads=sam_heads, mlp=sam_mlp,
                    window=window, global_layers=glob, patch=patch, pretrain_size=global_size,
                    neck_channels=neck, downsample_channels=(net_2, clip_hidden)),
        clip=ClipSpec(hidden=clip_hidden, layers=clip_layers, heads=clip_heads, mlp=clip_mlp,
                      grid=clip_grid),
        decoder=DecoderSpec(hidden=hidden, intermediate=inter, layers=layers, heads=heads,
                            kv_heads=kv_heads, dense_layers=dense, moe_intermediate=moe,
                            experts=experts, shared_experts=shared, top_k=top_k, vocab=vocab),
        global_size=global_size, crop_size=crop_size)
    raw = default_raw()
    raw["sam"].update(patch_size=patch, embed_dim=sam_hidden, depth=sam_layers, heads=sam_heads,
                      mlp_dim=sam_mlp, window_size=window, global_blocks=list(glob),
                      rel_pos=True, qkv_bias=True, pos_embed_size=global_size // patch)
    raw["compressor"].update(neck_dim=neck, net_2_dim=net_2, net_3_dim=clip_hidden)
    raw["clip"].update(hidden=clip_hidden, layers=clip_layers, heads=clip_heads,
                       mlp_dim=clip_mlp, activation="quick_gelu", image_size=14 * clip_grid,
                       patch_size=14)
    raw["projector"].update(input_dim=2 * clip_hidden, output_dim=hidden, depth=1, bias=True)
    raw["decoder"].update(hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
                          head_dim=head_dim, rope_dim=head_dim, intermediate=inter,
                          first_dense_layers=dense, moe_intermediate=moe, routed_experts=experts,
                          experts_per_token=top_k, shared_experts=shared, vocab=vocab)
    raw["views"].update(patch_size=patch, global_size=global_size, crop_size=crop_size,
                        modes={"base": global_size})
    cfg = config_from_dict(raw, source="<drawn>")
    return spec, cfg, grid, draw(st.integers(0, 32)), draw(st.integers(1, 6))


def _all_flops(table) -> float:
    return float(np.dot(table.flops_tensor + table.flops_cuda, table.count))


def _analytic_matrix_flops(table) -> float:
    """The matrix products of the matrix kinds (what a FLOP counter counts): each row's kind
    formula evaluated as bf16, where all matrix work is tensor-core work and nothing else is
    (bias adds, softmax and scaling inside attention are CUDA-core)."""
    rows = table.select(np.isin(table.kind.astype(str), sorted(MATRIX_KINDS)))
    params = {p: rows.param(p) for p in SHAPE_PARAMS}
    redo = records_from_params(rows.kind, params, "bfloat16", count=rows.count)
    return redo.total("flops_tensor")


def _close(captured: float, analytic: float) -> bool:
    return abs(captured - analytic) <= TOLERANCE * analytic


@SLOW
@given(model=small_models())
def test_captured_and_analytic_flops_agree_within_the_tolerance(model):
    spec, cfg, grid, prompt, steps = model
    crop_grid = None if grid == (1, 1) else grid
    req = Request(grid=grid, prompt_tokens=prompt, decode_tokens=steps)
    seq = spec.image_tokens(crop_grid) + prompt
    vision = capture_stage("vision", crop_grid=crop_grid, spec=spec, use_cache=False)
    prefill = capture_stage("prefill", seq_len=seq, spec=spec, use_cache=False)
    decode = capture_decode_steps(seq, steps, spec=spec, use_cache=False)
    model_acc = stage_records(cfg, req, "flash", "last", "model")
    report_acc = stage_records(cfg, req, "flash", "last", "report")

    checks = [("vision", _all_flops(vision.table), _all_flops(model_acc["vision"]))]
    for stage, cap, ana in (("vision", vision, model_acc["vision"]),
                            ("prefill", prefill, report_acc["prefill"]),
                            ("decode", decode, model_acc["decode"])):
        checks.append((f"{stage} matrix", cap.matrix_flops, _analytic_matrix_flops(ana)))
    for label, c, a in checks:
        assert _close(c, a), f"{label}: captured {c:.6g} vs analytic {a:.6g} ({c / a - 1:+.3%})"
