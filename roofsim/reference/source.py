"""The captured reference implementation as a sweep source, at many shapes from a few captures.

Capturing the reference (roofsim.reference, traced on meta tensors by roofsim.capture) costs
about 1.5 s per vision shape and 0.25 s per decoder shape on a laptop core, so the 47 crop grids
of the specification would take minutes. The traced op sequence does not depend on the shape,
and every captured quantity is a low-degree polynomial of it:
- vision of an R x C crop grid: affine in (1, R, C, R*C) (crops stacked in the batch: R*C; the
  token layout adds one newline per row: R; its reshapes see C);
- prefill of S tokens: quadratic in S (attention scores, causal mask);
- one decode step with L cached positions: affine in L (roofsim.reference.stages explains why;
  K steps are K x the mean of the first and the last step, as capture_decode_steps does);
- except fused attention's bytes (K and V read once per query tile: a step function of S),
  which capture takes from the attention kind's cost formula, and so does the model.
So a `ShapeModel` captures a few design shapes, solves for the polynomial coefficients of every
record's work fields and shape parameters, and checks itself against one more capture: when
that check fails (a changed reference, a new op), the source captures every shape directly.
The shape models are fitted at batch 1; a batch B > 1 captures prefill and decode at B directly,
and runs the vision stage once per image (counts x B).

Reference costs: FLOPs, bytes and KV cache (2 x layers x kv_heads x head_dim x element size per
cached position, from the reference's own dimensions) are known; peak activation memory is
not: capture sees kernels, not allocator lifetimes, so it is NaN (shown as n/a).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..records import SHAPE_PARAMS, WORK_FIELDS, RecordTable, StageCost
from ..sources import SOURCE_LABELS, StageEval
from ..stages import STAGES

# Design shapes (and one check shape) per stage. Any values give the same answer when the
# polynomial model holds; these stay clear of the small-shape corners (fewer than 64 routed
# experts receiving tokens below ~11 tokens).
VISION_DESIGN = ((1, 2), (1, 3), (2, 2), (2, 3))
VISION_CHECK = (3, 5)
PREFILL_DESIGN = (1000, 4000, 16000)
PREFILL_CHECK = (2500,)
PREFILL_MIN_SEQ = 64          # below this, capture directly
DECODE_DESIGN = (1000, 20000)
DECODE_CHECK = (7000,)
CHECK_RTOL = 1e-9             # per column, relative to the column's largest magnitude


class Unsupported(Exception):
    """A request the reference assembly does not model (batch > 1, single-view mode, ...)."""


def _vision_features(grid) -> np.ndarray:
    r, c = grid
    return np.array([1.0, r, c, r * c])


def _poly(degree: int) -> Callable[[float], np.ndarray]:
    return lambda x: np.array([float(x) ** p for p in range(degree + 1)])


def _same_ops(a: RecordTable, b: RecordTable) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in ("kind", "name", "layer", "dtype"))


def _formula(t: RecordTable, i: int, field_name: str, params_row: np.ndarray) -> float:
    """Record i's work field from its kind's cost formula (roofsim.kernels) at params_row."""
    from ..kernels import work
    params = {p: np.array([v]) for p, v in zip(SHAPE_PARAMS, params_row) if not np.isnan(v)}
    return float(work(str(t.kind[i]), params, str(t.dtype[i]))[field_name][0])


@dataclass
class ShapeModel:
    """Records at any shape from captures at a few: per record, shape parameters and work
    fields as a linear function of features(shape). A work field that is not (fused attention's
    bytes stream K and V once per query tile: a step function of the length) is taken from its
    kernel kind's cost formula at the fitted parameters instead, as capture itself computes it,
    when that reproduces the check captures exactly."""

    capture: Callable[[object], RecordTable]      # shape -> captured table
    features: Callable[[object], np.ndarray]
    design: Sequence
    checks: Sequence
    valid: bool | None = None                     # None until fitted
    why_invalid: str = ""
    _template: RecordTable | None = field(default=None, repr=False)
    _coef: dict = field(default_factory=dict, repr=False)
    _by_formula: dict = field(default_factory=dict, repr=False)   # field -> record indices

    def fit(self) -> None:
        tables = [self.capture(s) for s in self.design]
        base = tables[0]
        if not all(_same_ops(base, t) for t in tables[1:]):
            self.valid, self.why_invalid = False, "op sequence changes with the shape"
            return
        X = np.stack([self.features(s) for s in self.design])
        cols = {f: np.stack([getattr(t, f) for t in tables]) for f in WORK_FIELDS + ("count",)}
        cols["params"] = np.stack([np.nan_to_num(t.params, nan=0.0) for t in tables])
        self._coef = {k: np.linalg.lstsq(X, v.reshape(len(tables), -1), rcond=None)[0]
                      for k, v in cols.items()}
        self._template = base
        self._by_formula = {}
        self.valid = True
        checks = [(s, self.capture(s)) for s in self.checks]
        for s, real in checks:
            if not _same_ops(base, real):
                self.valid, self.why_invalid = False, f"op sequence differs at {s}"
                return
            pred = self.at(s)
            for f in WORK_FIELDS:
                bad = self._mismatch(getattr(pred, f), getattr(real, f))
                if bad.size:
                    self._by_formula[f] = np.union1d(self._by_formula.get(f, []), bad).astype(int)
        for s, real in checks:                    # the formula must hold exactly, too
            try:
                pred = self.at(s)
            except Exception as err:  # noqa: BLE001  (a kind without the parameters it needs)
                self.valid, self.why_invalid = False, f"no cost formula fits ({err})"
                return
            for f in WORK_FIELDS + ("count",):
                if self._mismatch(getattr(pred, f), getattr(real, f)).size:
                    self.valid, self.why_invalid = False, f"{f} not polynomial in the shape ({s})"
                    return

    @staticmethod
    def _mismatch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        scale = max(float(np.abs(b).max(initial=0.0)), 1.0)
        return np.nonzero(np.abs(a - b) > CHECK_RTOL * scale)[0]

    def at(self, shape) -> RecordTable:
        t = self._template
        x = self.features(shape)
        get = lambda k: x @ self._coef[k]  # noqa: E731
        params = np.round(get("params").reshape(t.params.shape), 6)
        params[np.isnan(t.params)] = np.nan
        work = {f: np.maximum(get(f), 0.0) for f in WORK_FIELDS}
        for f, idx in self._by_formula.items():
            for i in idx:
                work[f][i] = _formula(t, i, f, params[i])
        work["weight_bytes"] = np.minimum(work["weight_bytes"], work["bytes_read"])
        return RecordTable(kind=t.kind, name=t.name, dtype=t.dtype, stage=t.stage,
                           layer=t.layer, params=params, count=np.round(get("count"), 9), **work)


class ReferenceSource:
    """Sweep source for the captured reference (needs torch and transformers)."""

    name = "reference"
    label = SOURCE_LABELS["reference"]

    def __init__(self, *, use_cache: bool = True, fit: bool = True):
        from ..reference import _compat
        from ..reference import stages as ref_stages
        _compat.require()               # UserError without torch: the caller says so
        from ..reference.spec import DEEPSEEK_OCR
        from ..workloads.deepseek_ocr.config import load_config
        self._default_cfg = load_config()
        self._stages = ref_stages
        self.spec = DEEPSEEK_OCR
        self.use_cache = use_cache
        self._fit = fit
        self._models: dict[str, ShapeModel] = {}
        self.notes: list[str] = []

    # -- captures ---------------------------------------------------------------------------
    def _vision(self, grid) -> RecordTable:
        return self._stages.capture_stage("vision", crop_grid=grid, use_cache=self.use_cache).table

    def _prefill(self, seq, batch: int = 1) -> RecordTable:
        return self._stages.capture_stage("prefill", seq_len=int(seq), use_cache=self.use_cache,
                                          batch=batch).table

    def _decode_step(self, kv, batch: int = 1) -> RecordTable:
        return self._stages.capture_stage("decode", kv_len=int(kv), use_cache=self.use_cache,
                                          batch=batch).table

    def _model(self, stage: str) -> ShapeModel | None:
        if not self._fit:
            return None
        if stage not in self._models:
            m = {"vision": ShapeModel(self._vision, _vision_features, VISION_DESIGN,
                                      (VISION_CHECK,)),
                 "prefill": ShapeModel(self._prefill, _poly(2), PREFILL_DESIGN, PREFILL_CHECK),
                 "decode": ShapeModel(self._decode_step, _poly(1), DECODE_DESIGN, DECODE_CHECK),
                 }[stage]
            m.fit()
            if not m.valid:
                self.notes.append(f"reference {stage}: shape model off ({m.why_invalid}); "
                                  f"capturing every shape")
            self._models[stage] = m
        m = self._models[stage]
        return m if m.valid else None

    def prepare(self) -> None:
        """Fit the three shape models now (the captures they need; cached on disk)."""
        for stage in STAGES:
            self._model(stage)

    def vision_table(self, grid) -> RecordTable:
        if grid is None or grid[0] * grid[1] <= 1:
            return self._vision(None)
        m = self._model("vision")
        return m.at(tuple(grid)) if m else self._vision(tuple(grid))

    def prefill_table(self, seq: int, batch: int = 1) -> RecordTable:
        """The shape model serves batch 1; a batch B > 1 is captured at B directly."""
        if batch != 1:
            return self._prefill(seq, batch)
        m = self._model("prefill") if seq >= PREFILL_MIN_SEQ else None
        return m.at(seq) if m else self._prefill(seq)

    def decode_step_table(self, kv: int, batch: int = 1) -> RecordTable:
        if batch != 1:
            return self._decode_step(kv, batch)
        m = self._model("decode") if kv >= PREFILL_MIN_SEQ else None
        return m.at(kv) if m else self._decode_step(kv)

    # -- the source -----------------------------------------------------------------------------
    def evaluate(self, request, cfg=None) -> StageEval:
        if cfg is not None and not cfg.same_model(self._default_cfg):
            raise Unsupported("the reference assembly has the default dimensions only")
        b = int(getattr(request, "batch", 1))
        if request.mode != "gundam":
            raise Unsupported(f"the reference assembly models Gundam mode only, not "
                              f"{request.mode!r}")
        grid = request.crops if request.crops != (0, 0) else None
        seq = self.spec.image_tokens(grid) + int(request.prompt_tokens)
        k = int(request.decode_tokens)
        vision = self.vision_table(grid)          # one image; B requests run it B times
        records = {"vision": vision.with_columns(count=vision.count * b),
                   "prefill": self.prefill_table(seq, b)}
        if k == 0:
            records["decode"] = RecordTable.empty()
        elif k == 1:
            records["decode"] = self.decode_step_table(seq, b)
        else:
            first, last = self.decode_step_table(seq, b), self.decode_step_table(seq + k - 1, b)
            records["decode"] = RecordTable.concat([
                t.with_columns(count=t.count * (k / 2.0)) for t in (first, last)])
        d = self.spec.decoder
        kv_per_token = 2 * d.layers * d.kv_heads * (d.hidden // d.heads) * 2   # bf16
        kv = {"vision": 0.0, "prefill": float(b * seq * kv_per_token),
              "decode": float(b * (seq + k) * kv_per_token)}
        costs = {s: StageCost.from_table(s, t, activation_peak_bytes=math.nan,
                                         kv_cache_bytes=kv[s]) for s, t in records.items()}
        return StageEval(records=records, costs=costs)
