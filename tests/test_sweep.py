"""Sweeps: points, knobs, sources, outputs, profiles, and the reference shape model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from roofsim import sweep
from roofsim.cli import main
from roofsim.errors import UserError
from roofsim.sources import AnalyticSource
from roofsim.hardware import load_hardware
from roofsim.objectives import predict_latency
from roofsim.records import RecordTable
from roofsim.reference.source import ShapeModel
from roofsim.workloads import deepseek_ocr as ds

SPEC_TABLES = json.loads((Path(__file__).parent / "data" / "spec_tables.json").read_text())
CFG = ds.load_config()


def test_default_grids_are_the_specifications_47_with_its_image_tokens():
    pts = sweep.grid_points(ds.sweep_grids(), cfg=CFG)
    spec = SPEC_TABLES["sweeps"]["vision"]
    assert [list(p.grid) for p in pts] == [r["grid"] for r in spec]
    assert [p.image_tokens for p in pts] == [r["image_tokens"] for r in spec]
    assert [p.num_crops for p in pts] == [r["num_crops"] for r in spec]
    assert [p.label for p in pts][:3] == ["1x2", "1x3", "2x2"]


@pytest.mark.parametrize("text, want", [
    ("batch=1,2,4,8", ("batch", [1, 2, 4, 8])),
    ("prefill-tokens=512:4096", ("prefill-tokens", [512, 1024, 2048, 4096])),
    ("decode-tokens=100:400:100", ("decode-tokens", [100, 200, 300, 400])),
    ("heads=5,10", ("heads", [5, 10])),
])
def test_parse_vary(text, want):
    assert sweep.parse_vary(text) == want


@pytest.mark.parametrize("text", ["batch", "batch=", "colour=1,2", "batch=0,1", "batch=1.5",
                                  "prefill-tokens=4096:512", "batch=a,b"])
def test_parse_vary_rejects_bad_input(text):
    with pytest.raises(UserError, match="--vary"):
        sweep.parse_vary(text)


def test_vary_points_set_the_request():
    pts = sweep.vary_points([("prefill-tokens", [512, 1024]), ("batch", [1, 4])], cfg=CFG)
    assert len(pts) == 4
    img = ds.image_tokens(CFG, "gundam", None)
    for p in pts:
        assert p.image_tokens == img
        assert p.image_tokens + p.request.prompt_tokens == p.knobs["prefill-tokens"]
        assert p.request.batch == p.knobs["batch"]
    with pytest.raises(UserError, match="image tokens"):
        sweep.vary_points([("prefill-tokens", [100])], cfg=CFG)
    k = sweep.vary_points([("decode-tokens", [7])], grid="2x3", cfg=CFG)[0]
    assert k.request.decode_tokens == 7 and k.grid == (2, 3)


def test_heads_knob_keeps_hidden_size():
    new = sweep.with_heads(CFG, 20)
    d = new.decoder
    assert d.heads == 20 and d.heads * d.head_dim == CFG.decoder.hidden
    assert d.kv_heads == 20            # MHA stays MHA
    assert new.sam == CFG.sam
    with pytest.raises(UserError, match="multiple"):
        sweep.with_heads(CFG, 7)


@pytest.fixture(scope="module")
def analytic_result():
    hw = load_hardware("rtx-5090")
    sources, _ = sweep.default_sources(reference=False)
    pts = sweep.grid_points([(1, 2), (3, 3)], decode_tokens=20, cfg=CFG)
    return sweep.run_sweep("vision", pts, sources, cfg=CFG, hardware=hw), hw


def test_sweep_costs_equal_the_workload_api(analytic_result):
    result, hw = analytic_result
    for i, p in enumerate(result.points):
        for attention in ("normal", "flash"):
            want = ds.stage_costs(CFG, p.request, attention=attention)
            got = result.costs[attention][i]
            for stage in ("vision", "prefill", "decode"):
                assert got[stage].as_dict() == pytest.approx(want[stage].as_dict())
            vp = result.with_kind("vision-prefill").stage_cost(attention, i)
            assert vp.flops == pytest.approx(want["vision"].flops + want["prefill"].flops)
            assert result.with_kind("decode").stage_cost(attention, i).kv_cache_bytes == \
                want["decode"].kv_cache_bytes
            pred = predict_latency(ds.stage_records(CFG, p.request, attention=attention), hw, 20)
            assert result.predictions[attention][i].ttft_s == pytest.approx(pred.ttft_s)
    # the LM head component is the lm_head records' FLOPs
    comp = result.components["flash"][0]
    rec = ds.stage_records(CFG, result.points[0].request)["prefill"]
    head = rec.select(rec.layer == "lm_head").totals()["flops"]
    assert comp["prefill_lm_head"] == pytest.approx(head) and head > 0
    assert comp["prefill_decoder"] + comp["prefill_lm_head"] == pytest.approx(
        result.costs["flash"][0]["prefill"].flops)


def test_outputs_csv_and_json(analytic_result, tmp_path):
    result, _ = analytic_result
    files = sweep.write_outputs(result.with_kind("decode"), tmp_path)
    rows = list(csv.DictReader(files["csv"].open()))
    assert len(rows) == 2 * 2
    assert {r["source"] for r in rows} == {"normal", "flash"}
    r0 = rows[1]
    want = result.with_kind("decode").stage_cost("flash", 0)
    assert float(r0["flops_tensor"]) == pytest.approx(want.flops_tensor)
    assert float(r0["arithmetic_intensity"]) == pytest.approx(want.arithmetic_intensity)
    doc = json.loads(files["json"].read_text())
    assert doc["sweep"] == "decode" and len(doc["points"]) == 2
    assert doc["points"][1]["sources"]["flash"]["cost"]["kv_cache_bytes"] == pytest.approx(
        result.with_kind("decode").stage_cost("flash", 1).kv_cache_bytes)


def test_unavailable_reference_is_reported_not_fatal(monkeypatch):
    from no_torch import without_torch
    without_torch(monkeypatch)
    sources, note = sweep.default_sources(reference=True)
    assert [s.name for s in sources] == ["normal", "flash"]
    assert "reference unavailable" in note


def test_reference_failure_at_a_point_becomes_a_note():
    class Partial:
        name, label = "reference", "ref"

        def evaluate(self, request, cfg=None):
            raise RuntimeError("no such shape")

    pts = sweep.grid_points([(1, 2)], cfg=CFG)
    res = sweep.run_sweep("vision", pts, [AnalyticSource("flash"), Partial()], cfg=CFG)
    assert res.costs["reference"] == (None,)
    assert "no such shape" in res.notes["reference"]
    assert not res.available("reference") and res.available("flash")


def test_profiles_load_and_choose_grids():
    profiles = sweep.load_profiles()
    names = [p.name for p in profiles]
    assert {"receipt", "a4-page-gundam", "two-page-spread"} <= set(names)
    pts = sweep.profile_points(profiles, CFG)
    for prof, p in zip(profiles, pts):
        if prof.mode == "gundam":
            assert p.grid == ds.choose_grid(prof.width, prof.height, 2, prof.max_crops or 9)
        assert p.image_tokens == ds.views(CFG, p.request).image_tokens
        assert p.request.decode_tokens == prof.decode_tokens


def test_bad_profiles_file_names_the_field(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("profiles:\n  - {name: x, width: 10, height: -3, mode: gundam, "
                 "prompt_tokens: 1, decode_tokens: 5}\n")
    with pytest.raises(UserError, match=r"profiles\[0\]\.height"):
        sweep.load_profiles(f)
    f.write_text("profiles:\n  - {name: x, width: 10, mode: gundam}\n")
    with pytest.raises(UserError, match="missing field 'height'"):
        sweep.load_profiles(f)


def test_shape_model_fits_polynomials_and_detects_when_it_does_not_hold():
    def table(x, extra=0.0):
        return RecordTable.from_columns(
            2, kind="gemm", name=np.array(["a", "b"], dtype=object),
            flops_tensor=np.array([3 * x * x + 2, 5 * x]), bytes_read=np.array([x + 1, 7.0]),
            bytes_written=np.array([2 * x, 1.0 + extra * np.sqrt(x)]), params={"m": [x, 4]})

    poly2 = lambda x: np.array([1.0, x, x * x])  # noqa: E731
    m = ShapeModel(table, poly2, (10, 20, 40), (30,))
    m.fit()
    assert m.valid
    got, want = m.at(1000), table(1000)
    for f in ("flops_tensor", "bytes_read", "bytes_written"):
        assert np.allclose(getattr(got, f), getattr(want, f))
    assert np.array_equal(got.param("m"), [1000, 4])

    bad = ShapeModel(lambda x: table(x, extra=1.0), poly2, (10, 20, 40), (30,))
    bad.fit()
    assert bad.valid is False and bad.why_invalid


def test_cli_sweep_writes_data_and_figures(tmp_path, capsys):
    rc = main(["sweep", "vision", "--grids", "1x2,2x3", "--no-reference", "--out",
               str(tmp_path), "--decode-tokens", "10"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "1x2" in out and "2x3" in out
    folder = tmp_path / "vision_crops"
    assert (folder / "vision_crops.csv").is_file() and (folder / "vision_crops.json").is_file()
    for name in ("stagecost_flops_tflops", "stagecost_io_tb", "vision_flops_split_log"):
        assert (folder / f"{name}.svg").is_file() and (folder / f"{name}.png").is_file()


def test_cli_sweep_vary_json(tmp_path, capsys):
    rc = main(["sweep", "decode", "--vary", "batch=1,2", "--no-reference", "--no-plots",
               "--json", "--out", str(tmp_path)])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["x"] == "batch" and [p["knobs"]["batch"] for p in doc["points"]] == [1, 2]
    f = [p["sources"]["flash"]["cost"]["flops"] for p in doc["points"]]
    assert f[1] == pytest.approx(2 * f[0], rel=1e-6)       # decode work scales with B


def test_cli_sweep_user_errors(capsys):
    assert main(["sweep", "decode", "--vary", "batch=x", "--no-reference"]) == 2
    assert "--vary" in capsys.readouterr().err
    assert main(["sweep", "vision", "--grids", "2y3", "--no-reference"]) == 2
    assert main(["sweep", "decode", "--vary", "batch=1,2", "--grids", "1x2,2x3",
                 "--no-reference"]) == 2


def test_accounting_and_lm_head_pass_through_to_the_workload():
    """`--accounting report --lm-head all` reaches the analytic workload unchanged (whether that
    reproduces the specification is tests/test_spec_reproduction.py's business)."""
    pts = sweep.grid_points([(1, 2)], prompt_tokens=10, decode_tokens=100, cfg=CFG)
    src = AnalyticSource("flash", lm_head="all", accounting="report")
    res = sweep.run_sweep("vision", pts, [src], cfg=CFG)
    want = ds.stage_costs(CFG, pts[0].request, attention="flash", lm_head="all",
                          accounting="report")
    model = ds.stage_costs(CFG, pts[0].request, attention="flash")
    for stage in ("vision", "prefill", "decode"):
        assert res.costs["flash"][0][stage].as_dict() == pytest.approx(want[stage].as_dict())
    assert want["prefill"].flops != pytest.approx(model["prefill"].flops)


def test_shape_model_takes_step_functions_from_the_kernel_formula():
    """Fused attention's bytes are a step function of the length (K and V once per query
    tile); capture takes them from the attention formula, and so does the model."""
    from roofsim.kernels import work

    def table(x):
        p = {"batch": 1, "heads": 2, "seq_q": x, "seq_kv": x, "head_dim": 64, "causal": 1}
        w = work("attention", {k: np.array([v]) for k, v in p.items()})
        return RecordTable.from_columns(
            2, kind=np.array(["attention", "gemm"], dtype=object),
            name=np.array(["sdpa", "proj"], dtype=object),
            flops_tensor=np.array([4.0 * 2 * x * x * 64, 2.0 * x * 64 * 64]),
            bytes_read=np.array([w["bytes_read"][0], 2.0 * x * 64]),
            bytes_written=np.array([w["bytes_written"][0], 2.0 * x * 64]),
            params={k: [v, np.nan] for k, v in p.items()})

    m = ShapeModel(table, lambda x: np.array([1.0, x, x * x]), (1000, 4000, 16000), (2500,))
    m.fit()
    assert m.valid, m.why_invalid
    for x in (333, 7777, 30000):
        got, want = m.at(x), table(x)
        assert np.allclose(got.bytes_read, want.bytes_read, rtol=1e-9)
        assert np.allclose(got.flops_tensor, want.flops_tensor, rtol=1e-9)
