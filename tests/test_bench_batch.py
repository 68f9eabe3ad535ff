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


OCR_HEADER = ("grid,image_tokens,prompt_tokens,stage,batch,tokens,kv_len,status,kernel_s,"
              "kernel_count,wall_median_s\n")


def test_deepseek_ocr_batched_rows_are_compared_with_batch_one_beside(tmp_path, capsys):
    models = tmp_path / "models"                                # no model folders
    models.mkdir()
    ocr = tmp_path / "ocr"
    ocr.mkdir()
    (ocr / "e2e.csv").write_text(                              # made-up times: the plumbing
        OCR_HEADER
        + "1x2,483,16,vision,1,483,0,ok,0.02,900,0.03\n"        # no batched vision: left out
        + "1x2,483,16,decode,1,1,499,ok,0.006,800,0.007\n"      # printed beside, not summed
        + "1x2,483,16,decode,8,1,499,ok,0.007,800,0.008\n"
        + "1x2,483,16,prefill,4,499,0,ok,0.05,800,0.06\n"
        + "2x2,633,16,decode,1,1,649,ok,0.006,800,0.007\n")     # no batched 2x2: left out
    assert bench_batch_accuracy.main(["--e2e", str(models), "--ocr-e2e", str(ocr)]) == 0
    out = capsys.readouterr().out
    assert "deepseek-ocr" in out
    assert "1x2 b=8" in out and "1x2 b=4" in out
    assert "1x2 (batch 1: not summarized)" in out
    assert "2x2" not in out and "vision" not in out
    lines = [line for line in out.splitlines() if "largest error" in line]
    assert len(lines) == 2 and all(line.startswith("deepseek-ocr") for line in lines)
    assert all(line.endswith("/1") for line in lines)           # batch 1 is not counted


def test_an_ocr_folder_without_batched_rows_is_nothing_to_compare(tmp_path, capsys):
    ocr = tmp_path / "ocr"
    ocr.mkdir()
    (ocr / "e2e.csv").write_text(
        "grid,image_tokens,prompt_tokens,stage,tokens,kv_len,status,kernel_s,kernel_count,"
        "wall_median_s\n1x2,483,16,decode,1,499,ok,0.006,800,0.007\n")   # old file: batch 1
    assert bench_batch_accuracy.main(["--e2e", str(ocr), "--ocr-e2e", str(ocr)]) == 1
    assert "no batched measurements" in capsys.readouterr().out
