"""Attention kernels the libraries run differently (issue 16): which calls split the keys, and
the key mask shared by heads and queries (bias 2)."""

import numpy as np
import torch
from hypothesis import given, settings, strategies as st

from roofsim.calibration.features import features
from roofsim.capture.sdpa import key_mask
from roofsim.kernels import work
from roofsim.perfmodel import matrix_ctas, output_tiles, splits_kv
from roofsim.records import RecordTable


def _attention(**p):
    p = {"batch": 1, "heads": 8, "seq_q": 1, "seq_kv": 8193, "head_dim": 128, "causal": 0,
         "bias": 0, **p}
    cols = {k: np.array([float(v)]) for k, v in p.items()}
    w = work("attention", cols, np.array(["bfloat16"], dtype=object))
    return RecordTable.from_columns(1, kind="attention", name="x", dtype="bfloat16", params=p,
                                    flops_tensor=w["flops_tensor"], flops_cuda=w["flops_cuda"],
                                    bytes_read=w["bytes_read"], bytes_written=w["bytes_written"])


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 64), h=st.integers(1, 32), sq=st.integers(2, 64),
       skv=st.integers(512, 40000))
def test_a_few_unmasked_queries_run_one_block_per_head_over_every_key(b, h, sq, skv):
    """cuDNN's sm90 fprop (seq_q > 1, no bottom-right causal mask) does not split the keys:
    its blocks are its output tiles, on any SM count."""
    t = _attention(batch=b, heads=h, seq_q=sq, seq_kv=skv)
    assert not splits_kv(t)[0]
    assert matrix_ctas(t, 132)[0] == output_tiles(t)[0]


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 4), h=st.integers(1, 8), skv=st.integers(4096, 40000))
def test_one_query_per_head_splits_the_keys_to_fill_the_sms(b, h, skv):
    t = _attention(batch=b, heads=h, seq_q=1, seq_kv=skv)
    assert splits_kv(t)[0]
    assert matrix_ctas(t, 132)[0] > output_tiles(t)[0]


def test_a_bottom_right_causal_mask_splits_and_a_square_one_does_not():
    assert splits_kv(_attention(seq_q=16, seq_kv=8192, causal=1))[0]
    assert not splits_kv(_attention(seq_q=4096, seq_kv=4096, causal=1))[0]


def test_a_key_mask_is_one_row_per_sequence():
    assert key_mask(torch.ones(2, 1, 1, 100, dtype=torch.bool))
    assert key_mask(torch.ones(2, 1, 1, 100).expand(2, 8, 4, 100))      # broadcast: stride 0
    assert not key_mask(torch.ones(2, 8, 4, 100))                        # a mask per score
    assert not key_mask(torch.ones(2, 1, 4, 100))                        # a row per query
    assert not key_mask(torch.ones(100, 100))


def test_a_shared_key_mask_reads_a_byte_per_key_and_sequence_not_one_per_score():
    none, per_score, shared = (_attention(batch=4, seq_q=4, bias=v) for v in (0, 1, 2))
    assert shared.bytes_read[0] - none.bytes_read[0] == 4 * 8193 * 1
    assert per_score.bytes_read[0] - none.bytes_read[0] == 4 * 8 * 4 * 8193 * 2


def test_mask_variants_are_not_neighbours_of_each_other():
    """bias 0, 1 and 2 are other kernels (or another mask path): each pair is at least a flag
    weight apart in the calibration's feature space, whatever the sizes."""
    params = {"batch": np.array([2.0, 2.0, 2.0]), "heads": np.array([8.0] * 3),
              "seq_q": np.array([4.0] * 3), "seq_kv": np.array([8193.0] * 3),
              "head_dim": np.array([128.0] * 3), "causal": np.zeros(3),
              "bias": np.array([0.0, 1.0, 2.0])}
    x = features("attention", params, "bfloat16", 132)
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    assert d[0, 1] >= 2 and d[0, 2] >= 2 and d[1, 2] >= 2


