"""Figures of a sweep (matplotlib, each saved as SVG and PNG).

The set mirrors the specification's figures: FLOPs vs image tokens (analytic normal, analytic
flash, reference), the StageCost figures (FLOPs, activation I/O in terabits, arithmetic intensity
in FLOPs per bit, peak activations and KV cache in GB), the tensor vs CUDA-core split on a log
axis, and the TFLOP/s a TTFT or TPOT budget requires; plus the bandwidth each budget requires and
the latency predicted on a hardware spec. On crop-grid sweeps the x axis is image tokens and a
top axis names the crop grids (rows x cols), thinned so that no two labels overlap.

Figures are built on matplotlib.figure.Figure directly (no pyplot state), so plotting from a
library or from several processes is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import units
from .objectives import Budgets, tpot_requirement, ttft_requirement
from .sources import SOURCE_LABELS
from .sweep import SweepResult

FORMATS = ("svg", "png")
PNG_DPI = 110
FIGSIZE = (8.0, 4.8)
STYLE = {  # source -> (color, marker, linestyle, marker size, filled)
    # Sources often coincide (vision FLOPs are the same three times): a large hollow square, a
    # small filled circle and a hollow triangle stay distinguishable on top of each other.
    "normal": ("#d62728", "s", "-", 6.5, False),
    "flash": ("#1f77b4", "o", "-", 3.0, True),
    "reference": ("#2ca02c", "^", "--", 5.0, False),
}
COMPONENT_STYLE = {"vision": "#9467bd", "decoder": "#1f77b4", "lm_head": "#ff7f0e"}
TITLES = {"vision": "Vision", "decode": "Decode", "vision-prefill": "Vision+Prefill"}


# ---- data ------------------------------------------------------------------------------------

def _series(result: SweepResult, value: Callable) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(source, x, y) per available source; points where the source failed are skipped."""
    out = []
    for src in result.sources:
        xs, ys = [], []
        for i in range(len(result.points)):
            c = result.stage_cost(src, i)
            if c is None:
                continue
            y = value(result, src, i, c)
            if y is None or not np.isfinite(y):
                continue                    # e.g. the reference has no peak activations
            xs.append(result.x(i))
            ys.append(y)
        if xs:
            out.append((src, np.asarray(xs, float), np.asarray(ys, float)))
    return out


def _missing_note(result: SweepResult, series) -> str:
    """Sources that have costs but no value for this metric (say so under the plot)."""
    shown = {s for s, _, _ in series}
    missing = [s for s in result.sources if s not in shown and result.available(s)]
    return "; ".join(f"{SOURCE_LABELS.get(s, s)}: no data for this metric" for s in missing)


def _stage(fn):
    return lambda result, src, i, c: fn(c)


def _tpot_tflops(budgets):
    def f(result, src, i, c):
        k = result.points[i].request.decode_tokens
        return units.to_tflops(tpot_requirement(result.costs[src][i], k, budgets.tpot_s).flops_per_s)
    return f


def _ttft_tflops(budgets):
    return lambda result, src, i, c: units.to_tflops(
        ttft_requirement(result.costs[src][i], budgets.ttft_s).flops_per_s)


def _tpot_bw(budgets):
    def f(result, src, i, c):
        k = result.points[i].request.decode_tokens
        return tpot_requirement(result.costs[src][i], k, budgets.tpot_s).bytes_per_s / 1e12
    return f


def _ttft_bw(budgets):
    return lambda result, src, i, c: ttft_requirement(
        result.costs[src][i], budgets.ttft_s).bytes_per_s / 1e12


# ---- drawing ---------------------------------------------------------------------------------

