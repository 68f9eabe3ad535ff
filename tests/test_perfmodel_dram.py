"""roofsim.perfmodel.dram_bytes: flash attention streams K and V past every query tile (the
record's bytes, which the SMs load), but DRAM serves them once per (batch, head)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params
from roofsim.kernels.attention import FLASH_Q_TILE
from roofsim.perfmodel import dram_bytes, unit_terms

H200 = load_hardware("h200")


def attention(sq, skv, d=128, b=2, h=8, causal=0, bias=0):
    one = lambda v: np.array([float(v)])   # noqa: E731
    return records_from_params("attention", {"batch": one(b), "heads": one(h), "seq_q": one(sq),
                                             "seq_kv": one(skv), "head_dim": one(d),
                                             "causal": one(causal), "bias": one(bias)},
                               "bfloat16")


def test_k_and_v_come_from_dram_once_per_head():
    t = attention(4096, 4096)
    nbytes = t.bytes_read + t.bytes_written
    kv_once = 2 * 2 * 8 * 4096 * 128 * 2.0
    tiles = 4096 / FLASH_Q_TILE
    assert dram_bytes(t, nbytes)[0] == pytest.approx(nbytes[0] - (tiles - 1) * kv_once)
    u = unit_terms(t, H200)
    assert u.hbm_s[0] == pytest.approx(dram_bytes(t, nbytes)[0] / H200.mem_bandwidth_bytes_per_s)
    assert u.nbytes[0] == nbytes[0]                     # the SMs still load every pass
    one_tile = attention(FLASH_Q_TILE, 4096)            # one query tile: nothing re-read
    assert dram_bytes(one_tile, one_tile.bytes_read + one_tile.bytes_written)[0] == \
        pytest.approx((one_tile.bytes_read + one_tile.bytes_written)[0])


@settings(max_examples=60, deadline=None)
@given(sq=st.integers(1, 1 << 15), skv=st.integers(1, 1 << 15), d=st.sampled_from([64, 128]),
       causal=st.integers(0, 1), bias=st.integers(0, 2))
def test_dram_bytes_never_exceed_the_bytes_streamed_nor_drop_below_one_kv_pass(sq, skv, d,
                                                                              causal, bias):
    if causal and sq > skv:
        sq = skv
    t = attention(sq, skv, d, causal=causal, bias=bias)
    nbytes = t.bytes_read + t.bytes_written
    got = dram_bytes(t, nbytes)[0]
    assert got <= nbytes[0] * (1 + 1e-12)
    assert got >= 2 * 2 * 8 * skv * d * 2.0 * (1 - 1e-12) or got == nbytes[0]


def test_other_kinds_move_their_bytes_to_dram():
    t = records_from_params("gemm", {"m": np.array([4096.0]), "n": np.array([4096.0]),
                                     "k": np.array([4096.0]), "batch": np.array([8.0])},
                            "bfloat16")
    nbytes = t.bytes_read + t.bytes_written
    assert dram_bytes(t, nbytes)[0] == nbytes[0]
