"""The report's headroom section: roofsim.headroom's comparison of the reference against the
analytic flash-attention ideal, as Markdown tables."""

from __future__ import annotations

from dataclasses import replace

from ..headroom import Headroom, headroom
from .markdown import Table


def _ms(s: float) -> str:
    return f"{s * 1e3:.3g}"


def _table(key: str, headers, rows) -> str:
    return Table(key, tuple(headers), tuple(tuple(r) for r in rows)).markdown() + "\n"


def section_markdown(h: Headroom, hardware_name: str = "", heading: str = "###") -> str:
    """Markdown: the stage table, where the difference sits by kind, the kernels losing most."""
    grid = f"{h.grid[0]}x{h.grid[1]}" if h.grid else "global view only"
    name = hardware_name or h.hardware
    lines = [f"{heading} Headroom: the reference against the flash-attention ideal ({grid})\n",
             f"GPU kernel time on {name}"
             + (f" with the {h.calibration} calibration" if h.calibration else
                " (roofline, no calibration)")
             + f" of the captured transformers reference and of the analytic flash-attention "
               f"model for the same request (crop grid {grid}, {h.prompt_tokens} prompt "
               f"tokens; decode is one step, the mean of K = {h.decode_tokens}). The headroom "
               f"is what an implementation as lean as the analytic model would save.\n"]
    rows = [[("decode step" if s == "decode" else s), _ms(x.reference_s), _ms(x.ideal_s),
             f"{x.ratio:.2f}", _ms(x.headroom_s), f"{x.reference_launches:.0f}",
             f"{x.ideal_launches:.0f}"] for s, x in h.stages.items()]
    lines.append(_table("headroom_stages", ["Stage", "Reference (ms)", "Flash ideal (ms)",
                                            "Ratio", "Headroom (ms)", "Reference kernels",
                                            "Ideal kernels"], rows))
    lines.append("Where the difference sits, by kernel kind (the three largest per stage):\n")
    rows = []
    for s, x in h.stages.items():
        for kind, (r, i) in list(x.by_kind.items())[:3]:
            rows.append([("decode step" if s == "decode" else s), kind, _ms(r), _ms(i),
                         _ms(r - i)])
    lines.append(_table("headroom_kinds", ["Stage", "Kind", "Reference (ms)", "Flash ideal (ms)",
                                           "Difference (ms)"], rows))
    if h.calibration:
        lines.append("Kernels that lose the most: reference kernel groups ranked by the time "
                     "they spend above their own roofline at the achievable roofs (all of it "
                     "for a kind the flash ideal does not run in that stage):\n")
    else:
        lines.append("Kernels that take the most time: reference kernel groups ranked by their "
                     "time. Without a calibration the predicted time of a kernel is its "
                     "roofline plus the launch floor, so the time it loses above its roofline "
                     "is only launches x floor (all of it for a kind the flash ideal does not "
                     "run in that stage); ranked by that, the table would rank kernel counts. "
                     "Give `--calibration` to rank by measured inefficiency:\n")
    rows = []
    for s, x in h.stages.items():
        for k in x.losers:
            rows.append([("decode step" if s == "decode" else s), f"`{k.op}`", k.kind,
                         f"`{k.where}`", f"{k.launches:.0f}", _ms(k.time_s), _ms(k.lost_s)])
    lines.append(_table("headroom_kernels", ["Stage", "Op", "Kind", "Where", "Kernels",
                                             "Time (ms)", "Lost (ms)"], rows))
    return "\n".join(lines)


def headroom_section(hardware, profile=None, *, grid, prompt_tokens: int, decode_tokens: int,
                     calibration_name: str = "", heading: str = "###") -> str:
    """The report's headroom section for one request ("" when the reference cannot be captured)."""
    try:
        h = headroom(grid, prompt_tokens, max(int(decode_tokens), 1), hardware=hardware,
                     profile=profile)
    except ImportError:
        return ""
    if calibration_name:
        h = replace(h, calibration=calibration_name)
    return section_markdown(h, getattr(hardware, "name", ""), heading)
