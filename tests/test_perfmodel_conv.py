"""conv2d as the kernels one call runs (roofsim.perfmodel: conv_tensor_core_path,
conv_cuda_core_path, conv_layout_bytes, conv_extra_kernels), checked against the kernels cuDNN
ran for the H200's profiled conv2d rows (calibration/h200/conv-kernels)."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict

import numpy as np
import pytest

from roofsim.data import data_dir
from roofsim.hardware import derive_sm_restricted, load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (LAYOUT_EFFICIENCY, conv_cuda_core_path, conv_extra_kernels,
                               conv_layout_bytes, conv_tensor_core_path, launches_per_call,
                               unit_terms)

KEYS = ("batch", "c_in", "c_out", "h", "w", "kernel", "stride", "padding", "bias")


def conv(**kw):
    p = {"batch": 1, "c_in": 256, "c_out": 256, "h": 40, "w": 40, "kernel": 3, "stride": 1,
         "padding": 1, "bias": 0}
    p.update(kw)
    return records_from_params("conv2d", {k: [float(v)] for k, v in p.items()}, "bfloat16")


def test_paths_of_sam_convolutions():
    # SAM's patch embedding (3 channels, 16x16 stride 16): CUDA-core implicit GEMM on NCHW
    patch = conv(c_in=3, c_out=768, kernel=16, stride=16, padding=0, h=1024, w=1024, bias=1)
    assert not conv_tensor_core_path(patch)[0] and conv_cuda_core_path(patch)[0]
    # the neck's 1x1 (768 -> 256): a GEMM on NCHW, neither path
    neck = conv(c_in=768, kernel=1, padding=0)
    assert not conv_tensor_core_path(neck)[0] and not conv_cuda_core_path(neck)[0]
    # the 3x3 256 -> 256: tensor-core implicit GEMM with the two layout transforms
    assert conv_tensor_core_path(conv())[0] and not conv_cuda_core_path(conv())[0]


def test_layout_bytes_and_kernels_per_call():
    elt = 2.0
    t = conv()                            # tensor-core path, no bias, aligned c_in
    inputs, outputs = 256 * 40 * 40, 256 * 40 * 40
    assert conv_layout_bytes(t)[0] == pytest.approx(2 * elt * (inputs + outputs))
    assert conv_extra_kernels(t)[0] == 2 and launches_per_call(t, 132.0)[0] == 3
    b = conv(bias=1)                      # + the bias add: reads and writes the output
    assert conv_layout_bytes(b)[0] - conv_layout_bytes(t)[0] == pytest.approx(2 * elt * outputs)
    assert conv_extra_kernels(b)[0] == 3
    odd = conv(c_in=250)                  # a weight whose rows are not 16-byte aligned
    assert conv_extra_kernels(odd)[0] == 3
    cuda = conv(c_in=3, c_out=64, kernel=4, stride=4, padding=0)
    assert conv_layout_bytes(cuda)[0] == 0 and conv_extra_kernels(cuda)[0] == 0
    gemm = records_from_params("gemm", {"m": [64.0], "n": [64.0], "k": [64.0]}, "bfloat16")
    assert conv_layout_bytes(gemm)[0] == 0 and launches_per_call(gemm, 132.0)[0] == 1


def test_cuda_core_path_is_cuda_core_work():
    t = conv(c_in=3, c_out=64, kernel=4, stride=4, padding=0, h=256, w=256)
    u = unit_terms(t, load_hardware("h200"))
    assert u.tensor_s[0] == 0 and u.cuda_s[0] > 0
    u8 = unit_terms(t, derive_sm_restricted(load_hardware("h200"), 8))
    assert u8.cuda_s[0] == pytest.approx(u.cuda_s[0] * 132 / 8)


def test_layout_passes_stream_at_what_the_sms_keep_in_flight():
    # on the whole chip HBM binds the layout passes; on 8 SMs the SMs' bytes in flight do
    h200 = load_hardware("h200")
    few = derive_sm_restricted(h200, 8)
    t = conv(batch=8)
    whole, small = unit_terms(t, h200).layout_s[0], unit_terms(t, few).layout_s[0]
    assert whole == pytest.approx(conv_layout_bytes(t)[0] /
                                  (LAYOUT_EFFICIENCY * h200.mem_bandwidth_bytes_per_s))
    assert small == pytest.approx(conv_layout_bytes(t)[0] /
                                  (LAYOUT_EFFICIENCY * 8 * few.sm_mem_bandwidth_bytes_per_s))


def _profiled():
    """(params, whether the call ran NCHW <-> NHWC transforms, whether its main kernel was a
    CUDA-core one) of every profiled conv2d case, contiguous format."""
    out = {}
    for sub in ("conv-kernels", "conv-kernels/fit"):
        folder = data_dir("calibration") / "h200" / sub
        cases = {r["case_id"]: r for r in csv.DictReader(open(folder / "cases.csv"))
                 if r["format"] == "contiguous"}
        names = defaultdict(list)
        for r in csv.DictReader(gzip.open(folder / "kernels.csv.gz", "rt", newline="")):
            if r["format"] == "contiguous":
                names[r["case_id"]].append(r["name"])
        for cid, r in cases.items():
            ks = names[cid]
            out[cid] = ({k: float(r[k]) for k in KEYS},
                        any("nchwToNhwc" in k for k in ks),
                        any("convolve_sgemm" in k for k in ks))
    return list(out.values())


def test_rule_names_the_path_cudnn_took():
    cases = _profiled()
    assert len(cases) > 1000
    params = {k: [c[0][k] for c in cases] for k in KEYS}
    t = records_from_params("conv2d", params, "bfloat16")
    tc = conv_tensor_core_path(t)
    transformed = np.array([c[1] for c in cases])
    # every profiled call with the transforms ran a tensor-core implicit GEMM; the rule names
    # the path for 83 % of the cases (perfmodel's comment)
    assert np.mean(tc == transformed) >= 0.8
    cuda = conv_cuda_core_path(t)
    on_cuda = np.array([c[2] for c in cases])
    assert np.mean(on_cuda[cuda]) >= 0.6 and np.mean(on_cuda[tc]) <= 0.1


def test_tensor_core_path_runs_the_mmas_of_padded_channels():
    from roofsim.perfmodel import CONV_TILE_K, CONV_TILE_N, kernel_tensor_flops
    full = conv(c_in=256, c_out=256)                   # multiples of both steps: nothing padded
    np.testing.assert_allclose(kernel_tensor_flops(full), full.flops_tensor)
    odd = conv(c_in=35, c_out=9)                       # 35 -> 64 input, 9 -> 64 output channels
    share = (np.ceil(9 / CONV_TILE_N) * CONV_TILE_N / 9) * (np.ceil(35 / CONV_TILE_K) *
                                                            CONV_TILE_K / 35)
    np.testing.assert_allclose(kernel_tensor_flops(odd), odd.flops_tensor * share)
    # the record's FLOP accounting is the useful work, unchanged
    assert odd.flops_tensor[0] == pytest.approx(2.0 * 9 * 40 * 40 * 35 * 9)
    patch = conv(c_in=3, c_out=9, kernel=4, stride=4, padding=0)   # CUDA-core path: no tiles
    assert kernel_tensor_flops(patch)[0] == patch.flops_tensor[0]


def test_a_misaligned_weights_transform_reads_a_sector_per_element():
    """cuDNN's weight transform (KCRS -> KRSC, channels padded) runs before a tensor-core conv
    whose weight rows are not 16-byte aligned; its reads stride over the filter taps, each
    element moving min(a 32-byte sector, kernel^2 elements), and its writes are contiguous
    (perfmodel.conv_weight_transform_bytes)."""
    from roofsim.perfmodel import SECTOR_BYTES, conv_weight_transform_bytes
    odd = conv(c_in=250, c_out=100, kernel=7, padding=3)
    taps = 100 * 49
    want = taps * (250 * SECTOR_BYTES + np.ceil(250 * 2 / 16) * 16)
    assert conv_weight_transform_bytes(odd)[0] == pytest.approx(want)
    assert conv_layout_bytes(odd)[0] - conv_layout_bytes(conv(c_in=256, c_out=100, kernel=7,
                                                              padding=3))[0] == pytest.approx(
        want - 2 * 2 * 6 * 40 * 40, rel=1e-9)   # and 6 fewer input channels to transform
    three = conv(c_in=250, c_out=100, kernel=3)                      # 18 bytes apart
    assert conv_weight_transform_bytes(three)[0] == pytest.approx(100 * 9 * (250 * 18 + 512))
    one = conv(c_in=250, c_out=100, kernel=1, stride=2, padding=0)   # taps read contiguously
    assert conv_weight_transform_bytes(one)[0] == pytest.approx(100 * (250 * 2 + 512))
    for none in (conv(), conv(c_in=3, c_out=64, kernel=4, stride=4, padding=0),
                 conv(c_in=250, kernel=1, padding=0)):       # aligned; CUDA-core; 1x1 GEMM
        assert conv_weight_transform_bytes(none)[0] == 0.0


def _profiled_conv_calls(name: str):
    """(case parameters, records, seconds) of each contiguous call's kernels named `name` in the
    H200's profiled conv2d calls (calibration/h200/conv-kernels and its fit rows), summed per
    call."""
    for sub in ("conv-kernels", "conv-kernels/fit"):
        folder = data_dir("calibration") / "h200" / sub
        took = defaultdict(float)
        for r in csv.DictReader(gzip.open(folder / "kernels.csv.gz", "rt", newline="")):
            if r["format"] == "contiguous" and name in r["name"]:
                took[r["case_id"]] += float(r["calls"]) * float(r["duration_s"])
        for cid, seconds in took.items():
            p = dict(kv.split("=") for kv in cid.split("|")[2].split(","))
            yield p, records_from_params("conv2d", {k: [float(p.get(k, 0))] for k in KEYS},
                                         cid.split("|")[1]), seconds


def test_the_weight_transform_takes_what_cudnn_took_for_large_weights():
    """The profiled calls' tensorTransformGeneric kernels (calibration/h200/conv-kernels, weights
    of at least 2 M elements in windows larger than 1 x 1, where the rule says the transform
    runs; smaller ones sit on a floor of about 8 us): their durations against the physics'
    bytes over LAYOUT_EFFICIENCY x the H200's streaming bandwidth, within 1.5 x each and 15 % in
    the median (3 x 3: 18 bytes per element read; 5 x 5, 7 x 7: 32)."""
    from roofsim.perfmodel import conv_weight_transform_bytes, streaming_bandwidth
    rate = LAYOUT_EFFICIENCY * streaming_bandwidth(load_hardware("h200"))
    ratios = []
    for p, t, seconds in _profiled_conv_calls("tensorTransformGeneric"):
        nbytes = conv_weight_transform_bytes(t)[0]
        if float(p["kernel"]) > 1 and nbytes > 0 and \
                float(p["c_out"]) * float(p["c_in"]) * float(p["kernel"]) ** 2 >= 2e6:
            ratios.append(nbytes / rate / seconds)
    assert len(ratios) >= 20
    assert np.all(np.abs(np.log(ratios)) <= np.log(1.5))
    assert abs(np.median(ratios) - 1.0) <= 0.15


def test_the_layout_transforms_take_what_cudnn_took():
    """The input's and the output's NCHW <-> NHWC transforms of the profiled tensor-core calls
    (launches of more than 20 MB: each reads and writes its tensor once) against the same
    LAYOUT_EFFICIENCY x streaming bandwidth: within 15 % in the median, each transform apart
    (measured: input 0.49, output 0.43 of the HBM)."""
    from roofsim.perfmodel import _conv_sizes, streaming_bandwidth
    rate = LAYOUT_EFFICIENCY * streaming_bandwidth(load_hardware("h200"))
    for name, which in (("nchwToNhwc", 0), ("nhwcToNchw", 1)):
        ratios = []
        for _, t, seconds in _profiled_conv_calls(name):
            sizes = _conv_sizes(t)
            nbytes = 2.0 * sizes[2][0] * sizes[which][0]
            if nbytes > 20e6:
                ratios.append(nbytes / rate / seconds)
        assert len(ratios) >= 100, name
        assert abs(np.median(ratios) - 1.0) <= 0.15, name
