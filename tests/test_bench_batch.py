"""benchmarks/bench_batch_accuracy.py on a small synthetic measurement folder."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_batch_accuracy  # noqa: E402

HEADER = "model,stage,batch,tokens,kv_len,image,status,kernel_s,kernel_count,wall_median_s\n"


def test_compares_only_batched_rows(tmp_path, capsys):
    folder = tmp_path / "llama-3.1-8b"
    folder.mkdir()
    (folder / "e2e.csv").write_text(
        HEADER
        + "llama-3.1-8b,decode,1,,1024,,ok,0.00645,300,0.007\n"     # batch 1: left out
        + "llama-3.1-8b,decode,8,,1024,,ok,0.00769,300,0.008\n"
        + "llama-3.1-8b,decode,32,,1024,,ok,1.0,300,1.1\n"          # 1 s: far off
        + "llama-3.1-8b,prefill,4,512,,,ok,0.09,300,0.1\n")
    assert bench_batch_accuracy.main(["--e2e", str(tmp_path), "--device", "h200"]) == 0
    out = capsys.readouterr().out
    assert "b=8 L=1024" in out and "b=32 L=1024" in out and "b=4 P=512" in out
    assert "b=1 L=1024" not in out
    assert "within 15%: 1/2" in out                      # decode: b=8 close, b=32 not
    assert "target (15% everywhere): not met" in out


def test_nothing_batched_is_said(tmp_path, capsys):
    folder = tmp_path / "llama-3.1-8b"
    folder.mkdir()
    (folder / "e2e.csv").write_text(HEADER + "llama-3.1-8b,decode,1,,1024,,ok,0.00645,300,0.007\n")
    assert bench_batch_accuracy.main(["--e2e", str(tmp_path)]) == 1
    assert "no batched measurements" in capsys.readouterr().out