def _new_figure(figsize=FIGSIZE):
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def _grid_labels(ax, result: SweepResult, min_gap_in: float = 0.16) -> bool:
    """Name the crop grid of each point above the plot (rotated, at the point's x), thinned so
    labels keep `min_gap_in` inches apart (a rotated 7 pt label is about 0.12 in wide). Plain
    text in blended coordinates: a secondary axis would cost several times the drawing time."""
    if result.x_key != "image_tokens" or not any(p.grid for p in result.points):
        return False
    fig = ax.figure
    lo, hi = ax.get_xlim()
    picked, last = [], -np.inf
    order = sorted(range(len(result.points)), key=lambda i: result.points[i].image_tokens)
    for i in order:
        x = result.points[i].image_tokens
        # distance on the page (linear or log axis alike), in inches
        at = ax.transData.transform((x, 1.0))[0] / fig.dpi
        if lo <= x <= hi and at - last >= min_gap_in:
            picked.append(i)
            last = at
    trans = ax.get_xaxis_transform()        # x in data, y in axes fraction
    for i in picked:
        p = result.points[i]
        ax.text(p.image_tokens, 1.012, p.label, transform=trans, rotation=90, fontsize=7,
                ha="center", va="bottom", color="#444444")
        ax.axvline(p.image_tokens, color="#bbbbbb", linewidth=0.4, zorder=0)
    ax.text(1.0, 1.11, "crop grid\n(rows x cols)", transform=ax.transAxes, fontsize=7,
            ha="left", va="bottom", color="#444444")
    return True


# Fixed margins (figure fractions): tight_layout would draw every figure once more.
MARGINS = dict(left=0.11, right=0.90, bottom=0.12)


# A series that changes by less than this fraction is drawn flat on a linear axis from zero
# (magnified, matplotlib would label it with an offset like "1e-5+1.17e-1").
FLAT = 1e-3


def _plotted_y(ax) -> np.ndarray:
    ys = [np.asarray(line.get_ydata(), float) for line in ax.lines]
    ys = [y[np.isfinite(y)] for y in ys if len(y)]
    return np.concatenate(ys) if ys else np.zeros(0)


def _plain_log_ticks(axis) -> None:
    """1-2-5 ticks in plain numbers (0.5, 1, 2, 5, 10) on a log axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _scales(ax, result: SweepResult, logy: bool) -> None:
    """Axis scales. Crop-grid sweeps (image tokens from 273 to 39,423, most points below 2,000)
    and doubling knob sweeps get a log x axis, and then a log y axis too, so that a power law
    (linear growth included) stays a straight line; a flat series gets a linear y axis from 0."""
    ax.ticklabel_format(axis="both", style="plain", useOffset=False)
    ys = _plotted_y(ax)
    flat = len(ys) > 0 and ys.min() > 0 and ys.max() / ys.min() - 1 < FLAT
    if _is_doubling(result):
        from matplotlib.ticker import NullFormatter, NullLocator
        xs = sorted({result.x(i) for i in range(len(result.points))})
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif result.x_key == "image_tokens" and len(result.points) > 1:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
    log_x = ax.get_xscale() == "log"
    if flat:
        ax.set_yscale("linear")
        ax.set_ylim(0, ys.max() * 1.15)
    elif logy or (log_x and len(ys) > 0 and ys.min() > 0):
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        if lo > 0 and hi / lo <= 150:
            # Under about two decades, label 1-2-5 steps in plain numbers (not 4 x 10^1).
            _plain_log_ticks(ax.yaxis)
        else:
            from matplotlib.ticker import FuncFormatter
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _finish(fig, ax, result: SweepResult, title: str, ylabel: str, path_stem: Path,
            logy: bool = False, note: str = "") -> list[Path]:
    _scales(ax, result, logy)
    xlabel = result.x_label
    if ax.get_xscale() == "log":
        xlabel += ", log scale"
    ax.set_xlabel(xlabel)
    if ax.get_yscale() == "log" and "log scale" not in ylabel:
        ylabel = ylabel[:-1] + ", log scale)" if ylabel.endswith(")") else ylabel + " (log scale)"
    ax.set_ylabel(ylabel)
    labelled = result.x_key == "image_tokens" and any(p.grid for p in result.points)
    # On crop-grid sweeps the labelled grids draw the vertical guides (see _grid_labels).
    ax.grid(True, axis="y" if labelled else "both", which="major", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, loc="best", framealpha=0.9)
    fig.subplots_adjust(**{**MARGINS, "top": 0.80 if labelled else 0.90,
                           "bottom": 0.16 if note else MARGINS["bottom"]})
    _grid_labels(ax, result)
    fig.suptitle(title, fontsize=11, y=0.985)
    if note:
        # One line at 7 pt fits about 150 characters across the figure; the report says more.
        note = note if len(note) <= 150 else note[:147].rstrip() + "..."
        fig.text(0.01, 0.01, note, fontsize=7, color="#555555", ha="left", va="bottom")
    return save(fig, path_stem)


def _is_doubling(result: SweepResult) -> bool:
    if result.x_key == "image_tokens":
        return False
    xs = sorted({result.x(i) for i in range(len(result.points))})
    return len(xs) >= 3 and all(abs(b / a - 2) < 1e-9 for a, b in zip(xs, xs[1:]))


def save(fig, path_stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Save as <stem>.svg and <stem>.png; SVG without a date and with a fixed id salt so that
    rebuilding gives the same file."""
    import io

    import matplotlib

    from .io import atomic_write_bytes, output_error
    path_stem = Path(path_stem)
    try:
        path_stem.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(path_stem.parent, err, "figure folder") from None
    out = []
    with matplotlib.rc_context({"svg.hashsalt": "roofsim", "svg.fonttype": "none"}):
        for fmt in formats:
            p = path_stem.with_suffix(f".{fmt}")
            buf = io.BytesIO()     # drawn whole, then renamed into place: never half a file
            if fmt == "svg":
                fig.savefig(buf, format="svg", metadata={"Date": None})
            else:
                fig.savefig(buf, format=fmt, dpi=PNG_DPI, metadata={"Software": None})
            out.append(atomic_write_bytes(p, buf.getvalue(), what="figure"))
    return out


