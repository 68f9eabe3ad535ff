"""calibration/published/: the published measurements parse, carry a source, and are physical.

Every bound below is checked against numbers computed from the CSVs (never typed-in results),
so a unit slip in benchmarks/extract_published.py (GB vs GiB, ms vs s, kB vs KiB) fails here.
Needs numpy and pyyaml only.
"""

from __future__ import annotations

import csv
import gzip
import math
import re

import numpy as np
import pytest
import yaml

from roofsim.calibration import published as pub
from roofsim.data import data_dir

DIR = pub.published_dir()
DATA_FILES = {
    "gpu-benches/stream.csv": ["gpu", "benchmark", "kernel", "block_size", "bytes",
                               "bandwidth_Bps"],
    "gpu-benches/l2_cache.csv": ["gpu", "benchmark", "data_set_bytes", "bandwidth_Bps"],
    "gpu-benches/latency.csv": ["gpu", "benchmark", "footprint_bytes", "clock_hz",
                                "latency_s", "latency_cycles"],
    "gpu-benches/small_kernels.csv": ["gpu", "benchmark", "mode", "bytes", "block_size",
                                      "bandwidth_Bps"],
    "ml-engineering/mamf.csv": ["accelerator", "benchmark", "dtype", "mamf_flops",
                                "peak_flops", "m", "n", "k"],
}
NUMERIC = re.compile(r"(bytes|_Bps|_s|_hz|_cycles|_flops|_size|^[mnk]$)")


def _read(rel):
    """The rows of a data file, from its .gz copy where that is what is stored."""
    path = DIR / rel
    if not path.exists():
        with gzip.open(path.with_name(path.name + ".gz"), "rt", newline="") as f:
            return list(csv.DictReader(f))
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("rel", sorted(DATA_FILES))
def test_files_parse_with_positive_numbers(rel):
    rows = _read(rel)
    assert len(rows) >= 10
    for col in ["source_id", *DATA_FILES[rel]]:
        assert col in rows[0], f"{rel}: no column {col}"
    for r in rows:
        for col, v in r.items():
            if NUMERIC.search(col):
                x = float(v)
                assert math.isfinite(x) and x > 0, f"{rel}: {col}={v!r}"


@pytest.mark.parametrize("rel", sorted(DATA_FILES))
def test_every_row_names_a_recorded_source(rel):
    sources = pub.sources()
    for r in _read(rel):
        s = sources[r["source_id"]]
        assert re.fullmatch(r"[0-9a-f]{40}", s.snapshot_commit)
        assert re.fullmatch(r"[0-9a-f]{40}", s.data_commit)
        assert s.repo and s.path and s.license and not s.license.startswith("unknown")
        assert s.benchmark == r["benchmark"]
        if "gpu" in r:
            assert s.gpu == r["gpu"]
        assert s.url.startswith("https://github.com/")


def test_every_source_is_used_and_small():
    used = {r["source_id"] for rel in DATA_FILES for r in _read(rel)}
    assert used == set(pub.sources())
    total = sum(p.stat().st_size for p in DIR.rglob("*") if p.is_file())
    assert total < 2_000_000


def test_a100_bandwidths_in_its_range():
    # A100 80GB: HBM2e, 2.0 TB/s datasheet; a streaming kernel reaches ~85-95% of it.
    lo, hi = 1.2e12, 2.1e12
    assert lo < pub.stream_occupancy_curves("scale")["a100_80"].max() < hi
    assert lo < pub.stream_occupancy_curves("triad")["a100_80"].max() < hi
    assert lo < pub.l2_curves()["a100_80"].plateau(2**30) < hi
    assert lo < pub.stream_curves("stream")["a100_80"].plateau() < hi


