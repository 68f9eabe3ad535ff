"""Kernel suites (roofsim.calibration.suites): the shipped suites load, random spreads are
repeatable and stay inside their ranges and limits, and bad suite files fail with one line."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.calibration.features import alignment_level
from roofsim.calibration.measurements import HOLDOUT, HOLDOUT_FRACTION, split_of
from roofsim.calibration.suites import (Case, default_suite_paths, interleave_by_kind,
                                        load_suite, load_suites)
from roofsim.errors import UserError
from roofsim.kernels import KIND_FORMULAS
from roofsim.records import KINDS


@pytest.fixture(scope="module")
def shipped():
    return load_suites(default_suite_paths())


def test_shipped_suites_cover_every_kind_the_issue_names(shipped):
    kinds = {c.kind for c in shipped}
    for kind in ("gemm", "linear", "grouped_gemm", "attention", "layernorm", "rmsnorm",
                 "softmax", "gelu", "silu", "elementwise", "conv2d", "embedding", "sort"):
        assert kind in kinds, kind
    assert {c.dtype for c in shipped} == {"bfloat16", "float16", "float32", "int64"}
    assert {c.kind for c in shipped if c.dtype == "int64"} == {"sort"}     # integer sort keys
    assert len({c.case_id for c in shipped}) == len(shipped)


def test_shipped_suites_hold_deepseek_ocr_shapes(shipped):
    ids = {c.case_id for c in shipped}
    # Decode attention against 40k keys (10 heads x 128), the SAM patch embedding (3 input
    # channels, kernel 16), decode-step linears at M = 1 and 128, the experts' grouped GEMM.
    assert "attention|bfloat16|batch=1,heads=10,seq_q=1,seq_kv=40000,head_dim=128,causal=1" in ids
    assert ("conv2d|bfloat16|bias=1,batch=1,c_in=3,c_out=768,h=1024,w=1024,kernel=16,stride=16,"
            "padding=0") in ids
    for m in (1, 128):
        assert f"linear|bfloat16|m={m},n=1280,k=1280,bias=0" in ids
    assert "grouped_gemm|bfloat16|m=1,n=1792,k=1280,batch=6" in ids


def test_shipped_suites_respect_their_work_limits():
    # Each suite file caps the work of one launch (`limits`); its cases stay under the caps.
    import yaml
    for path in default_suite_paths():
        limits = yaml.safe_load(path.read_text()).get("limits") or {}
        by_kind = {}
        for c in load_suite(path):
            by_kind.setdefault((c.kind, c.dtype), []).append(c.param_dict())
        for (kind, dtype), rows in by_kind.items():
            cols = {p: np.array([r.get(p, np.nan) for r in rows], float)
                    for p in {p for r in rows for p in r}}
            w = KIND_FORMULAS[kind](cols, dtype)
            if "max_bytes" in limits:
                assert (w["bytes_read"] + w["bytes_written"] <= float(limits["max_bytes"])).all(), path
            if "max_flops" in limits:
                assert (w["flops_tensor"] + w["flops_cuda"] <= float(limits["max_flops"])).all(), path


def test_rounds_put_every_round_one_case_first(shipped):
    order = interleave_by_kind(shipped)
    rounds = [c.round for c in order]
    assert rounds == sorted(rounds)
    # Within round 1 the first len(groups) cases are one of each (kind, dtype) group.
    groups = {(c.kind, c.dtype) for c in order if c.round == 1}
    head = order[:len(groups)]
    assert {(c.kind, c.dtype) for c in head} == groups


def _write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_random_spread_is_repeatable_in_range_and_aligned(tmp_path):
    text = """
name: t
dtype: bfloat16
entries:
  - kind: gemm
    random:
      count: 200
      seed: 3
      params: {m: [1, 5000], n: [16, 4096], k: [16, 4096]}
      align: {params: [m, n, k], to: [1, 8, 64]}
"""
    a = load_suite(_write(tmp_path, text))
    b = load_suite(_write(tmp_path, text, "again.yaml"))
    assert [c.case_id for c in a] == [c.case_id for c in b]
    assert 190 <= len(a) <= 200          # duplicates of a small draw are timed once
    m = np.array([c.param_dict()["m"] for c in a])
    n = np.array([c.param_dict()["n"] for c in a])
    assert m.min() >= 1 and m.max() <= 5000 + 63 and n.min() >= 16
    # Rounding up to 8 or 64 for two thirds of the draws: many multiples of 8, many not.
    assert 0.4 < np.mean(n % 8 == 0) < 0.95


def test_grid_groups_and_sorted_and_same(tmp_path):
    text = """