def _lines(ax, series, linestyle=None, label_suffix="", marker=True):
    for src, x, y in series:
        color, mk, ls, size, filled = STYLE.get(src, ("#333333", "x", "-", 4.0, True))
        ax.plot(x, y, color=color, marker=mk if marker else None, markersize=size,
                markerfacecolor=color if filled else "none", markeredgewidth=1.0,
                linestyle=linestyle or ls, linewidth=1.3,
                label=SOURCE_LABELS.get(src, src) + label_suffix)


def _unavailable_note(result: SweepResult) -> str:
    if "reference" in result.sources and result.available("reference"):
        return result.notes.get("reference", "")
    return result.notes.get("reference", "reference unavailable")


# ---- figures ---------------------------------------------------------------------------------

def fig_metric(result, path_stem, ylabel, value, what, logy=False):
    fig, ax = _new_figure()
    series = _series(result, value)
    _lines(ax, series)
    note = "; ".join(filter(None, [_unavailable_note(result), _missing_note(result, series)]))
    return _finish(fig, ax, result, f"DeepSeek-OCR {TITLES[result.kind]}: {what}", ylabel,
                   path_stem, logy=logy, note=note)


def fig_flops(result, path_stem):
    return fig_metric(result, path_stem, "FLOPs (TFLOPs)",
                      _stage(lambda c: units.to_tflops(c.flops)), "total FLOPs")


def fig_flops_components(result, path_stem):
    """Stacked vision / decoder / LM head FLOPs of the analytic flash path, with the total of the
    other sources as lines (the specification's vision+prefill StageCost FLOPs figure)."""
    base = "flash" if result.available("flash") else result.sources[0]
    fig, ax = _new_figure()
    idx = [i for i in range(len(result.points)) if result.costs[base][i] is not None]
    x = np.array([result.x(i) for i in idx])
    comp = [result.components[base][i] for i in idx]
    layers = [("vision", "vision encoder", [c["vision"] for c in comp]),
              ("decoder", "decoder layers, prefill", [c["prefill_decoder"] for c in comp]),
              ("lm_head", "LM head, prefill", [c["prefill_lm_head"] for c in comp])]
    if result.kind == "decode":
        layers = [("decoder", "decoder layers, decode", [c["decode_decoder"] for c in comp]),
                  ("lm_head", "LM head, decode", [c["decode_lm_head"] for c in comp])]
    ys = [units.to_tflops(np.asarray(v, float)) for _, _, v in layers]
    ax.stackplot(x, *ys, labels=[f"{lab} ({base})" for _, lab, _ in layers],
                 colors=[COMPONENT_STYLE[k] for k, _, _ in layers], alpha=0.55)
    others = [s for s in _series(result, _stage(lambda c: units.to_tflops(c.flops)))]
    _lines(ax, others, label_suffix=" total")
    return _finish(fig, ax, result,
                   f"DeepSeek-OCR {TITLES[result.kind]}: FLOPs by component", "FLOPs (TFLOPs)",
                   path_stem, note=_unavailable_note(result))


