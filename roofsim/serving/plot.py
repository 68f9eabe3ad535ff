"""Throughput against latency over a sweep of request rates (roofsim serve --rates --plot)."""

from __future__ import annotations

import io
from pathlib import Path

from ..io import atomic_write_bytes


def save_rate_plot(points, path, title: str = "") -> Path:
    """Output tokens/s (x) against TTFT, TPOT and end-to-end latency p50 / p99 (y, log), one
    point per rate; written whole (PNG, or the format the suffix names)."""
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
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    fig.savefig(buf, format=fmt if fmt in ("png", "svg", "pdf") else "png", dpi=120)
    plt.close(fig)
    return atomic_write_bytes(Path(path), buf.getvalue(), what="plot")
