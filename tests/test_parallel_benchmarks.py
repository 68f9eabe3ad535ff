"""The multi-GPU benchmark scripts validate their arguments on a CPU (--dry-run writes nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_measure_collectives_dry_run_writes_nothing(tmp_path):
    r = _run("measure_collectives.py", "--gpus", "8", "--out", str(tmp_path / "o"), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "NCCL_NVLS_ENABLE" in r.stdout and "'all_reduce': 21" in r.stdout
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad", [["--gpus", "1"], ["--gpus", "16"], ["--collectives", "bcast"],
                                 ["--min-bytes", "0"], ["--iters", "0"]])
def test_measure_collectives_refuses_bad_arguments(tmp_path, bad):
    r = _run("measure_collectives.py", "--out", str(tmp_path), "--dry-run", *bad)
    assert r.returncode == 2 and "error" in r.stderr


def test_collective_sizes_divide_among_ranks():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from measure_collectives import sizes
    s = sizes(1024, 1 << 30, 2, 8)
    assert s[0] == 1024 and s[-1] == 1 << 30 and all(x % 16 == 0 for x in s)


def test_measure_sharded_dry_run(tmp_path):
    r = _run("measure_sharded.py", "--model", "qwen3-30b-a3b", "--gpus", "4", "--ep", "4",
             "--out", str(tmp_path / "o"), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "tp=4 ep=4" in r.stdout and not (tmp_path / "o").exists()
    r = _run("measure_sharded.py", "--model", "no-such", "--gpus", "4", "--out", str(tmp_path),
             "--dry-run")
    assert r.returncode == 2 and "not a shipped model" in r.stderr


def test_published_collectives_are_sourced_and_bound_the_link_roof():
    import csv
    from roofsim.hardware import load_hardware
    rows = list(csv.DictReader(open(ROOT / "calibration" / "published-collectives" /
                                    "nccl-tests.csv")))
    assert rows and all(r["source"].startswith("https://") for r in rows)
    h100 = next(r for r in rows if r["gpu"] == "h100-sxm" and r["nodes"] == "1")
    hw = load_hardware("h100-sxm")
    roof = hw.link_bandwidth_bytes_per_s("nvlink") * hw.link_efficiency
    # NVLS-off ring all-reduce (the default) sits below the NVLS-on published range
    assert roof < float(h100["busbw_Bps_low"]) <= hw.link_bandwidth_bytes_per_s("nvlink") * 1.1
