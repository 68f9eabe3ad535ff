"""The report's wall-time section: kernel time, eager wall time and CUDA-graph wall time of the
captured reference side by side (roofsim.wall with the host model, roofsim.host), at a few crop
grids."""

from __future__ import annotations

from pathlib import Path

from ..data import data_dir
from ..host import resolve_host_model
from ..predict import stage_records
from ..sweep import grid_text
from ..wall import stage_walls, wall_table
from .markdown import Table


def wall_section(hardware, profile=None, *, grids, prompt_tokens: int, decode_tokens: int,
                 calibration_name: str = "", heading: str = "###") -> str:
    """Markdown: per grid, each stage's kernel, host, eager and graph wall time (ms) and which
    roof binds eager execution. The host model is the one beside the calibration, else the
    shipped one of the hardware, else roofsim.host.DEFAULT_HOST (the text says which). "" when
    the reference cannot be captured."""
    host, source = resolve_host_model(None, calibration_name or None,
                                      getattr(hardware, "id", ""))
    root = data_dir("calibration").parent
    if Path(source).is_absolute() and Path(source).is_relative_to(root):
        source = str(Path(source).relative_to(root))      # the report names no local paths
    rows, headers, lines = [], None, []
    for grid in grids:
        try:
            recs = stage_records("reference", grid, prompt_tokens, max(int(decode_tokens), 1))
        except ImportError:
            return ""
        walls = stage_walls(recs.parts, hardware, profile, host)
        headers, grid_rows, lines = wall_table(walls, "graph", source,
                                               spread_measured=host.speed_spread != (1.0, 1.0))
        rows += [[grid_text(grid)] + list(r) for r in grid_rows]
    if headers is None:
        return ""
    notes = [line for line in lines if not line.startswith(("TPOT wall", "TTFT wall"))]
    return "\n".join([
        f"{heading} Wall time: eager and CUDA graph\n",
        "What a clock shows for the captured reference, not only its kernels: `eager`, one "
        "stream fed by the host (Python, dispatcher and launches per aten op, waits at "
        "synchronizing ops); `graph`, the stage replayed as one CUDA graph (kernels, the "
        "graph's node gaps and its launch). The eager wall binds on whichever roof is larger "
        f"(host or GPU). Prompt {prompt_tokens} tokens; decode is one step, the mean of K = "
        f"{decode_tokens}. `roofsim predict --wall eager|graph` gives the same per request.\n",
        Table("walls", ("Crop grid",) + tuple(headers), tuple(tuple(r) for r in rows)).markdown(),
        "",
        "; ".join(notes) + ".\n"])
