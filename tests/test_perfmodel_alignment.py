"""The misaligned products' fallback and its load width (roofsim.perfmodel:
operand_alignment_bytes, misaligned_load_width, the T_tensor / T_cuda / T_parallel slowdown),
checked against the kernels cuBLAS ran (calibration/h200/gemm-kernels)."""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.data import data_dir
from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import (ALIGN_WIDTH_EXPONENT, PARAMS, launch_seconds,
                               misaligned_load_width, misaligned_operands,
                               operand_alignment_bytes, unit_terms)


def gemm(m, n, k, kind="gemm"):
    return records_from_params(kind, {"m": [float(m)], "n": [float(n)], "k": [float(k)]},
                               "bfloat16")


@pytest.mark.parametrize("k,align", [(4097, 2), (4098, 4), (4100, 8), (4104, 16), (4096, 16)])
def test_alignment_is_the_worst_operand_rows_bytes(k, align):
    assert operand_alignment_bytes(gemm(512, 1024, k))[0] == align
    assert operand_alignment_bytes(gemm(512, k, 1024))[0] == align
    assert misaligned_operands(gemm(512, 1024, k))[0] == (align < 16)


def test_load_width_law():
    widths = [misaligned_load_width(gemm(512, 1024, k))[0] for k in (4097, 4098, 4100, 4104)]
    assert widths == pytest.approx([1.0, 2.0 ** ALIGN_WIDTH_EXPONENT,
                                    4.0 ** ALIGN_WIDTH_EXPONENT, 1.0])


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 8192), n=st.integers(1, 2048), k=st.integers(1, 2048),
       eta_u=st.floats(0.02, 1.0), kind=st.sampled_from(["gemm", "linear"]))
def test_a_wider_alignment_never_slows_the_fallback(m, n, k, eta_u, kind):
    """Same shape, same parameters: rows aligned to more bytes are never slower, and an aligned
    product never slower than a misaligned one (the fallback's rate is capped at the aligned)."""
    hw = load_hardware("h200")
    p = np.array([q.default for q in PARAMS])
    p[[q.name for q in PARAMS].index("eta_unaligned")] = eta_u
    u = unit_terms(gemm(m, n, k, kind), hw)
    times = []
    for width, mis in ((1.0, True), (2 ** 0.5, True), (2.0, True), (1.0, False)):
        v = replace(u, load_width=np.array([width]), misaligned=np.array([mis]))
        times.append(launch_seconds(v, p)[0])
    assert all(b <= a * (1 + 1e-12) for a, b in zip(times, times[1:]))


def test_cublas_fallback_kernels_load_what_the_alignment_allows():
    """Every misaligned product's CUTLASS 2.x kernel in the profiled traces is named for its
    load width (alignN: N elements of 2 bytes); roofsim's operand alignment names the same
    width for most of them (cuBLAS may pick a narrower kernel than the rows allow)."""
    names = {}
    for sub in ("mixed-fresh", "sm96"):
        path = data_dir("calibration") / "h200" / "gemm-kernels" / sub / "kernels.csv.gz"
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                a = re.search(r"_align(\d)", r["name"])
                if a and r["case_id"].split("|")[0] in ("gemm", "linear"):
                    names[r["case_id"]] = 2.0 * int(a.group(1))
    assert len(names) > 100
    same, total = 0, 0
    for cid, width in names.items():
        kind, _, shape = cid.split("|")
        params = {kv.split("=")[0]: [float(kv.split("=")[1])] for kv in shape.split(",")}
        t = records_from_params(kind, params, "bfloat16")
        if not misaligned_operands(t)[0]:
            continue
        total += 1
        same += operand_alignment_bytes(t)[0] == width
    assert total > 100 and same / total >= 0.9


def test_odd_key_mask_rows_take_the_fallback():
    from roofsim.perfmodel import key_mask_rows_odd

    def attn(b, sq, skv, bias):
        return records_from_params("attention", {"batch": [float(b)], "heads": [8.0],
                                                 "seq_q": [float(sq)], "seq_kv": [float(skv)],
                                                 "head_dim": [128.0], "bias": [float(bias)]},
                                   "bfloat16")
    assert misaligned_operands(attn(8, 4, 8193, 2))[0]
    assert operand_alignment_bytes(attn(8, 4, 8193, 2))[0] == 1
    for b, sq, skv, bias in ((1, 4, 8193, 2), (8, 4, 8192, 2), (8, 1, 8193, 2), (8, 4, 8193, 0)):
        assert not misaligned_operands(attn(b, sq, skv, bias))[0], (b, sq, skv, bias)
    assert list(key_mask_rows_odd([2, 1, 2], [4, 4, 4], [7, 7, 8], [2, 2, 2])) == \
        [True, False, False]


def test_calibrated_packed_calls_with_odd_mask_rows_stream_slower():
    """The evidence: calibration/h200's packed masked calls of one wave at >= 4000 keys run
    about half the key rate with odd mask rows."""
    from roofsim.calibration.fit import measurement_table
    from roofsim.calibration.measurements import read_measurements
    from roofsim.perfmodel import key_mask_rows_odd
    m = read_measurements(data_dir("calibration") / "h200" / "measurements.csv")
    m = m.select(m.stable & (m["kind"] == "attention"))
    t = measurement_table(m)
    b, sq, skv, h = t.param("batch"), t.param("seq_q"), t.param("seq_kv"), t.param("heads")
    bias = np.nan_to_num(t.param("bias"))
    sel = (bias >= 2) & (sq > 1) & (b * h <= 132) & (skv >= 4000)
    ns_key = m["kernel_s"] / skv
    odd = key_mask_rows_odd(b, sq, skv, bias)
    assert (sel & odd).sum() >= 10 and (sel & ~odd).sum() >= 10
    assert np.median(ns_key[sel & odd]) / np.median(ns_key[sel & ~odd]) > 1.4
