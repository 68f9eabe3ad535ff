"""The workload protocol: a model that turns a request into per-stage kernel records.

    wl = workload("llama-3.1-8b")                    # or workload(None): DeepSeek-OCR
    recs = wl.stage_records(Request(prompt_tokens=4096, decode_tokens=16))
    recs.parts["prefill"]                            # ((RecordTable, weight), ...)

A stage's records are a weighted sum of tables: prefill and vision one table of weight 1, the
mean decode step as a few captured steps whose weights sum to 1 (the decode step is affine in
the cache length, so the first and last step weigh 1/2 each), or the analytic model's K steps
at weight 1/K. Everything that times a stage (roofsim.timing) sums the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

import numpy as np

from ..errors import UserError
from ..records import RecordTable
from ..stages import DECODE, STAGES

DEFAULT_PROMPT_TOKENS = 16
DEFAULT_MODEL = "deepseek-ocr"


def _count(name: str, v, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise UserError(f"{name}: expected an integer >= {minimum}, got {v!r}")
    return int(v)


@dataclass(frozen=True)
class Request:
    """One request: the input's shape, prompt tokens, decode steps K and batch rows B.

    The input's shape is what the workload takes: DeepSeek-OCR a crop grid (rows, cols) or
    None (global view only); a vision-language model an image (height, width) or None (text
    only); a text model nothing. (Text forms, on the command line and in files, are WxH.)"""

    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    decode_tokens: int = 1
    batch: int = 1
    grid: tuple[int, int] | None = None
    image: tuple[int, int] | None = None

    def __post_init__(self):
        _count("prompt tokens", self.prompt_tokens, 0)
        _count("decode tokens", self.decode_tokens, 0)
        _count("batch", self.batch, 1)


@dataclass(frozen=True, eq=False)
class StageRecords:
    """Records of each stage the request runs, in launch order where the source knows it.
    parts[stage]: ((table, weight), ...), whose weighted sum is the stage (decode: one mean
    step). image_tokens: tokens the vision stage hands the decoder (0 without one)."""

    parts: Mapping[str, tuple[tuple[RecordTable, float], ...]]
    image_tokens: int = 0
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        unknown = set(self.parts) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown stage(s) {sorted(unknown)}; expected {STAGES}")

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(s for s in STAGES if s in self.parts)

    def table(self, stage: str) -> RecordTable:
        """One table for the stage (counts scaled by the parts' weights)."""
        return RecordTable.concat([t.with_columns(count=t.count * w)
                                   for t, w in self.parts[stage]])

    def decode_mean(self) -> RecordTable:
        return self.table(DECODE)

    @staticmethod
    def single(tables: Mapping[str, RecordTable], decode: Sequence = (), image_tokens: int = 0,
               notes: Sequence[str] = ()) -> "StageRecords":
        """Stages of one table each (weight 1), plus decode parts."""
        parts = {s: ((t, 1.0),) for s, t in tables.items()}
        if decode:
            parts[DECODE] = tuple(decode)
        return StageRecords(parts, int(image_tokens), tuple(notes))


class Workload(Protocol):
    """A model as roofsim predicts it (roofsim.workloads.workload returns one)."""

    name: str                  # what --model names it
    implementation: str        # how its records are made (reference, flash, normal, captured)

    @property
    def stages(self) -> tuple[str, ...]: ...

    def stage_records(self, request: Request, *, use_cache: bool = True) -> StageRecords: ...

    def graph_parts(self, request: Request, *,
                    use_cache: bool = True) -> Mapping[str, tuple[tuple[RecordTable, float], ...]]:
        """The stages whose replay as a CUDA graph runs other records than stage_records gives
        (parts as StageRecords.parts); a stage not listed replays its stage_records parts.
        roofsim.wall times a stage's graph mode from these."""
        ...

    def describe(self, request: Request) -> Mapping[str, object]:
        """What the request means for this model (image tokens, crop grid, ...), as JSON."""
        ...

    def shard_sizes(self):
        """What a parallel plan splits of the model (roofsim.parallel.ModelSizes), which
        ParallelPlan.check_model checks the plan against."""
        ...


def affine_decode_parts(first: RecordTable, last: RecordTable | None):
    """The mean of K decode steps from the first and last step (exact for a step affine in the
    cache length): ((first, 1),) for K = 1, else ((first, 1/2), (last, 1/2))."""
    if last is None:
        return ((first, 1.0),)
    return ((first, 0.5), (last, 0.5))
