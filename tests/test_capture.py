"""roofsim.capture: dispatch-level records on meta tensors.

Expected numbers come from ../shared/reference/deepseek-ocr.md ("Reference FLOPs") or from
torch.utils.flop_counter.FlopCounterMode run on the same module.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from roofsim import kernels  # noqa: E402
from roofsim.capture import (Capture, cache_key, cached_capture, capture,  # noqa: E402
                             load_capture, save_capture)
from roofsim.reference import DEEPSEEK_OCR  # noqa: E402
from roofsim.reference import models  # noqa: E402

BF16 = torch.bfloat16


def meta(*shape, dtype=BF16):
    return torch.empty(*shape, device="meta", dtype=dtype)


def counter_total(module, *args, **kwargs):
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad():
        module(*args, **kwargs)
    return fc.get_total_flops()


@pytest.fixture(scope="module")
def sam():
    return models.build(lambda: models._x().SamEncoder(models.sam_config()))


@pytest.fixture(scope="module")
def sam_capture(sam):
    return capture(sam, meta(1, 3, 1024, 1024), prefix="sam")


def test_sam_encoder_at_1024_is_the_reference_976_909_gflops(sam_capture):
    # Reference FLOPs: ImageEncoderViT 976.909 (neck, net_2, net_3, rel-pos everywhere).
    assert sam_capture.table.total("flops_tensor") / 1e9 == pytest.approx(976.909, abs=5e-4)
    assert sam_capture.matrix_flops / 1e9 == pytest.approx(976.909, abs=5e-4)
    assert sam_capture.unknown_ops == ()


def test_capture_agrees_with_flopcounter_on_sam(sam, sam_capture):
    # On meta, FlopCounterMode sees SDPA's math decomposition: the same matrix FLOPs.
    assert sam_capture.matrix_flops == pytest.approx(counter_total(sam, meta(1, 3, 1024, 1024)),
                                                     rel=1e-12)


def test_sam_attention_models_memory_efficient_sdpa_with_its_bias(sam_capture):
    att = sam_capture.table.select(sam_capture.table.kind == "attention")
    assert sam_capture.sdpa_backends == {"efficient": 12}
    assert set(att.name) == {"aten._scaled_dot_product_efficient_attention"}
    # 8 window blocks (25 windows of 196 tokens) and 4 global blocks (4096 tokens).
    assert sorted(set(att.param("seq_q"))) == [196, 4096]
    assert set(att.param("batch")[att.param("seq_q") == 196]) == {25}


def test_decoder_layers_at_512_tokens_match_reference_and_flopcounter():
    # Reference FLOPs: dense layer 34.980, MoE layer 36.323 (with the fp32 gate).
    dec = models.build_decoder(experts="eager", layers=2)
    x = meta(1, 512, 1280)
    cap = capture(dec.model, inputs_embeds=x, prefix="decoder")
    assert cap.under("decoder.layers.0").matrix_flops / 1e9 == pytest.approx(34.980, abs=1e-3)
    assert cap.under("decoder.layers.1").matrix_flops / 1e9 == pytest.approx(36.323, abs=1e-3)
    # eager experts with balanced routing: FlopCounterMode sees every matmul.
    assert cap.matrix_flops == pytest.approx(counter_total(dec.model, inputs_embeds=x), rel=1e-12)
    assert cap.sdpa_backends == {"flash": 2}


def test_grouped_experts_are_counted_where_flopcounter_is_blind():
    x = meta(1, 512, 1280)
    grouped = models.build_decoder(experts="grouped_mm", layers=2)
    eager = models.build_decoder(experts="eager", layers=2)
    cap_g = capture(grouped.model, inputs_embeds=x)
    cap_e = capture(eager.model, inputs_embeds=x)
    blind = counter_total(grouped.model, inputs_embeds=x)
    assert blind < 0.8 * cap_g.matrix_flops          # FlopCounterMode misses aten._grouped_mm
    assert cap_g.matrix_flops == pytest.approx(cap_e.matrix_flops, rel=1e-12)
    g = cap_g.table.select(cap_g.table.kind == "grouped_gemm")
    assert len(g) == 2 and set(g.name) == {"aten._grouped_mm"}
    assert set(g.param("batch")) == {64}             # 512 x 6 rows reach every expert


def test_grouped_experts_read_only_the_routed_experts_weights_in_decode():
    dec = models.build_decoder(experts="grouped_mm", layers=2)
    cap = capture(dec.model, inputs_embeds=meta(1, 1, 1280))
    g = cap.table.select(cap.table.kind == "grouped_gemm")
    # one token x top-6: six experts' gate_up (1792 x 1280) and down (1280 x 896) weights.
    d = DEEPSEEK_OCR.decoder
    expected = 6 * 3 * d.moe_intermediate * d.hidden * 2
    assert g.total("weight_bytes") == expected
    assert set(g.param("batch")) == {6}


def test_causal_flash_attention_is_counted_as_the_flop_counter_does():
    dec = models.build_decoder(layers=1)
    cap = capture(dec.model, inputs_embeds=meta(1, 512, 1280))
    att = cap.table.select(cap.table.kind == "attention")
    assert list(att.name) == ["aten._scaled_dot_product_flash_attention"]
    assert att.param("causal")[0] == 1
    # Reference FLOPs: attention core at 512 tokens, full S^2 as a FLOP counter counts it.
    assert att.total("flops_tensor") / 1e9 == pytest.approx(1.342, abs=1e-3)


def test_forced_math_backend_decomposes_with_the_same_matrix_flops():
    layer = models.build(lambda: models._x().CLIPEncoderLayer(models.clip_config()))
    x = meta(1, 257, 1024)
    fused = capture(layer, x, None)
    math_ = capture(layer, x, None, sdpa_backend="math")
    assert fused.sdpa_backends == {"flash": 1} and math_.sdpa_backends == {"math": 1}
    assert "attention" not in set(math_.table.kind) and "softmax" in set(math_.table.kind)
    assert fused.matrix_flops == pytest.approx(math_.matrix_flops, rel=1e-12)
    # Reference FLOPs: CLIP block at 257 tokens 6.738.
    assert fused.matrix_flops / 1e9 == pytest.approx(6.738, abs=1e-3)


class _Shuffle(torch.nn.Module):
    def forward(self, x):
        y = x.view(x.shape[0], -1).unsqueeze(0).expand(2, -1, -1).permute(0, 2, 1)  # views
        return y, x.transpose(1, 2).contiguous()           # one copy kernel


def test_views_move_nothing_and_a_copy_moves_its_tensor_twice():
    x = meta(2, 3, 4)
    cap = capture(_Shuffle(), x)
    assert len(cap.table) == 1
    (rec,) = cap.table.records()
    assert rec.kind == "copy" and rec.bytes_read == rec.bytes_written == 2 * 3 * 4 * 2


class _BroadcastAdd(torch.nn.Module):
    def forward(self, a, b):
        return a[:, :, None] + b[:, None, :]               # SAM's decomposed rel-pos sum


def test_strided_broadcast_reads_each_operand_once_and_counts_its_dims():
    # TensorIterator's strided kernel: a broadcast operand's repeated loads hit the cache, so
    # its bytes are its distinct elements; the per-element cost of the strided loads is the
    # index term's (roofsim.perfmodel), which counts the kernel's iteration dims.
    cap = capture(_BroadcastAdd(), meta(8, 16), meta(8, 32))
    (rec,) = cap.table.records()
    assert rec.kind == "elementwise" and rec.params["stride"] == 1
    assert rec.params["dims"] == 3                         # [8, 16, 32]: nothing coalesces
    assert rec.bytes_read == (8 * 16 + 8 * 32) * 2 and rec.bytes_written == 8 * 16 * 32 * 2


class _NormOfPermuted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(8)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 1))               # SAM's NCHW -> NHWC residual stream


def test_layer_norm_of_a_non_contiguous_input_records_its_contiguous_copy():
    cap = capture(models.build(_NormOfPermuted), meta(2, 8, 5))
    kinds = list(cap.table.kind)
    assert kinds == ["copy", "layernorm"]
    copy = cap.table.records()[0]
    assert copy.bytes_read == copy.bytes_written == 2 * 8 * 5 * 2
    assert copy.params["stride"] == 2                      # a transposed operand
    contiguous = capture(models.build(lambda: torch.nn.LayerNorm(8)), meta(2, 5, 8))
    assert list(contiguous.table.kind) == ["layernorm"]


def test_transposed_operand_is_stride_2_a_row_slice_or_broadcast_stride_1():
    class _Add(torch.nn.Module):
        def forward(self, a, b):
            return a + b
    a = meta(4, 6, 8)
    trans = capture(_Add(), a, meta(4, 8, 6).transpose(1, 2)).table.records()[0]
    sliced = capture(_Add(), a, meta(4, 6, 16)[..., :8]).table.records()[0]
    bcast = capture(_Add(), a, meta(4, 6, 1)).table.records()[0]
    assert (trans.params["stride"], sliced.params["stride"], bcast.params["stride"]) == (2, 1, 1)


def test_linear_record_matches_the_kernel_kind_formula():
    lin = models.build(lambda: torch.nn.Linear(64, 32))
    cap = capture(lin, meta(16, 64), prefix="proj")
    (rec,) = cap.table.records()
    assert rec.kind == "linear" and rec.layer == "proj"
    assert rec.params == {"m": 16, "k": 64, "n": 32, "bias": 1, "batch": 1}
    w = kernels.work("linear", rec.params, rec.dtype)
    for f in ("flops_tensor", "flops_cuda", "bytes_read", "bytes_written", "weight_bytes"):
        assert getattr(rec, f) == pytest.approx(float(w[f][0]))


def test_captured_flops_use_the_kernel_kinds_per_element_counts(sam_capture):
    # Where capture and roofsim/kernels describe the same kernel, their FLOPs agree.
    t = sam_capture.table
    for kind in ("linear", "conv2d", "layernorm", "gelu"):
        sub = t.select(t.kind == kind)
        assert len(sub)
        params = {p: sub.param(p) for p in ("m", "n", "k", "bias", "batch", "rows", "cols",
                                            "numel", "c_in", "c_out", "h", "w", "kernel",
                                            "stride", "padding")}
        params = {p: v for p, v in params.items() if not np.isnan(v).all()}
        w = kernels.work(kind, params, sub.dtype)
        np.testing.assert_allclose(sub.flops_tensor + sub.flops_cuda,
                                   w["flops_tensor"] + w["flops_cuda"], rtol=1e-12)


def test_host_side_ops_are_not_records(sam_capture):
    # SAM's relative-position index arithmetic runs on CPU tensors (torch.arange without a
    # device): no GPU kernel, no record. Every record touches the meta device.
    names = set(sam_capture.table.name)
    assert "aten.arange" not in names and "aten.sub" not in names


def test_module_paths_name_the_innermost_module(sam_capture):
    layers = set(sam_capture.table.layer)
    assert "sam.layers.0.attn.qkv" in layers and "sam.neck.conv1" in layers
    assert all(l == "sam" or l.startswith("sam.") for l in layers)
    qkv = sam_capture.under("sam.layers.0.attn.qkv").table
    assert list(qkv.kind) == ["linear"]


def test_weight_bytes_are_the_parameters_read(sam, sam_capture):
    # Each SAM parameter is read once per use; the rel-pos tables are read by the
    # interpolation and the global blocks' position embedding once by its add.
    params = sum(p.numel() * p.element_size() for p in sam.parameters())
    assert sam_capture.table.total("weight_bytes") == pytest.approx(params, rel=1e-12)


def _tiny_capture():
    lin = models.build(lambda: torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.GELU()))
    return capture(lin, meta(3, 8), stage="vision", prefix="m")


def test_capture_cache_round_trips_and_is_keyed(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOFSIM_CACHE_DIR", str(tmp_path))
    cap = _tiny_capture()
    save_capture(tmp_path / "x.npz", cap)
    back = load_capture(tmp_path / "x.npz")
    assert list(back.table.kind) == list(cap.table.kind)
    assert list(back.table.layer) == list(cap.table.layer)
    np.testing.assert_array_equal(back.table.params, cap.table.params)
    np.testing.assert_array_equal(back.counter_flops, cap.counter_flops)
    assert back.table.totals() == cap.table.totals()

    calls = []

    def produce():
        calls.append(1)
        return cap

    first = cached_capture({"a": 1}, produce)
    second = cached_capture({"a": 1}, produce)
    cached_capture({"a": 2}, produce)
    assert len(calls) == 2 and second.table.totals() == first.table.totals()
    assert len(list((tmp_path / "capture").glob("*.npz"))) == 2
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_capture_concat_and_under():
    cap = _tiny_capture()
    both = Capture.concat([cap, cap])
    assert len(both.table) == 2 * len(cap.table)
    assert both.matrix_flops == 2 * cap.matrix_flops
    assert len(cap.under("m.0").table) == 1


def test_cudnn_backend_records_the_cudnn_kernel_with_the_same_flops():
    # PyTorch 2.11 on Hopper runs every SDPA call of the reference as one cuDNN kernel.
    layer = models.build(lambda: models._x().SamLayer(models.sam_config(), 14))
    x = meta(1, 64, 64, 768)
    auto = capture(layer, x)
    cudnn = capture(layer, x, sdpa_backend="cudnn")
    assert cudnn.sdpa_backends == {"cudnn": 1}
    att = cudnn.table.select(cudnn.table.kind == "attention")
    assert list(att.name) == ["aten._scaled_dot_product_cudnn_attention"]
    assert cudnn.matrix_flops == pytest.approx(auto.matrix_flops, rel=1e-12)
    assert cudnn.table.totals()["flops"] == pytest.approx(auto.table.totals()["flops"], rel=1e-12)


# ---- uploads of CPU operands: a host-to-device copy that synchronizes ------------------------

class _Lookup(torch.nn.Module):
    """A device table indexed with CPU coordinates (SAM's relative positions do this), an
    explicit upload, and a CPU scalar (passed by value: no copy)."""

    def __init__(self):
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(15, 16))

    def forward(self, x):
        idx = torch.arange(8)[:, None] - torch.arange(8)[None, :] + 7     # on the CPU
        r = self.table[idx]
        y = torch.arange(4).to(x.device)
        return x + r.sum() + y.sum() + torch.tensor(2.0)


def test_a_cpu_operand_is_uploaded_and_the_upload_synchronizes():
    from roofsim.host import is_sync
    cap = capture(_Lookup().to("meta"), meta(8, 8, 16, dtype=torch.float32))
    names = list(cap.table.name)
    assert names[:3] == ["aten._h2d_copy", "aten.index", "aten._h2d_copy"]
    assert names.count("aten._h2d_copy") == 2          # the scalar tensor is not copied
    up = cap.table.select(np.flatnonzero(cap.table.name == "aten._h2d_copy"))
    assert list(up.kind) == ["copy", "copy"]
    assert list(up.param("numel")) == [64, 4]
    assert list(up.bytes_written) == [64 * 8, 4 * 8]      # int64 coordinates
    assert [is_sync(n) for n in names] == [n == "aten._h2d_copy" for n in names]


def test_the_reference_vision_stage_synchronizes_at_its_48_relative_position_lookups():
    from roofsim.host import sync_flags
    from roofsim.predict import stage_records
    recs = stage_records("reference", "2x3", 16, 1)
    syncs = {s: sum(int(sync_flags(t.name).sum() * w) for t, w in parts)
             for s, parts in recs.parts.items()}
    # SAM: 12 blocks x (height, width) lookups, for the global view and for the crops
    assert syncs == {"vision": 48, "prefill": 0, "decode": 0}


def test_a_kv_cache_append_records_its_unequal_inputs():
    class Append(torch.nn.Module):
        def forward(self, k, new, a, b, odd):
            return torch.cat([k, new], dim=2), torch.cat([a, a]), torch.cat([a, odd])
    t = capture(Append(), meta(1, 10, 2329, 128), meta(1, 10, 1, 128), meta(64), meta(64),
                meta(3)).table
    assert list(t.kind) == ["cat"] * 3
    assert (t.param("inputs")[0], t.param("largest")[0]) == (2, 10 * 2329 * 128)
    assert np.isnan(t.param("inputs")[1:]).all()      # equal inputs; a 6-byte input: unaligned


def test_a_strided_cat_records_its_inputs_for_the_generic_kernel():
    """The rotary embedding's torch.cat((-x2, x1), -1) of a slice x1 runs ATen's generic cat
    kernel (a row of blocks per input, perfmodel.cat_empty_blocks): inputs and largest even for
    equal inputs, and an empty input counts; equal contiguous inputs record none."""
    class Rope(torch.nn.Module):
        def forward(self, x, k, empty):
            half = x.shape[-1] // 2
            rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
            cache = torch.cat([empty, k.transpose(1, 2)], dim=-2)
            return rot, cache, torch.cat([x, x], dim=-1)
    t = capture(Rope(), meta(1, 10, 1, 64), meta(1, 7, 10, 128), meta(1, 10, 0, 128)).table
    cats = t.select(np.flatnonzero(t.kind == "cat"))
    assert len(cats) == 3
    assert (cats.param("inputs")[0], cats.param("largest")[0]) == (2, 320)
    assert cats.param("stride")[0] >= 1
    assert (cats.param("inputs")[1], cats.param("largest")[1]) == (2, 7 * 10 * 128)
    assert np.isnan(cats.param("inputs")[2])


def test_a_dtype_converting_op_is_cast_and_a_row_gather_counts_its_rows():
    class Route(torch.nn.Module):
        def forward(self, h, w, idx, flat, fidx):
            out = h * w                          # bf16 [t, d] x fp32 [t, 1] -> fp32: cast
            same = h * h                         # one dtype: no cast
            up = h.float()                       # a .float() copy: cast
            rows = h[idx]                        # x[idx]: whole rows
            picked = flat[fidx]                  # one element per index
            return out, same, up, rows, picked
    t = capture(Route(), meta(12, 64), meta(12, 1, dtype=torch.float32),
                torch.zeros(30, dtype=torch.long, device="meta"), meta(100),
                torch.zeros(7, dtype=torch.long, device="meta")).table
    cast = {(k, str(d)): c for k, d, c in zip(t.kind, t.dtype, t.param("cast"))}
    assert cast[("elementwise", "float32")] == 1
    assert np.isnan(cast[("elementwise", "bfloat16")])
    assert cast[("copy", "float32")] == 1
    idx = t.select(np.flatnonzero(t.kind == "index"))
    assert list(idx.param("numel")) == [30 * 64, 7]
    assert idx.param("rows")[0] == 30 and np.isnan(idx.param("rows")[1])


def test_a_sum_over_an_outer_dim_is_an_outer_reduction():
    class Combine(torch.nn.Module):
        def forward(self, x):
            return x.sum(dim=1), x.sum(dim=-1), x.sum()
    t = capture(Combine(), meta(50, 6, 64, dtype=torch.float32)).table
    red = t.select(np.flatnonzero(t.kind == "reduction"))
    assert list(red.param("rows")) == [50 * 64, 50 * 6, 1]
    assert red.param("stride")[0] == 1 and np.isnan(red.param("stride")[1:]).all()
