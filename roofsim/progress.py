"""A small dependency-free progress bar on stderr.

On a terminal it redraws one line in place; elsewhere (logs, CI, pytest) it prints one line
per step only when `verbose` is set, so captured output stays short. Use as a context manager:

    with Progress(total=12, label="report") as bar:
        bar.step("vision sweep")        # advances by one and shows the note
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str = "", stream: TextIO | None = None,
                 enabled: bool = True, width: int = 28, verbose: bool = False):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.width = width
        self.verbose = verbose
        self.done = 0
        self.started = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_len = 0

    def __enter__(self) -> "Progress":
        self._draw("")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def step(self, note: str = "", n: int = 1) -> None:
        """Mark n units done; `note` names what just finished (or starts next)."""
        self.done = min(self.done + n, self.total)
        self._draw(note)

    def note(self, text: str) -> None:
        """Show what is running now without advancing (e.g. a slow import)."""
        self._draw(text)

    def line(self) -> str:
        """The bar as text (also what the terminal shows)."""
        frac = self.done / self.total
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        head = f"{self.label} " if self.label else ""
        return f"{head}[{bar}] {self.done}/{self.total} {self.elapsed_s:5.1f}s"

    def _draw(self, note: str) -> None:
        if not self.enabled:
            return
        text = self.line() + (f" {note}" if note else "")
        if self._tty:
            pad = max(self._last_len - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
            self.stream.flush()
        elif self.verbose and note:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
        elif self.verbose:
            self.stream.write(self.line() + " done\n")
            self.stream.flush()
