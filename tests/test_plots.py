"""Figures: the specification's figure set and names, both formats, readable labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from roofsim import plots, sweep
from roofsim.objectives import Budgets
from roofsim.workloads import deepseek_ocr as ds

SPEC_TEXT = (Path(__file__).resolve().parents[2] / "shared" / "spec"
             / "000_1b73f4edf235d5a7.txt")
CFG = ds.load_config()


def spec_figures() -> dict[str, set[str]]:
    """{sweep folder: figure stems} as the specification names its figures."""
    if not SPEC_TEXT.is_file():
        pytest.skip("specification text not beside the repository")
    out: dict[str, set[str]] = {}
    for folder, name in re.findall(r"\]\(sweep/[^/]+/([^/]+)/([^/)]+)\.svg\)",
                                   SPEC_TEXT.read_text()):
        out.setdefault(folder, set()).add(name)
    return out


@pytest.fixture(scope="module")
def result():
    """All 47 grids, analytic only (fast), with predictions."""
    from roofsim.hardware import load_hardware
    sources, _ = sweep.default_sources(reference=False)
    pts = sweep.grid_points(ds.sweep_grids(), decode_tokens=100, cfg=CFG)
    return sweep.run_sweep("vision", pts, sources, cfg=CFG, hardware=load_hardware("rtx-5090"))


def test_figure_plan_contains_every_specification_figure(result):
    want = spec_figures()
    assert set(want) == set(sweep.SWEEP_DIRS.values())
    for kind, stem in sweep.SWEEP_DIRS.items():
        names = {s.name for s in plots.figure_plan(result.with_kind(kind), stem, Budgets())}
        assert want[stem] <= names, (stem, want[stem] - names)


def test_figures_are_written_in_both_formats_without_overlapping_grid_labels(result, tmp_path):
    r = result.with_kind("vision-prefill")
    [spec] = [s for s in plots.figure_plan(r, "e2e_vision_prefill", Budgets())
              if s.name == "e2e_vision_prefill_stagecost_flops_tflops"]
    paths = spec.draw(r, tmp_path / spec.name)
    assert sorted(p.suffix for p in paths) == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:5] in (b"<?xml", b"<svg ") or paths[1].read_bytes()[:5] in (
        b"<?xml", b"<svg ")


def test_grid_labels_do_not_overlap_and_name_real_grids(result):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, ax = plots._new_figure()
    ax.plot([p.image_tokens for p in result.points], range(len(result.points)))
    fig.subplots_adjust(**{**plots.MARGINS, "top": 0.80})
    assert plots._grid_labels(ax, result)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    labels = {p.label for p in result.points}
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text() in labels]
    assert len(boxes) >= 15                   # most grids are named
    boxes.sort(key=lambda b: b.x0)
    for a, b in zip(boxes, boxes[1:]):
        assert a.x1 <= b.x0, "grid labels overlap"
    # every label stays inside the figure
    W, H = fig.get_size_inches() * fig.dpi
    assert all(0 <= b.x0 and b.x1 <= W and b.y1 <= H for b in boxes)


def test_axes_have_units_and_legends(result, tmp_path):
    r = result.with_kind("decode")
    for spec in plots.figure_plan(r, "e2e_decode", Budgets(), "RTX 5090"):
        if spec.name not in ("e2e_decode_stagecost_io_tb", "responsive_tflops_by_tpot",
                             "predicted_tpot"):
            continue
        spec.draw(r, tmp_path / spec.name)
        svg = (tmp_path / f"{spec.name}.svg").read_text()
        assert "Image tokens (global + crops)" in svg
        assert re.search(r"\((terabits|TFLOP/s|ms)[,)]", svg)
        assert "analytic (flash attention)" in svg