def fig_io(result, path_stem):
    return fig_metric(result, path_stem, "Activation I/O (terabits)",
                      _stage(lambda c: units.to_terabits(c.activation_io_bytes)),
                      "activation I/O")


def fig_intensity(result, path_stem):
    return fig_metric(result, path_stem, "Arithmetic intensity (FLOPs per bit of activation I/O)",
                      _stage(lambda c: c.arithmetic_intensity / units.BITS_PER_BYTE),
                      "arithmetic intensity")


def fig_activations(result, path_stem):
    return fig_metric(result, path_stem, "Peak activation memory (GB)",
                      _stage(lambda c: units.to_gb(c.activation_peak_bytes)), "peak activations")


def fig_kv(result, path_stem):
    return fig_metric(result, path_stem, "KV cache (GB)",
                      _stage(lambda c: units.to_gb(c.kv_cache_bytes)), "KV cache")


def fig_split_log(result, path_stem):
    fig, ax = _new_figure()
    _lines(ax, _series(result, _stage(lambda c: units.to_tflops(c.flops_tensor))),
           label_suffix=": tensor core")
    _lines(ax, _series(result, _stage(lambda c: units.to_tflops(c.flops_cuda))),
           linestyle=":", label_suffix=": CUDA core")
    return _finish(fig, ax, result,
                   f"DeepSeek-OCR {TITLES[result.kind]}: tensor-core vs CUDA-core FLOPs",
                   "FLOPs (TFLOPs, log scale)", path_stem, logy=True,
                   note=_unavailable_note(result))


def fig_required_tflops(result, path_stem, objective: str, budgets: Budgets):
    fn = _ttft_tflops(budgets) if objective == "ttft" else _tpot_tflops(budgets)
    what = (f"TFLOP/s required for TTFT = {budgets.ttft_s:g} s (vision + prefill)"
            if objective == "ttft" else
            f"TFLOP/s required for TPOT = {units.to_ms(budgets.tpot_s):g} ms per token")
    fig, ax = _new_figure()
    _lines(ax, _series(result, fn))
    return _finish(fig, ax, result, f"DeepSeek-OCR: {what}", "Required throughput (TFLOP/s)",
                   path_stem, note=_unavailable_note(result))


def fig_required_bandwidth(result, path_stem, objective: str, budgets: Budgets):
    fn = _ttft_bw(budgets) if objective == "ttft" else _tpot_bw(budgets)
    what = (f"bandwidth required for TTFT = {budgets.ttft_s:g} s" if objective == "ttft" else
            f"bandwidth required for TPOT = {units.to_ms(budgets.tpot_s):g} ms per token")
    fig, ax = _new_figure()
    _lines(ax, _series(result, fn))
    return _finish(fig, ax, result, f"DeepSeek-OCR: {what}",
                   "Required bandwidth (TB/s, weights included)", path_stem,
                   note=_unavailable_note(result))


def fig_predicted(result, path_stem, objective: str, budgets: Budgets, hardware_name: str):
    """Engine-predicted TTFT or TPOT per source, with the budget as a horizontal line."""
    fig, ax = _new_figure()
    series = []
    for src in result.sources:
        preds = result.predictions.get(src, ())
        pts = [(result.x(i), p) for i, p in enumerate(preds) if p is not None]
        if pts:
            x = np.array([a for a, _ in pts])
            y = np.array([units.to_ms(p.ttft_s if objective == "ttft" else p.tpot_s)
                          for _, p in pts])
            series.append((src, x, y))
    _lines(ax, series)
    budget = budgets.ttft_s if objective == "ttft" else budgets.tpot_s
    ax.axhline(units.to_ms(budget), color="#555555", linestyle="--", linewidth=1,
               label=f"budget {units.to_ms(budget):g} ms")
    name = "TTFT (vision + prefill)" if objective == "ttft" else "TPOT (decode, per token)"
    ys = np.concatenate([y for _, _, y in series]) if series else np.ones(1)
    # Far below the budget (or spanning decades), a log axis keeps the curve readable.
    logy = bool(units.to_ms(budget) > 5 * ys.max() or ys.max() > 50 * max(ys.min(), 1e-12))
    return _finish(fig, ax, result, f"DeepSeek-OCR: predicted {name} on {hardware_name}",
                   f"Predicted {objective.upper()} (ms{', log scale' if logy else ''})",
                   path_stem, logy=logy, note=_unavailable_note(result))


