"""Markdown building blocks for the report: tables (kept with their raw values, so tests can
compare every printed number with the API), figures and number formats."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


def sci(x: float) -> str:
    """Seven significant digits in exponent form, as the specification prints TFLOPs."""
    return f"{x:.6e}"


def fixed(digits: int) -> Callable[[float], str]:
    return lambda x: f"{x:.{digits}f}"


def sig(digits: int = 4) -> Callable[[float], str]:
    return lambda x: f"{x:.{digits}g}"


def ratio(x: float) -> str:
    """Tensor:CUDA ratio with CUDA = 1.0, as the specification writes it."""
    return f"{x:.3f}:1.0" if math.isfinite(x) else "n/a"


def percent(x: float) -> str:
    return f"{x:.4f}%"


def text(x: Any) -> str:
    return "" if x is None else str(x)


UNAVAILABLE = "n/a"


@dataclass(frozen=True)
class Table:
    """A table: headers, raw rows (numbers stay numbers) and one formatter per column."""

    key: str                                  # stable id (tests, JSON)
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    formats: tuple[Callable[[Any], str], ...] = field(default=())
    caption: str = ""

    def cell(self, i: int, j: int) -> str:
        v = self.rows[i][j]
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return UNAVAILABLE
        fmt = self.formats[j] if j < len(self.formats) else text
        return fmt(v) if not isinstance(v, str) else v

    def markdown(self) -> str:
        lines = ["|" + "|".join(self.headers) + "|",
                 "|" + "|".join(" :---: " for _ in self.headers) + "|"]
        for i in range(len(self.rows)):
            lines.append("|" + "|".join(self.cell(i, j).replace("|", "\\|")
                                        for j in range(len(self.headers))) + "|")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"key": self.key, "headers": list(self.headers),
                "rows": [list(r) for r in self.rows], "caption": self.caption}


def parse_markdown_tables(md: str) -> list[list[list[str]]]:
    """Every pipe table in a Markdown text, as rows of cell strings (alignment row dropped)."""
    tables, cur = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set(":- ") for c in cells):
                cur.append(cells)
        elif cur:
            tables.append(cur)
            cur = []
    if cur:
        tables.append(cur)
    return tables


def figure(path: str, alt: str) -> str:
    return f"![{alt}]({path})"


def bullet_list(items: Sequence[str]) -> str:
    return "\n".join(f"- {i}" for i in items)
