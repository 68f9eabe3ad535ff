"""roofsim.e2e.compare_e2e on DeepSeek-OCR rows with and without the batch column: files
without it are batch 1 (labels are the grids, as before); batch B > 1 is predicted at B."""

from __future__ import annotations

import csv
import io

import pytest

pytest.importorskip("transformers")

from roofsim.e2e import compare_e2e, ocr_case_label, row_batch  # noqa: E402
from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.predict import predict  # noqa: E402

HEAD = ("grid,image_tokens,prompt_tokens,stage,tokens,kv_len,status,kernel_s,kernel_count,"
        "wall_median_s")


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def hw():
    return load_hardware("h200")


def test_row_batch_reads_missing_and_empty_as_one():
    assert row_batch({}) == 1
    assert row_batch({"batch": ""}) == 1
    assert row_batch({"batch": "8"}) == 8
    assert ocr_case_label("2x3", 1) == "2x3"
    assert ocr_case_label("2x3", 8) == "2x3 b=8"


def test_rows_without_a_batch_column_are_batch_one_with_the_grid_as_case(hw):
    rows = _rows(HEAD + "\n1x2,483,16,prefill,499,0,ok,0.01,500,0.02\n"
                 "1x2,483,16,decode,1,499,ok,0.005,500,0.01\n")
    comps = compare_e2e(rows, hw)
    assert [(c.case, c.stage, c.batch) for c in comps] == [("1x2", "prefill", 1),
                                                         ("1x2", "decode", 1)]
    p = predict("1x2", 16, 1, hardware=hw)
    assert comps[1].predicted_s == p.stages["decode"].kernel_s


def test_batched_rows_are_predicted_at_their_batch(hw):
    rows = _rows(HEAD + ",batch\n1x2,483,16,decode,1,499,ok,0.005,500,0.01,1\n"
                 "1x2,483,16,decode,1,499,ok,0.006,500,0.01,8\n"
                 "1x2,483,16,prefill,499,0,ok,0.03,500,0.04,4\n"
                 "1x2,483,16,decode,1,499,ok,0.006,500,0.01,\n")     # empty: batch 1 again
    comps = {(c.case, c.stage): c for c in compare_e2e(rows, hw)}
    assert set(comps) == {("1x2", "decode"), ("1x2 b=8", "decode"), ("1x2 b=4", "prefill")}
    one, eight = comps["1x2", "decode"], comps["1x2 b=8", "decode"]
    assert (one.batch, eight.batch) == (1, 8)
    assert one.measured_s == 0.006                     # the later batch-1 row of the grid
    assert eight.predicted_s > one.predicted_s
    at8 = predict("1x2", 16, 1, hardware=hw, batch=8)
    assert eight.predicted_s == at8.stages["decode"].kernel_s
    four = comps["1x2 b=4", "prefill"]
    at4, at1 = (predict("1x2", 16, 1, hardware=hw, batch=b) for b in (4, 1))
    assert four.predicted_s == at4.stages["prefill"].kernel_s
    assert four.predicted_s > at1.stages["prefill"].kernel_s
