"""Throughput against latency over a sweep of request rates (roofsim serve --rates --plot)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from ..errors import UserError
from ..io import atomic_write_bytes


def plot_format(path, option: str = "--plot") -> str:
    """The format a plot file's suffix names, PNG where it has none; a suffix matplotlib's
    savefig cannot write is refused (it wrote a PNG under that name)."""
    from matplotlib.figure import Figure
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    formats = dict(Figure().canvas.get_supported_filetypes())
    if shutil.which("xelatex") is None:      # matplotlib's pgf writer runs a LaTeX
        formats.pop("pgf", None)
    if fmt not in formats:
        raise UserError(f"{option} {path}: matplotlib cannot write .{fmt} files (expected a "
                        f"suffix of {', '.join(sorted(formats))}; none writes PNG)")
    return fmt


def save_rate_plot(points, path, title: str = "") -> Path:
    """Output tokens/s (x) against TTFT, TPOT and end-to-end latency p50 / p99 (y, log), one
    point per rate; written whole in the format the suffix names (plot_format)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    x = [p.metrics.throughput_tokens_per_s for p in points]
    for ax, (name, get) in zip(axes, (("TTFT", lambda m: m.ttft), ("TPOT", lambda m: m.tpot),
                                      ("end-to-end latency", lambda m: m.latency))):
        for q, style in (("p50", "o-"), ("p99", "s--")):
            ax.plot(x, [getattr(get(p.metrics), q) * 1e3 for p in points], style, label=q)
        for p, xv in zip(points, x):
            ax.annotate(f"{p.rate:g}/s", (xv, get(p.metrics).p50 * 1e3), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
        ax.set_yscale("log")
        ax.set_xlabel("output tokens/s")
        ax.set_ylabel(f"{name} (ms)")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title or "throughput against latency")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=plot_format(path), dpi=120)
    plt.close(fig)
    return atomic_write_bytes(Path(path), buf.getvalue(), what="plot")
