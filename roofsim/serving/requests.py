"""Requests of a serving simulation: Poisson arrivals, or a trace CSV.

Trace columns: arrival_s (seconds from the start), prompt_tokens, output_tokens, and optionally
image (WxH, for DeepSeek-OCR or a vision-language model). Output tokens count the first token
(the one prefill produces), so output_tokens >= 1.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..io import read_text

TRACE_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens")
# The latest arrival a simulation takes: 10^7 s (16 weeks) keeps microsecond engine steps exact
# in float64 seconds (a trace of 10^12 s loses them: 'GPU busy 100.2 %', zero latencies).
MAX_ARRIVAL_S = 1e7
IMAGE_COLUMN = "image"


class ArrivalsTooLong(UserError):
    """Poisson arrivals at so low a rate that they outlast a simulation (MAX_ARRIVAL_S)."""


@dataclass(frozen=True)
class ServeRequest:
    arrival_s: float
    prompt_tokens: int            # text tokens (image tokens are added by the step times)
    output_tokens: int            # generated tokens, the first included (>= 1)
    image: tuple[int, int] | None = None      # (height, width) in pixels

    def __post_init__(self):
        if not (math.isfinite(self.arrival_s) and 0 <= self.arrival_s <= MAX_ARRIVAL_S):
            raise UserError(f"arrival {self.arrival_s}: expected a time in [0, "
                            f"{MAX_ARRIVAL_S:g}] s")
        if self.prompt_tokens < 1 and self.image is None:
            raise UserError(f"prompt tokens {self.prompt_tokens}: expected >= 1")
        if self.output_tokens < 1:
            raise UserError(f"output tokens {self.output_tokens}: expected >= 1 (the first "
                            "token is the prefill's)")


def poisson_requests(rate: float, count: int, prompt_tokens: int, output_tokens: int, *,
                     seed: int = 0, image=None) -> list[ServeRequest]:
    """`count` identical requests with exponential inter-arrival times of mean 1 / rate."""
    if not (math.isfinite(rate) and rate > 0):
        raise UserError(f"rate {rate}: expected a finite number > 0 requests/s")
    with np.errstate(over="ignore", invalid="ignore"):     # a tiny rate: refused just below
        gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=int(count))
        arrivals = np.cumsum(gaps) - gaps[0] if count else gaps
    if count and not arrivals[-1] <= MAX_ARRIVAL_S:        # NaN too
        raise ArrivalsTooLong(f"rate {rate:g} requests/s: {count} requests arrive over "
                              f"{arrivals[-1]:.3g} s, more than a simulation takes "
                              f"({MAX_ARRIVAL_S:g} s); a higher rate or fewer requests")
    return [ServeRequest(float(t), int(prompt_tokens), int(output_tokens), image)
            for t in arrivals]


def _int(path, line, column, text) -> int:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise UserError(f"{path}: line {line}: {column} {text!r}: expected an integer")
    return int(value)


def _image(path, line, text):
    """'WxH' -> (height, width); empty or 'none': no image."""
    from ..workloads.deepseek_ocr.views import parse_image_size
    text = (text or "").strip()
    if not text or text.lower() == "none":
        return None
    try:
        w, h = parse_image_size(text)
    except UserError as err:
        raise UserError(f"{path}: line {line}: image: {err}") from None
    return h, w


def read_trace(path, check=None) -> list[ServeRequest]:
    """Requests of a trace CSV, sorted by arrival. `check(where, request)`, where given, vets
    each row's request (a model's position limits, say) before the sort loses its line:
    `where` is '<path>: line <n>'."""
    path = Path(path)
    text = read_text(path, expected="a trace CSV file")
    try:
        rows = list(csv.reader(text.splitlines(), strict=True))
    except csv.Error as err:
        raise UserError(f"{path}: not a valid CSV file ({err})") from None
    reader = iter(rows)
    header = next(reader, None)
    if not header:
        raise UserError(f"{path}: empty trace; expected columns {', '.join(TRACE_COLUMNS)}")
    header = [h.strip() for h in header]
    dup = {h for h in header if header.count(h) > 1}
    if dup:
        raise UserError(f"{path}: column {sorted(dup)[0]} given twice")
    missing = [c for c in TRACE_COLUMNS if c not in header]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected "
                        f"{', '.join(TRACE_COLUMNS)} [, {IMAGE_COLUMN}]")
    col = {h: i for i, h in enumerate(header)}
    out = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise UserError(f"{path}: line {line}: {len(row)} fields, expected {len(header)}")
        try:
            arrival = float(row[col["arrival_s"]])
        except ValueError:
            arrival = math.nan
        if not (math.isfinite(arrival) and 0 <= arrival <= MAX_ARRIVAL_S):
            raise UserError(f"{path}: line {line}: arrival_s {row[col['arrival_s']]!r}: "
                            f"expected seconds in [0, {MAX_ARRIVAL_S:g}]")
        prompt = _int(path, line, "prompt_tokens", row[col["prompt_tokens"]])
        output = _int(path, line, "output_tokens", row[col["output_tokens"]])
        image = _image(path, line, row[col[IMAGE_COLUMN]]) if IMAGE_COLUMN in col else None
        try:
            request = ServeRequest(arrival, prompt, output, image)
        except UserError as err:
            raise UserError(f"{path}: line {line}: {err}") from None
        if check is not None:
            check(f"{path}: line {line}", request)
        out.append(request)
    if not out:
        raise UserError(f"{path}: no requests")
    return sorted(out, key=lambda r: r.arrival_s)