# ---- the plan of a sweep's figures -----------------------------------------------------------

@dataclass(frozen=True)
class FigureSpec:
    name: str           # file stem inside the sweep's folder
    caption: str
    draw: Callable      # (result, path_stem) -> [paths]


def figure_plan(result: SweepResult, stem: str, budgets: Budgets | None = None,
                hardware_name: str = "") -> list[FigureSpec]:
    """The figures of one sweep, named as in the specification (vision_crops/stagecost_*.svg,
    e2e_decode/e2e_decode_stagecost_*.svg, e2e_vision_prefill/responsive_tflops_by_ttft.svg)."""
    budgets = budgets or Budgets()
    kind = result.kind
    title = TITLES[kind]
    spec_vision = kind == "vision" and stem == "vision_crops"
    sc = "stagecost_" if spec_vision else f"{stem}_stagecost_"
    x = "image token length" if result.x_key == "image_tokens" else \
        result.x_label[:1].lower() + result.x_label[1:]     # "decode steps K", not "k"
    plan: list[FigureSpec] = []
    if not spec_vision:
        plan.append(FigureSpec(stem, f"{title} FLOPs vs {x} (analytic and reference curves).",
                               fig_flops))
    if kind == "vision-prefill":
        plan.append(FigureSpec(f"{sc}flops_tflops",
                               f"{title} total FLOPs by component (vision, decoder, LM head) "
                               f"vs {x}.", fig_flops_components))
    else:
        plan.append(FigureSpec(f"{sc}flops_tflops", f"{title} total FLOPs vs {x}.", fig_flops))
    plan += [
        FigureSpec(f"{sc}io_tb", f"{title} activation I/O (terabits) vs {x}.", fig_io),
        FigureSpec(f"{sc}arithmetic_intensity",
                   f"{title} arithmetic intensity (FLOPs per bit of activation I/O) vs {x}.",
                   fig_intensity),
        FigureSpec(f"{sc}activations_gb", f"{title} peak activation memory (GB) vs {x}.",
                   fig_activations),
    ]
    if kind != "vision":
        plan.append(FigureSpec(f"{sc}kv_gb", f"{title} KV-cache memory (GB) vs {x}.", fig_kv))
    split = "vision_flops_split_log" if spec_vision else f"{stem}_flops_split_log"
    plan.append(FigureSpec(split, f"{title} tensor-core vs CUDA-core FLOPs (log scale) vs {x}.",
                           fig_split_log))
    objective = {"decode": "tpot", "vision-prefill": "ttft"}.get(kind)
    if objective:
        budget = (f"{budgets.ttft_s:g} s TTFT" if objective == "ttft"
                  else f"{units.to_ms(budgets.tpot_s):g} ms TPOT")
        plan.append(FigureSpec(f"responsive_tflops_by_{objective}",
                               f"Required TFLOP/s for {budget} vs {x}.",
                               lambda r, p, o=objective: fig_required_tflops(r, p, o, budgets)))
        plan.append(FigureSpec(f"responsive_bandwidth_by_{objective}",
                               f"Required memory bandwidth for {budget} vs {x}.",
                               lambda r, p, o=objective: fig_required_bandwidth(r, p, o, budgets)))
        if hardware_name and any(p is not None for ps in result.predictions.values() for p in ps):
            plan.append(FigureSpec(
                f"predicted_{objective}", f"Predicted {objective.upper()} on {hardware_name} "
                f"vs {x}, with the budget.",
                lambda r, p, o=objective: fig_predicted(r, p, o, budgets, hardware_name)))
    return plan


def draw_all(result: SweepResult, out_dir: Path, stem: str, budgets: Budgets | None = None,
             hardware_name: str = "", on_figure: Callable[[str], None] | None = None
             ) -> list[tuple[FigureSpec, list[Path]]]:
    out = []
    for spec in figure_plan(result, stem, budgets, hardware_name):
        paths = spec.draw(result, Path(out_dir) / spec.name)
        out.append((spec, paths))
        if on_figure:
            on_figure(spec.name)
    return out
