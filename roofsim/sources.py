"""Cost sources of sweeps: what a source is (`evaluate(request, cfg) -> StageEval`) and the
sources that need nothing heavy: DeepSeek-OCR's analytic model (normal or flash attention) and
a workload's captured records (a transformers model by --model). The captured DeepSeek-OCR
reference at many shapes is roofsim.reference.source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Protocol

from .records import RecordTable, StageCost

SOURCE_NAMES = ("normal", "flash", "reference")
CAPTURED = "captured"          # a transformers model given by --model (roofsim.workloads.hf)
SOURCE_LABELS = {"normal": "analytic (normal attention)",
                 "flash": "analytic (flash attention)",
                 "reference": "reference (captured)",
                 CAPTURED: "captured (transformers)"}


@dataclass(frozen=True, eq=False)
class StageEval:
    """What a source gives for one request: records and costs per stage."""

    records: Mapping[str, RecordTable]
    costs: Mapping[str, StageCost]


class Source(Protocol):
    name: str
    label: str

    def evaluate(self, request, cfg=None) -> StageEval: ...


@dataclass(frozen=True)
class AnalyticSource:
    """roofsim's analytic DeepSeek-OCR model with normal or flash attention.

    accounting "model" is the real computation; "report" reproduces the specification's own
    counting conventions (roofsim.workloads.deepseek_ocr.stages explains both)."""

    attention: str = "flash"          # "flash" | "normal"
    lm_head: str = "last"             # "last" (real decoding) | "all" (every prefill position)
    accounting: str = "model"

    @property
    def name(self) -> str:
        return self.attention

    @property
    def label(self) -> str:
        return SOURCE_LABELS[self.attention]

    def evaluate(self, request, cfg=None) -> StageEval:
        from .workloads import deepseek_ocr as ds
        cfg = cfg if cfg is not None else ds.load_config()
        kw = dict(attention=self.attention, lm_head=self.lm_head, accounting=self.accounting)
        records = ds.stage_records(cfg, request, **kw)
        costs = ds.stage_costs(cfg, request, records=records, **kw)
        return StageEval(records=records, costs=costs)


@dataclass(frozen=True, eq=False)
class WorkloadSource:
    """A workload (roofsim.workloads: a transformers model by --model) as a sweep source: its
    captured stage records for each request (roofsim.workloads.base.Request), the decode stage
    as K steps (K x the mean step). Peak activations are n/a for captures (kernels, not
    allocator lifetimes); the KV cache held is the model's bytes per position x positions."""

    workload: object
    use_cache: bool = True
    name: str = CAPTURED

    @property
    def label(self) -> str:
        return f"{self.workload.name} ({SOURCE_LABELS[CAPTURED]})"

    def evaluate(self, request, cfg=None) -> StageEval:
        from .stages import DECODE, PREFILL, VISION
        from .workloads.hf.params import kv_cache_bytes_per_token
        recs = self.workload.stage_records(request, use_cache=self.use_cache)
        k = int(request.decode_tokens)
        records = {s: recs.table(s) for s in recs.stages if s != DECODE}
        if DECODE in recs.parts:
            step = recs.table(DECODE)
            records[DECODE] = step.with_columns(count=step.count * k)
        else:
            records[DECODE] = RecordTable.empty()
        per_position = kv_cache_bytes_per_token(self.workload.config) * request.batch
        seq = recs.image_tokens + request.prompt_tokens
        kv = {VISION: 0.0, PREFILL: float(seq * per_position),
              DECODE: float((seq + k) * per_position)}
        costs = {s: StageCost.from_table(s, t, activation_peak_bytes=math.nan,
                                         kv_cache_bytes=kv[s]) for s, t in records.items()}
        return StageEval(records=records, costs=costs)