entries:
  - kind: linear
    grid: {m: [1, 2], layer: [{n: 10, k: 20}, {n: 30, k: 40}], bias: [1]}
  - kind: attention
    random: {count: 30, seed: 1, params: {seq_q: [1, 100], seq_kv: [1, 100]}, sorted: [seq_q, seq_kv]}
    fixed: {heads: 2, head_dim: 64}
  - kind: conv2d
    random: {count: 5, seed: 1, params: {h: [16, 32]}, choice: {kernel: [2, 4]}, same: {w: h, stride: kernel}}
    fixed: {c_in: 3, c_out: 8}
"""
    cases = load_suite(_write(tmp_path, text))
    lin = [c.param_dict() for c in cases if c.kind == "linear"]
    assert lin == [{"m": 1, "n": 10, "k": 20, "bias": 1}, {"m": 1, "n": 30, "k": 40, "bias": 1},
                   {"m": 2, "n": 10, "k": 20, "bias": 1}, {"m": 2, "n": 30, "k": 40, "bias": 1}]
    for c in cases:
        p = c.param_dict()
        if c.kind == "attention":
            assert p["seq_q"] <= p["seq_kv"] and p["heads"] == 2
        if c.kind == "conv2d":
            assert p["w"] == p["h"] and p["stride"] == p["kernel"]


@pytest.mark.parametrize("body, needle", [
    ("entries:\n  - kind: matmul\n    list: [{m: 1}]\n", "kind 'matmul'"),
    ("entries:\n  - kind: gemm\n    list: [{q: 1}]\n", "unknown shape parameter 'q'"),
    ("entries:\n  - kind: gemm\n    list: [{m: -1, n: 1, k: 1}]\n", "non-negative integer"),
    ("entries:\n  - kind: gemm\n    dtype: int4\n    list: [{m: 1}]\n", "dtype 'int4'"),
    ("entries:\n  - kind: gemm\n", "exactly one of"),
    ("entries: [\n", "not valid YAML"),
    ("cases: []\n", "list 'entries'"),
    ("entries:\n  - kind: gemm\n    round: 0\n    list: [{m: 1}]\n", "round must be"),
    # read by the one YAML reader (roofsim.io): a key twice, YAML 1.1's yes no number
    ("entries: []\nentries: []\n", "'entries' appears twice"),
    ("limits: {max_bytes: yes}\nentries:\n  - kind: gemm\n    list: [{m: 1, n: 1, k: 1}]\n",
     "expected a number, got 'yes'"),
])
def test_bad_suites_fail_with_one_line_naming_the_file(tmp_path, body, needle):
    p = _write(tmp_path, body)
    with pytest.raises(UserError) as err:
        load_suite(p)
    assert needle in str(err.value) and str(p) in str(err.value)
    assert "\n" not in str(err.value)


def test_case_id_ignores_suite_and_round_and_orders_parameters():
    a = Case.make("gemm", "bfloat16", {"k": 3, "m": 1, "n": 2}, suite="x", round=2)
    b = Case.make("gemm", "bfloat16", {"m": 1, "n": 2, "k": 3})
    assert a.case_id == b.case_id == "gemm|bfloat16|m=1,n=2,k=3"


def test_holdout_split_is_fixed_and_near_its_fraction(shipped):
    ids = [c.case_id for c in shipped]
    share = np.mean([split_of(i) == HOLDOUT for i in ids])
    assert abs(share - HOLDOUT_FRACTION) < 0.03
    assert [split_of(i) for i in ids[:50]] == [split_of(i) for i in ids[:50]]
    assert split_of(ids[0], seed=1) in ("fit", "holdout")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10**6), st.sampled_from([1, 2, 4]))
def test_alignment_level_is_log2_of_byte_alignment_capped_at_16(x, elt):
    level = alignment_level(np.array([x]), np.array([elt]))[0]
    nbytes = x * elt
    assert nbytes % (2 ** int(level)) == 0
    assert level == 4 or nbytes % (2 ** int(level + 1)) != 0


def test_every_record_kind_has_a_runner():
    from roofsim.calibration.runners import runner_table
    from roofsim.records import COMM_KINDS
    # collectives need several GPUs: benchmarks/measure_collectives.py times them, not a runner
    assert set(runner_table()) == set(KINDS) - set(COMM_KINDS)