def test_split_kv_decode_and_a_packed_few_query_call_are_never_neighbours():
    """One query per head runs flash-decoding's split-KV kernel; two queries (a packed GQA
    call) one block per head: calibration interpolates neither from the other."""
    from roofsim.calibration.features import SPLIT_KV_WEIGHT
    from roofsim.perfmodel import kv_split
    p = {"batch": np.array([1.0, 1.0, 1.0, 1.0]), "heads": np.array([8.0] * 4),
         "seq_q": np.array([1.0, 2.0, 2.0, 2.0]), "seq_kv": np.array([1694.0] * 4),
         "head_dim": np.array([128.0] * 4), "causal": np.array([0.0, 0.0, 1.0, 1.0]),
         "bias": np.array([0.0] * 4)}
    p["seq_kv"][3] = 2.0                      # causal, as many keys as queries: no split
    assert list(kv_split(p["seq_q"], p["seq_kv"], p["causal"] > 0)) == [True, False, True, False]
    x = features("attention", p, "bfloat16", 132)
    assert np.linalg.norm(x[0] - x[1]) >= SPLIT_KV_WEIGHT
    assert np.linalg.norm(x[2] - x[1]) >= SPLIT_KV_WEIGHT     # causal, seq_q < seq_kv: splits


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 16), h=st.integers(1, 32), sq=st.integers(1, 300),
       skv=st.integers(1, 9000), d=st.sampled_from([64, 128, 192]),
       dv=st.sampled_from([64, 128, 192]), causal=st.booleans())
def test_a_value_head_moves_the_pv_product_and_the_v_and_o_bytes_only(b, h, sq, skv, d, dv,
                                                                      causal):
    """Multi-head latent attention (head_dim_v != head_dim): QK^T runs over head_dim and PV over
    head_dim_v; Q and K are read and O written at their own head size. The record of one head
    size (head_dim_v absent or NaN, or equal) is the same work."""
    causal = int(causal and sq <= skv)
    base = dict(batch=b, heads=h, seq_q=sq, seq_kv=skv, causal=causal)
    same = _attention(**base, head_dim=d)
    assert np.allclose([same.bytes_read[0], same.flops_tensor[0]],
                       [_attention(**base, head_dim=d, head_dim_v=d).bytes_read[0],
                        _attention(**base, head_dim=d, head_dim_v=d).flops_tensor[0]])
    assert _attention(**base, head_dim=d, head_dim_v=float("nan")).bytes_read[0] == \
        same.bytes_read[0]
    mla = _attention(**base, head_dim=d, head_dim_v=dv)
    only_v = _attention(**base, head_dim=dv)
    # FLOPs: half of each head size's (QK^T at d, PV at dv)
    assert mla.flops_tensor[0] == \
        np.float64(same.flops_tensor[0] / 2 + only_v.flops_tensor[0] / 2)
    # written: O at dv (and the log-sum-exp)
    assert mla.bytes_written[0] == only_v.bytes_written[0]
    # read: Q at d, K at d and V at dv
    q_d = b * h * sq * d * 2
    q_dv = b * h * sq * dv * 2
    assert np.isclose(mla.bytes_read[0] - q_d, (same.bytes_read[0] - q_d) / 2 +
                      (only_v.bytes_read[0] - q_dv) / 2)


def test_the_runner_gives_the_value_its_own_head_size():
    from roofsim.kernels.attention import attention_runner
    params = {"batch": 2, "heads": 3, "seq_q": 5, "seq_kv": 7, "head_dim": 24, "head_dim_v": 16}
    fn, make = attention_runner(params, "float32", "cpu")
    q, k, v = make()
    assert (q.shape[-1], k.shape[-1], v.shape[-1]) == (24, 24, 16)
    assert tuple(fn(q, k, v).shape) == (2, 3, 5, 16)
    _, make = attention_runner({**params, "head_dim_v": float("nan")}, "float32", "cpu")
    assert make()[2].shape[-1] == 24


def test_a_value_head_unlike_the_key_head_is_not_a_neighbour_of_one_head_size():
    """DeepSeek-V2's call (192 / 128) is apart from a call of one head size of 192 or of 128,
    and the calls of one head size keep their distances (head_dim_v NaN or equal)."""
    n = 4
    params = {"batch": np.full(n, 6.0), "heads": np.full(n, 16.0), "seq_q": np.ones(n),
              "seq_kv": np.full(n, 2501.0), "causal": np.zeros(n), "bias": np.full(n, 2.0),
              "head_dim": np.array([192.0, 192.0, 128.0, 192.0]),
              "head_dim_v": np.array([128.0, np.nan, np.nan, 192.0])}
    x = features("attention", params, "bfloat16", 132)
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    assert d[0, 1] >= 1 and d[0, 2] >= 1
    assert d[1, 3] == 0
