"""`roofsim report`: builds from a clean checkout; every expected table and figure exists; the
numbers in its tables equal what the API returns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from roofsim import units
from roofsim.cli import main
from roofsim.hardware import load_hardware
from roofsim.objectives import Budgets, predict_latency, tpot_requirement, ttft_requirement
from roofsim.report import KNOB_SWEEPS, ReportOptions, build_report, expected_figures
from roofsim.report.markdown import parse_markdown_tables, sci
from roofsim.workloads import deepseek_ocr as ds
from no_torch import without_torch

CFG = ds.load_config()
GRIDS = [(1, 2), (2, 3)]
KNOBS = (("batch", "decode", "batch", (1, 2), ("{stem}", "predicted_tpot")),)
SPEC_TEXT = (Path(__file__).resolve().parents[2] / "shared" / "spec"
             / "000_1b73f4edf235d5a7.txt")


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    hw = load_hardware("rtx-5090")
    res = build_report(ReportOptions(hardware=hw, out_dir=out, grids=GRIDS, knob_sweeps=KNOBS,
                                     progress=False))
    md = res.path.read_text()
    return res, md, hw


def table(md: str, first_header: str, contains: str) -> list[list[str]]:
    """The Markdown table whose header starts with `first_header` and mentions `contains`."""
    for t in parse_markdown_tables(md):
        if t[0][0] == first_header and any(contains in h for h in t[0]):
            return t
    raise AssertionError(f"no table {first_header!r} / {contains!r}")


def column(t, name: str) -> list[str]:
    j = t[0].index(name)
    return [r[j] for r in t[1:]]


def test_sections_mirror_the_specification(report):
    _, md, hw = report
    heads = re.findall(r"^#+ (.+)$", md, flags=re.M)
    for want in ("Overview and Scope", "Per-Layer Sanity Check (Layer-wise Verification)",
                 "Cost vs. Sweep", "Vision Input Shape Sweeps",
                 "Sequence Length and Decoder Sweeps", "Combined Workload Profiles",
                 "Objective-based Analysis", "Time-to-first-token (TTFT): vision+prefill",
                 "Time-per-output-token (TPOT): decode", f"Predicted latency on {hw.name}",
                 "Appendix: StageCost field definitions"):
        assert want in heads, want
    assert "3,336,106,240 parameters" in md and "6.67 GB" in md
    assert "2.17 GB does not match" in md


def test_every_expected_figure_and_data_file_exists(report):
    res, md, hw = report
    want = expected_figures(hw.name, KNOBS)
    assert len(want) == len(set(want))
    for stem in want:
        for fmt in ("svg", "png"):
            f = res.out_dir / f"{stem}.{fmt}"
            assert f.is_file() and f.stat().st_size > 1000, f
        assert f"]({stem}.svg)" in md                      # every figure is in the text
    drawn = {str(p.relative_to(res.out_dir).with_suffix("")) for p in res.figures}
    assert drawn == set(want)
    for link in re.findall(r"\]\(([^)]+\.(?:csv|json))\)", md):
        assert (res.out_dir / link).is_file(), link
    doc = json.loads((res.out_dir / "report.json").read_text())
    assert set(doc["tables"]) == set(res.tables)


def test_default_report_figure_list_covers_the_specification():
    want = expected_figures("NVIDIA GeForce RTX 5090")
    names = {w.split("/", 1)[1] for w in want}
    if SPEC_TEXT.is_file():
        spec = {f"{a}/{b}" for a, b in re.findall(r"\]\(sweep/[^/]+/([^/]+)/([^/)]+)\.svg\)",
                                                  SPEC_TEXT.read_text())}
        assert len(spec) == 21 and spec <= names, spec - names
    for ks in KNOB_SWEEPS:
        for fig in ks[4]:
            assert f"{ks[0]}/{fig.format(stem=ks[0])}" in names
    assert "e2e_vision_prefill/predicted_ttft" in names and "e2e_decode/predicted_tpot" in names


def _request(grid):
    return ds.Request(grid=grid, decode_tokens=100)


def test_sweep_tables_equal_the_workload_api(report):
    _, md, _ = report
    tables = [t for t in parse_markdown_tables(md) if t[0][:2] == ["Num crops", "Crop grid (H×W)"]
              and "Tensor Core FLOPs (TFLOPs)" in t[0]]
    assert len(tables) == 3                         # vision, decode, vision+prefill
    for t, stages in zip(tables, (("vision",), ("decode",), ("vision", "prefill"))):
        assert column(t, "Crop grid (H×W)") == [f"{r}x{c}" for r, c in GRIDS]
        for grid, tensor, cuda in zip(GRIDS, column(t, "Tensor Core FLOPs (TFLOPs)"),
                                      column(t, "CUDA-core FLOPs (TFLOPs)")):
            c = ds.stage_costs(CFG, _request(grid), attention="flash")
            assert tensor == sci(sum(c[s].flops_tensor for s in stages) / 1e12)
            assert cuda == sci(sum(c[s].flops_cuda for s in stages) / 1e12)
        normal = column(t, "Total FLOPs, analytic normal attention (TFLOPs)")
        for grid, cell in zip(GRIDS, normal):
            c = ds.stage_costs(CFG, _request(grid), attention="normal")
            assert cell == sci(sum(c[s].flops for s in stages) / 1e12)


def test_objective_tables_equal_the_objectives_api(report):
    _, md, _ = report
    ttft = table(md, "Num crops", "Required bandwidth")
    tpot = [t for t in parse_markdown_tables(md) if "Decode steps (K)" in t[0]][0]
    for grid, tf, bw in zip(GRIDS, column(ttft, ttft[0][3]), column(ttft, ttft[0][4])):
        req = ttft_requirement(ds.stage_costs(CFG, _request(grid)), Budgets().ttft_s)
        assert tf == f"{req.flops_per_s / 1e12:.3f}"
        assert bw == f"{req.bytes_per_s / 1e12:.3f}"
    for grid, tf in zip(GRIDS, column(tpot, tpot[0][4])):
        req = tpot_requirement(ds.stage_costs(CFG, _request(grid)), 100, Budgets().tpot_s)
        assert tf == f"{req.flops_per_s / 1e12:.3f}"


def test_predicted_latency_table_equals_the_engine(report):
    _, md, hw = report
    t = table(md, "Num crops", "TTFT bound")
    for grid, ttft, bound, tpot in zip(GRIDS, column(t, "TTFT (ms, analytic flash)"),
                                       column(t, "TTFT bound"),
                                       column(t, "TPOT (ms, analytic flash)")):
        p = predict_latency(ds.stage_records(CFG, _request(grid)), hw, 100)
        assert ttft == f"{units.to_ms(p.ttft_s):.4g}"
        assert tpot == f"{units.to_ms(p.tpot_s):.4g}"
        assert bound.replace(" core", "").replace(" floor", "") == p.ttft_bound


def test_per_layer_and_knob_and_profile_tables(report):
    res, md, _ = report
    v = table(md, "Group", "Theoretical FLOPs")
    by_layer = dict(zip(column(v, "Analytic layer"),
                        column(v, "Theoretical FLOPs (GFLOPs, analytic)")))
    for name in ("Block", "DeepseekV2MoE", "MlpProjector"):
        assert by_layer[name] == f"{ds.layer_records(CFG, name).totals()['flops'] / 1e9:.4e}"
    k = table(md, "batch", "Decode FLOPs (TFLOPs)")
    for b, cell in zip((1, 2), column(k, "Decode FLOPs (TFLOPs)")):
        req = ds.Request(grid=None, decode_tokens=100, batch=b)
        assert cell == sci(ds.stage_costs(CFG, req)["decode"].flops / 1e12)
    p = table(md, "Profile", "Image tokens")
    from roofsim.sweep import load_profiles, profile_points
    pts = profile_points(load_profiles(), CFG)
    assert column(p, "Profile") == [pt.label for pt in pts]
    assert column(p, "Image tokens") == [str(pt.image_tokens) for pt in pts]


@pytest.mark.skipif(not _has_torch(), reason="reference capture needs torch + transformers")
def test_reference_columns_equal_direct_capture(report):
    _, md, _ = report
    from roofsim.reference.stages import capture_pipeline
    t = [t for t in parse_markdown_tables(md) if t[0][:2] == ["Num crops", "Crop grid (H×W)"]
         and "Tensor Core FLOPs (TFLOPs)" in t[0]][0]
    for grid, cell in zip(GRIDS, column(t, "Total FLOPs, reference (TFLOPs)")):
        caps = capture_pipeline(grid, prompt_tokens=10, decode_steps=100)
        assert cell == sci(caps["vision"].table.totals()["flops"] / 1e12)
    v = table(md, "Group", "Theoretical FLOPs")
    assert "n/a" not in column(v, "Measured FLOPs (GFLOPs, reference capture)")
    # predicted latency of the reference: the same as `roofsim predict` (direct capture)
    from roofsim.predict import predict
    p = table(md, "Num crops", "TTFT bound")
    for grid, ttft, tpot in zip(GRIDS, column(p, "TTFT (ms, reference)"),
                                column(p, "TPOT (ms, reference)")):
        want = predict(grid, 10, 100, hardware=report[2], implementation="reference")
        assert ttft == f"{units.to_ms(want.ttft_s):.4g}"
        assert tpot == f"{units.to_ms(want.tpot_s):.4g}"


def test_report_builds_without_the_reference(tmp_path, monkeypatch):
    """No torch: the report still builds, reference columns say n/a, and the text says why."""
    without_torch(monkeypatch)
    res = build_report(ReportOptions(hardware=load_hardware("rtx-5090"), out_dir=tmp_path,
                                     grids=[(1, 2)], knob_sweeps=False, progress=False,
                                     figures=False))              # figures: tested above
    md = res.path.read_text()
    assert "The reference is unavailable in this run" in md
    t = table(md, "Num crops", "Required bandwidth")
    assert column(t, "Required TFLOPs/s (reference)") == ["n/a"]
    v = table(md, "Group", "Theoretical FLOPs")
    assert set(column(v, "Status")) == {"n/a"}
    for stem in expected_figures(load_hardware("rtx-5090").name, ()):
        assert f"]({stem}.svg)" in md
    assert "reference unavailable" in md and "pip install 'roofsim[reference]'" in md


@pytest.mark.parametrize("flag,value", [("--ttft", "0"), ("--tpot", "1e-300")])
def test_report_cli_rejects_bad_budgets(tmp_path, capsys, flag, value):
    assert main(["report", flag, value, "--out", str(tmp_path), "--quiet"]) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()


def test_the_wall_table_is_what_the_wall_api_gives(report):
    """Issue 16: kernel, eager and graph wall time side by side for the captured reference, at
    the report's first and last grids, each number what roofsim.wall gives for that request."""
    if not _has_torch():
        pytest.skip("the reference needs torch and transformers")
    from roofsim.host import resolve_host_model
    from roofsim.predict import stage_records
    from roofsim.wall import stage_walls
    res, md, hw = report
    assert "### Wall time: eager and CUDA graph" in md
    t = table(md, "Crop grid", "eager wall ms")
    assert column(t, "Crop grid") == ["1x2"] * 3 + ["2x3"] * 3
    host, source = resolve_host_model(None, None, hw.id)
    assert source in md
    prompt = res.sweeps["vision_crops"].points[0].request.prompt_tokens
    for row in t[1:]:
        grid = tuple(int(x) for x in row[0].split("x"))
        walls = stage_walls(stage_records("reference", grid, prompt, 100).parts, hw, None, host)
        stage = "decode" if row[1] == "decode step" else row[1]
        w = walls[stage]
        assert float(row[t[0].index("eager wall ms")]) == pytest.approx(w.eager_s * 1e3, rel=1e-3)
        assert float(row[t[0].index("kernel ms")]) == pytest.approx(w.kernel_s * 1e3, rel=1e-3)
        assert w.eager_s >= max(w.kernel_s, w.host_s) * (1 - 1e-9)    # both roofs bound it
        span = row[t[0].index("graph range ms")]
        if w.captured:                        # else the eager range: n/a without a spread
            lo, hi = (float(x) for x in span.split("-"))
            assert lo <= hi and lo == pytest.approx(w.graph_s * 1e3, rel=1e-3)
        assert row[t[0].index("eager binds")] == w.binds
        assert row[t[0].index("graph binds")] == w.binds_in("graph")
