"""Communication kinds (roofsim.kernels.comm) and the engine's link roof."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.engine import BOUNDS, simulate
from roofsim.errors import UserError
from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params
from roofsim.kernels.comm import bus_factor, link_work
from roofsim.records import COMM_KINDS, KINDS

H200 = load_hardware("h200")


def _time(kind, numel, ranks, nodes=1, tree=0, hw=H200):
    t = records_from_params(kind, {"numel": [numel], "ranks": [ranks], "nodes": [nodes],
                                   "tree": [tree]}, "bfloat16")
    return simulate(t, hw)


def test_comm_kinds_are_record_kinds_and_link_is_a_bound():
    assert set(COMM_KINDS) <= set(KINDS)
    assert BOUNDS[-1] == "link"


@pytest.mark.parametrize("kind,factor", [("all_reduce", 2 * 7 / 8), ("all_gather", 7 / 8),
                                         ("reduce_scatter", 7 / 8), ("all_to_all", 7 / 8),
                                         ("send_recv", 1.0)])
def test_nccl_tests_bus_factors(kind, factor):
    assert bus_factor(kind, 8) == pytest.approx(factor)
    assert bus_factor(kind, 1) == 0


def test_large_all_reduce_runs_at_bus_bandwidth_over_one_nvlink_direction():
    size = 2**29                                  # 1 GiB of bf16
    tm = _time("all_reduce", size, 8)
    bus = 2 * size * 2 * 7 / 8
    per_direction = 900e9 / 2 * 0.80
    assert tm.bound_names()[0] == "link"
    latency = (3.6 + 2 * 7 * 0.47) * 1e-6
    assert tm.link_s[0] == pytest.approx(bus / per_direction + latency, rel=1e-9)
    busbw = bus / tm.launch_time_s[0]
    assert 340e9 < busbw < 365e9                  # nccl-tests' ~360 GB/s without NVLS


def test_small_all_reduce_is_latency_nccls_model():
    tm = _time("all_reduce", 1, 8)
    expected = (3.6 + 2 * 7 * 0.47) * 1e-6
    assert tm.link_s[0] == pytest.approx(expected, rel=1e-3)


def test_one_rank_costs_nothing_on_the_link():
    for kind in COMM_KINDS:
        assert _time(kind, 4096, 1).link_s[0] == 0


def test_multi_node_uses_the_network():
    intra = _time("all_reduce", 2**27, 8, nodes=1).link_s[0]
    inter = _time("all_reduce", 2**27, 16, nodes=2).link_s[0]
    bus = 2 * 2**27 * 2 * 15 / 16
    assert inter == pytest.approx(bus / (50e9 * 0.8), rel=0.01)
    assert inter > 5 * intra
    w = link_work("all_reduce", {"numel": np.array([8.0]), "ranks": np.array([16.0]),
                                 "nodes": np.array([2.0])}, "bfloat16")
    assert w["network_steps"][0] == 2 and w["intra_steps"][0] == 28


def test_tree_has_fewer_latency_steps_than_ring_at_many_nodes():
    ring = _time("all_reduce", 1, 64, nodes=8).link_s[0]
    tree = _time("all_reduce", 1, 64, nodes=8, tree=1).link_s[0]
    assert tree < ring


def test_no_link_is_a_user_error():
    hw = load_hardware("rtx-5090").__class__(**{**load_hardware("rtx-5090").__dict__,
                                                "interconnect": {}})
    with pytest.raises(UserError, match="pcie"):
        _time("all_reduce", 1024, 2, hw=hw)


def test_reductions_count_additions_and_local_traffic():
    t = records_from_params(["all_reduce", "all_gather"], {"numel": [1024, 1024],
                                                             "ranks": [4, 4]}, "bfloat16")
    assert t.flops_cuda[0] == pytest.approx(1024 * 3 / 4) and t.flops_cuda[1] == 0
    assert t.bytes_read[1] == pytest.approx(1024 / 4 * 2)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(COMM_KINDS), numel=st.integers(1, 2**30),
       more=st.integers(1, 2**30), ranks=st.integers(2, 64), nodes=st.integers(1, 8))
def test_link_time_monotone_in_bytes_and_ranks(kind, numel, more, ranks, nodes):
    nodes = min(nodes, ranks)
    base = _time(kind, numel, ranks, nodes).link_s[0]
    assert np.isfinite(base) and base > 0
    assert _time(kind, numel + more, ranks, nodes).link_s[0] >= base
    assert _time(kind, numel, ranks + 1, nodes).link_s[0] >= base * (1 - 1e-12)


@pytest.mark.parametrize("ranks,nodes,tree,fragment", [
    (0, 1, 0, "ranks (GPUs in the group) must be >= 1, got 0"),
    (4, 5, 0, "got nodes 5 for ranks 4"),
    (4, 0, 0, "got nodes 0 for ranks 4"),
    (4, 1, 5, "tree must be 0 (ring) or 1"),
])
def test_a_group_out_of_range_is_refused_not_clamped(ranks, nodes, tree, fragment):
    """A collective of no GPU, of more nodes than GPUs or with tree 5 was clamped into range
    (ranks 0 timed as 1, nodes 5 of 4 as 4, tree 5 as a tree): a figure for a wrong input."""
    with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        records_from_params("all_reduce", {"numel": [1024.0], "ranks": [float(ranks)],
                                           "nodes": [float(nodes)], "tree": [float(tree)]},
                            "bfloat16")


def test_predict_kernels_names_the_line_of_a_group_out_of_range(tmp_path, capsys):
    from roofsim.cli import main
    f = tmp_path / "cases.csv"
    f.write_text("kind,numel,ranks,nodes\nall_reduce,1024,8,1\nall_reduce,1024,4,5\n")
    assert main(["predict-kernels", str(f), "--hardware", "h200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cases.csv: line 3" in err[0] and "nodes 5 for ranks 4" in err[0]
