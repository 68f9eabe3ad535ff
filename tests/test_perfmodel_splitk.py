"""roofsim.perfmodel.split_reduce_kernels: a skinny product whose nvjet launch splits its
reduction runs cuBLAS's splitKreduce kernel after it, a second kernel of the call (one more
graph node and launch floor, launches_per_call); checked against the kernels the H200 recorded
for the reference's decode-step products (calibration/h200/e2e*/kernels.csv.gz)."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params
from roofsim.perfmodel import launches_per_call, split_reduce_kernels, unit_terms

ROOT = Path(__file__).resolve().parents[1]
GRID_SMS = 132.0


def linear(m, n, k):
    return records_from_params("linear", {"m": np.atleast_1d(np.asarray(m, float)),
                                          "n": np.atleast_1d(np.asarray(n, float)),
                                          "k": np.atleast_1d(np.asarray(k, float)),
                                          "bias": np.zeros(np.size(m))}, "bfloat16")


def recorded_decode_products() -> dict[tuple[int, int, int], bool]:
    """(m, n, k) of every bf16 aten::mm decode call whose kernels include an nvjet product:
    whether a splitKreduce kernel ran with it."""
    seen: dict[tuple, set] = defaultdict(set)
    for path in sorted((ROOT / "calibration/h200").glob("e2e*/kernels.csv.gz")):
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                if r["stage"] == "decode" and r["op"] == "aten::mm":
                    seen[r["input_dims"]].add(r["name"])
    out = {}
    for dims, names in seen.items():
        if not any("nvjet" in n for n in names):
            continue                         # the fp32 router's gemv, say: not an nvjet call
        (m, k), (_, n) = json.loads(dims)
        out[(m, n, k)] = any("splitKreduce" in n for n in names)
    return out


def test_the_recorded_decode_products_split_where_cublas_ran_a_reduction():
    recorded = recorded_decode_products()
    assert any(recorded.values()) and not all(recorded.values())
    shapes = sorted(recorded)
    m, n, k = (np.array(v, float) for v in zip(*shapes))
    got = split_reduce_kernels(linear(m, n, k), GRID_SMS)
    assert got.tolist() == [float(recorded[s]) for s in shapes]


@pytest.mark.parametrize("m,n,k,nodes", [
    (1, 1280, 6848, 2),      # 4 splits of 20 column tiles: nvjet ..._splitK + splitKreduce
    (1, 1280, 1280, 1),      # a short linear's narrow column tiles: no split
    (512, 1280, 6848, 1),    # not skinny: the persistent kernel reduces in place
    (1, 1280, 6847, 1),      # k's rows not 16-byte aligned: CUTLASS's fallback, one kernel
    (1, 12800, 6848, 1),     # 200 column tiles fill the grid: no split
])
def test_a_split_call_issues_two_kernels(m, n, k, nodes):
    t = linear(m, n, k)
    assert launches_per_call(t, GRID_SMS)[0] == nodes


def test_the_physics_pays_the_reduction_a_launch_floor():
    hw = load_hardware("h200")
    u = unit_terms(linear([1, 1], [1280, 1280], [6848, 1280]), hw)
    assert u.nodes_s[0] == pytest.approx(hw.launch_overhead_s("cuda_graph"))
    assert u.nodes_s[1] == 0.0