def test_bandwidths_latencies_and_launches_are_physical():
    keys = pub.key_numbers()
    assert {"a100_80", "h100_pcie", "h200", "l40"} <= set(keys)
    for g, k in keys.items():
        for name in ("stream_read_Bps", "stream_scale_Bps", "dram_read_Bps", "l2_Bps",
                     "size_plateau_Bps"):
            v = getattr(k, name)
            assert math.isnan(v) or 1e11 < v < 2e13, (g, name, v)
        if math.isfinite(k.dram_latency_s):
            assert 150e-9 < k.dram_latency_s < 1.5e-6, (g, k.dram_latency_s)
            assert 50e-9 < k.l2_latency_s < k.dram_latency_s, g
        if math.isfinite(k.l2_Bps) and math.isfinite(k.dram_read_Bps):
            assert k.l2_Bps > 2 * k.dram_read_Bps, g
        for name in ("launch_stream_s", "launch_graph_s"):
            v = getattr(k, name)
            assert math.isnan(v) or 0.3e-6 < v < 10e-6, (g, name, v)
        if math.isfinite(k.half_plateau_bytes):
            assert 64 * 1024 <= k.half_plateau_bytes < 64 * 2**20, g
    for g in ("a100_80", "h200", "l40"):       # a graph removes part of the launch cost
        assert keys[g].launch_graph_s < keys[g].launch_stream_s
        a, b = keys[g].launch_fit_stream
        assert 1e-6 < a < 5e-6 and b > keys[g].size_plateau_Bps


def test_latency_is_cycles_over_clock():
    for g, c in pub.latency_curves().items():
        assert np.allclose(c.latency_s * c.clock_hz, c.latency_cycles, rtol=1e-4), g
        assert 0.5e9 < c.clock_hz < 3e9, g


def test_stream_bytes_and_parallelism_are_consistent():
    streams = {"init": 1, "read": 1, "scale": 2, "triad": 3, "stencil3pt": 2, "stencil5pt": 2}
    for kernel, n in streams.items():
        for g, c in pub.stream_occupancy_curves(kernel).items():
            assert c.bytes == n * (128 * 2**20 + 2) * 8, (g, kernel)
            # block sizes scanned up to full occupancy (768 on 1536-thread SMs: A40, L40)
            assert np.all(np.diff(c.block_size) > 0) and c.occupancy[-1] == 1.0
            assert np.allclose(c.occupancy / c.occupancy[-1], c.block_size / c.block_size[-1],
                               rtol=0.05)
    # bandwidth rises with parallelism: the best block size beats the smallest by far
    for g, c in pub.stream_occupancy_curves("scale").items():
        assert c.max() > 2.5 * c.bandwidth[0], g


def test_spec_mapping_names_shipped_specs_and_matches_sm_count():
    hw = data_dir("hardware")
    occ = pub.stream_occupancy_curves("scale")
    for name, info in pub.GPUS.items():
        if info.spec_id is None:
            continue
        spec = yaml.safe_load((hw / f"{info.spec_id}.yaml").read_text())
        assert spec["id"] == info.spec_id
        if name in occ:
            assert occ[name].sm_count == spec["sm_count"], name
    for name, sid in pub.MAMF_SPECS.items():
        assert sid is None or (hw / f"{sid}.yaml").is_file()
    missing = pub.without_spec()
    assert "l40" in missing and "v100" in missing and "h200" not in missing
    assert all(pub.spec_id(n) is None for n in missing)


def test_mamf_rows():
    rows = pub.mamf()
    assert {r.dtype for r in rows} == {"bfloat16", "float8_e4m3fn"}
    for r in rows:
        assert 0.4 < r.efficiency < 1.0, r
        assert r.flops == pytest.approx(r.tflops * 1e12)
        assert all(d >= 256 for d in r.shape)
    bf16 = {r.gpu: r for r in pub.mamf("bfloat16")}
    h100 = bf16["NVIDIA H100 SXM"]
    assert h100.spec_id == "h100-sxm"
    spec = yaml.safe_load((data_dir("hardware") / "h100-sxm.yaml").read_text())
    # the table's peak and the shipped spec's dense bf16 peak are the same datasheet figure
    assert h100.peak_tflops == pytest.approx(spec["tensor_core_tflops"]["bfloat16"], rel=0.01)
