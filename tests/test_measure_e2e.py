"""benchmarks/measure_e2e.py checked on the CPU (--device cpu --tiny): --batch measures prefill
and decode at each batch (vision at batch 1 only), and every row names its batch."""

import csv
import gzip
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from benchmark_module import load_benchmark  # noqa: E402



def _script():
    return load_benchmark("measure_e2e")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("measure_e2e") / "out"
    argv = ["--device", "cpu", "--tiny", "--out", str(out), "--grids", "1x2",
            "--prompt-tokens", "8", "--batch", "1,2", "--warmup", "0", "--repeats", "1",
            "--profile-repeats", "1"]
    return _script().main(argv), out


def test_prefill_and_decode_are_measured_at_each_batch_and_vision_once(measured):
    status, out = measured
    assert status == 0
    with open(out / "e2e.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cases = [(r["stage"], r["batch"], r["tokens"], r["kv_len"]) for r in rows]
    assert cases == [("vision", "1", "31", "0"),
                     ("prefill", "1", "39", "0"), ("prefill", "2", "39", "0"),
                     ("decode", "1", "1", "39"), ("decode", "2", "1", "39")]
    assert all(r["status"] == "ok" and float(r["wall_median_s"]) > 0 for r in rows)


def test_kernel_list_and_provenance_carry_the_batch(measured):
    _, out = measured
    with gzip.open(out / "kernels.csv.gz", "rt", newline="") as f:
        assert "batch" in next(csv.reader(f))
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["settings"]["batch"] == [1, 2]


@pytest.mark.parametrize("text", ["0", "2,x", ""])
def test_bad_batches_are_refused(text):
    with pytest.raises(SystemExit, match="--batch"):
        _script().parse_batches(text)


def test_batches_default_to_one_and_vision_stays_at_one():
    mod = _script()
    assert mod.parse_batches("1") == [1]
    assert mod.parse_batches("8,1,8") == [8, 1]
    assert mod.stage_batches("vision", [1, 8]) == [1]
    assert mod.stage_batches("decode", [1, 8]) == [1, 8]


def test_every_row_carries_the_host_probe_before_the_case_and_over_its_repeats(measured):
    """host_probe_s: the reading before the case; host_probe_repeats_s: the median of the short
    readings right before each timed repeat (roofsim.calibration.hostprobe), both seconds per
    dispatch, within the probe's physical range."""
    from roofsim.host import PROBE_RANGE
    _, out = measured
    with open(out / "e2e.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for col in ("host_probe_s", "host_probe_repeats_s"):
            assert PROBE_RANGE[0] / 10 < float(r[col]) < PROBE_RANGE[1], (col, r[col])


def test_a_kernel_row_keeps_the_case_grid_beside_its_launch_grid(tmp_path):
    """The case's crop grid and the kernel's launch (blocks) are separate columns of
    kernels.csv.gz: the launch's block count once overwrote the crop grid."""
    mod = _script()

    class NoNvml:
        def state(self):
            return {}

    out = mod.Outputs(tmp_path, mod.ROW_FIELDS, mod.KERNEL_FIELDS, NoNvml())
    kernel = {"category": "kernel", "name": "k", "duration_s": 1e-6, "op": "aten::mm",
              "input_dims": "[]", **mod.launch_shape({"grid": [84, 2, 1], "block": [128, 1, 1]})}
    out.write({"status": "ok"}, [kernel], {"image_grid": "2x3", "stage": "decode", "batch": 1})
    out.close()
    with gzip.open(tmp_path / "kernels.csv.gz", "rt", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["image_grid"], row["grid"], row["block"]) == ("2x3", "168", "128")


def test_graph_rows_follow_each_decode_and_are_skipped_without_cuda(tmp_path):
    """--graph adds a decode_graph row per decode batch (the static-cache step a CUDA graph
    replays); on the CPU it is recorded as skipped with the reason, which is not a failure."""
    out = tmp_path / "out"
    status = _script().main(["--device", "cpu", "--tiny", "--out", str(out), "--grids", "1x2",
                             "--prompt-tokens", "8", "--stages", "decode", "--graph",
                             "--warmup", "0", "--repeats", "1", "--profile-repeats", "0"])
    assert status == 0
    with open(out / "e2e.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["stage"], r["kv_len"], r["status"]) for r in rows] == \
        [("decode", "39", "ok"), ("decode_graph", "39", "skipped")]
    assert "CUDA" in rows[1]["error"]
    assert "wall_held_median_s" in rows[0]
    assert json.loads((out / "provenance.json").read_text())["settings"]["graph"] is True
    # the folder reads back as DeepSeek-OCR's measurements, graph row included
    from roofsim.e2e import DECODE_GRAPH, load_e2e
    assert [r["stage"] for r in load_e2e(out)[0]] == ["decode", DECODE_GRAPH]


def test_zero_repeats_are_one_line():
    with pytest.raises(SystemExit, match="--repeats"):
        _script().main(["--device", "cpu", "--tiny", "--out", "/nonexistent", "--repeats", "0"])
