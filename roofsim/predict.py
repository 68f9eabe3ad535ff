"""Stage timing of one DeepSeek-OCR request for one implementation: records -> engine -> seconds.

    p = predict((2, 3), prompt_tokens=16, decode_tokens=100, hardware=load_hardware("h100-sxm"),
                profile=load_profile("h100-sxm"), implementation="reference")
    p.ttft_s, p.tpot_s, p.stages["prefill"].by_bound

Implementations:
- `reference`: kernel records captured from the transformers-based reference (roofsim.reference:
  bf16, SDPA, transformers' default grouped-GEMM experts, lm_head on the last prefill position
  and on each decoded token, decode with a KV cache, inputs as embeddings);
- `flash` / `normal`: the analytic model (roofsim.workloads.deepseek_ocr) with fused or
  unfused attention.
Stages: `vision`, `prefill` and `decode` (one decode step: the mean over the K steps, which is
TPOT). TTFT = vision + prefill.

Predicted time is GPU kernel time: the sum over kernels of the engine's per-launch time
(roofsim.engine.simulate, with the calibration profile where given), as a profiler's sum of
kernel durations measures it. With `host_overhead_s`, each stage also gets an eager wall-time
estimate: launch i is issued by the host at i x host_overhead_s and starts once both it is
issued and the previous kernel is done (one stream), so launch-bound stages take the host's
time and long kernels let the host run ahead (`eager_wall_s`).

One function, `predict`, serves the CLI (`roofsim predict`), the report's headroom section and
the end-to-end accuracy benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .engine import BOUNDS, simulate
from .errors import UserError
from .hardware import HardwareSpec
from .records import RecordTable

IMPLEMENTATIONS = ("reference", "flash", "normal")
STAGES = ("vision", "prefill", "decode")
TTFT_STAGES = ("vision", "prefill")
DEFAULT_PROMPT_TOKENS = 16


@dataclass(frozen=True)
class StageTiming:
    """One stage on one hardware spec. For decode: one step (the mean over the K steps)."""

    stage: str
    kernel_s: float                           # sum of per-kernel times
    launches: float                           # kernel launches
    by_bound: Mapping[str, float]             # seconds per bound (roofsim.engine.BOUNDS)
    by_kind: Mapping[str, tuple[float, float]]   # kind -> (seconds, launches)
    calibrated_fraction: float                # share of kernel_s from the calibration profile
    eager_s: float | None = None              # eager wall estimate (host_overhead_s given)

    @property
    def bound(self) -> str:
        """The bound that accounts for most of the stage's time."""
        return max(self.by_bound, key=self.by_bound.get)

    def as_dict(self) -> dict:
        return {"stage": self.stage, "kernel_s": self.kernel_s, "launches": self.launches,
                "bound": self.bound, "by_bound_s": dict(self.by_bound),
                "by_kind": {k: {"seconds": s, "launches": n} for k, (s, n) in self.by_kind.items()},
                "calibrated_fraction": self.calibrated_fraction, "eager_s": self.eager_s}


@dataclass(frozen=True)
class Prediction:
    implementation: str
    hardware: str
    calibration: str                          # profile's device, "" without one
    grid: tuple[int, int] | None
    image_tokens: int
    prompt_tokens: int
    decode_tokens: int
    stages: Mapping[str, StageTiming]         # vision, prefill, decode (one step; K >= 1)
    host_overhead_s: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def vision_s(self) -> float:
        return self.stages["vision"].kernel_s

    @property
    def prefill_s(self) -> float:
        return self.stages["prefill"].kernel_s

    @property
    def ttft_s(self) -> float:
        return self.vision_s + self.prefill_s

    @property
    def tpot_s(self) -> float | None:
        d = self.stages.get("decode")
        return d.kernel_s if d is not None else None

    @property
    def eager_ttft_s(self) -> float | None:
        e = [self.stages[s].eager_s for s in TTFT_STAGES]
        return None if any(v is None for v in e) else float(sum(e))

    @property
    def eager_tpot_s(self) -> float | None:
        d = self.stages.get("decode")
        return d.eager_s if d is not None else None

    def as_dict(self) -> dict:
        grid = f"{self.grid[0]}x{self.grid[1]}" if self.grid else None
        return {"implementation": self.implementation, "hardware": self.hardware,
                "calibration": self.calibration or None, "grid": grid,
                "image_tokens": self.image_tokens, "prompt_tokens": self.prompt_tokens,
                "decode_tokens": self.decode_tokens, "vision_s": self.vision_s,
                "prefill_s": self.prefill_s, "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
                "host_overhead_s": self.host_overhead_s, "eager_ttft_s": self.eager_ttft_s,
                "eager_tpot_s": self.eager_tpot_s,
                "stages": {s: t.as_dict() for s, t in self.stages.items()},
                "notes": list(self.notes)}


# ---- records ------------------------------------------------------------------------------

def _grid(grid) -> tuple[int, int] | None:
    """(rows, cols) or None (global view only); 'RxC' text accepted; 1x1 means no crops, as the
    real preprocessor sends only the global view."""
    if grid is None:
        return None
    if isinstance(grid, str):
        from .workloads.deepseek_ocr import parse_grid
        grid = parse_grid(grid)
    rows, cols = (int(v) for v in grid)
    if rows < 1 or cols < 1:
        raise UserError(f"grid {rows}x{cols}: rows and columns must be at least 1")
    return None if (rows, cols) == (1, 1) else (rows, cols)


@dataclass(frozen=True, eq=False)
class StageRecords:
    """Records of each stage, in launch order where the source knows it. `decode` is a list of
    (table of one step, weight): the steps whose weighted sum is the mean decode step."""

    vision: RecordTable
    prefill: RecordTable
    decode: tuple[tuple[RecordTable, float], ...]
    image_tokens: int
    notes: tuple[str, ...] = ()

    def decode_mean(self) -> RecordTable:
        """One table for the mean decode step (counts scaled by the steps' weights)."""
        return RecordTable.concat([t.with_columns(count=t.count * w) for t, w in self.decode])


def reference_records(grid, prompt_tokens: int, decode_tokens: int, *,
                      use_cache: bool = True) -> StageRecords:
    """Captured records of the reference (roofsim.reference.stages). The decode step is affine
    in the cache length, so the mean over K steps is the mean of the first and last step."""
    from .reference.spec import DEEPSEEK_OCR
    from .reference.stages import capture_stage
    g = _grid(grid)
    seq = DEEPSEEK_OCR.image_tokens(g) + int(prompt_tokens)
    vision = capture_stage("vision", crop_grid=g, use_cache=use_cache)
    prefill = capture_stage("prefill", seq_len=seq, use_cache=use_cache)
    decode: tuple = ()
    if decode_tokens >= 1:
        first = capture_stage("decode", kv_len=seq, use_cache=use_cache)
        if decode_tokens == 1:
            decode = ((first.table, 1.0),)
        else:
            last = capture_stage("decode", kv_len=seq + decode_tokens - 1, use_cache=use_cache)
            decode = ((first.table, 0.5), (last.table, 0.5))
    notes = tuple(dict.fromkeys(vision.notes + prefill.notes))
    return StageRecords(vision.table, prefill.table, decode, DEEPSEEK_OCR.image_tokens(g), notes)


def analytic_records(grid, prompt_tokens: int, decode_tokens: int, attention: str, *,
                     cfg=None) -> StageRecords:
    """Records of the analytic model; the decode table covers K steps, scaled to one."""
    from .workloads import deepseek_ocr as ds
    cfg = cfg if cfg is not None else ds.load_config()
    g = _grid(grid)
    req = ds.Request(grid=g, prompt_tokens=int(prompt_tokens), decode_tokens=int(decode_tokens))
    tables = ds.stage_records(cfg, req, attention=attention, lm_head="last")
    k = int(decode_tokens)
    decode = ((tables["decode"], 1.0 / k),) if k >= 1 else ()
    return StageRecords(tables["vision"], tables["prefill"], decode,
                        ds.views(cfg, req).image_tokens)


def stage_records(implementation: str, grid, prompt_tokens: int, decode_tokens: int, *,
                  cfg=None, use_cache: bool = True) -> StageRecords:
    if implementation not in IMPLEMENTATIONS:
        raise UserError(f"implementation {implementation!r}: expected one of "
                        f"{', '.join(IMPLEMENTATIONS)}")
    for name, v in (("prompt tokens", prompt_tokens), ("decode tokens", decode_tokens)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise UserError(f"{name}: expected an integer >= 0, got {v!r}")
    if implementation == "reference":
        return reference_records(grid, prompt_tokens, decode_tokens, use_cache=use_cache)
    return analytic_records(grid, prompt_tokens, decode_tokens, implementation, cfg=cfg)


# ---- timing -------------------------------------------------------------------------------

def eager_wall_s(launch_s: np.ndarray, count: np.ndarray, host_overhead_s: float) -> float:
    """Wall time of launches on one stream fed by a host that issues one every host_overhead_s.

    Records in launch order; record i is `count_i` identical launches of `launch_s_i` each.
    Launch j is issued at j x h and starts at max(issue, end of the previous launch). For a
    block of c identical launches first issued at a: end = max(previous end + c t, a + c t,
    a + (c - 1) h + t) (the extremes of a linear max over the block). Unrolled, the stage's end
    is max over blocks of (that block's own end bound + the work of all later blocks)."""
    t = np.asarray(launch_s, dtype=np.float64)
    c = np.asarray(count, dtype=np.float64)
    if len(t) == 0:
        return 0.0
    h = float(host_overhead_s)
    work = c * t
    issued_before = np.concatenate([[0.0], np.cumsum(c)[:-1]]) * h
    first_issue = issued_before + h * np.minimum(c, 1.0)
    own = np.maximum(first_issue + work, first_issue + np.maximum(c - 1.0, 0.0) * h + t)
    later = work.sum() - np.cumsum(work)
    return float(max(np.max(own + later), work.sum()))


def time_stage(stage: str, parts, hardware: HardwareSpec, profile=None,
               host_overhead_s: float | None = None) -> StageTiming:
    """Engine time of a stage given as [(table, weight), ...] (the weighted sum of tables)."""
    total = launches = calibrated = 0.0
    by_bound = dict.fromkeys(BOUNDS, 0.0)
    by_kind: dict[str, list[float]] = {}
    eager = 0.0
    for table, weight in parts:
        timing = simulate(table, hardware, profile, launch_mode="cuda_graph")
        total += weight * timing.total_s
        launches += weight * table.launches
        calibrated += weight * float(timing.time_s[timing.calibrated].sum())
        for b, s in timing.time_by_bound().items():
            by_bound[b] += weight * s
        kinds = table.kind.astype(str)
        for k in dict.fromkeys(kinds):
            m = kinds == k
            acc = by_kind.setdefault(k, [0.0, 0.0])
            acc[0] += weight * float(timing.time_s[m].sum())
            acc[1] += weight * float(table.count[m].sum())
        if host_overhead_s is not None:
            eager += weight * eager_wall_s(timing.launch_time_s, table.count, host_overhead_s)
    order = sorted(by_kind, key=lambda k: -by_kind[k][0])
    return StageTiming(stage=stage, kernel_s=total, launches=launches, by_bound=by_bound,
                       by_kind={k: (by_kind[k][0], by_kind[k][1]) for k in order},
                       calibrated_fraction=calibrated / total if total > 0 else 0.0,
                       eager_s=eager if host_overhead_s is not None else None)


def time_records(records: StageRecords, hardware: HardwareSpec, profile=None,
                 host_overhead_s: float | None = None) -> dict[str, StageTiming]:
    out = {"vision": time_stage("vision", [(records.vision, 1.0)], hardware, profile,
                                host_overhead_s),
           "prefill": time_stage("prefill", [(records.prefill, 1.0)], hardware, profile,
                                 host_overhead_s)}
    if records.decode:
        out["decode"] = time_stage("decode", records.decode, hardware, profile, host_overhead_s)
    return out


def predict(grid, prompt_tokens: int = DEFAULT_PROMPT_TOKENS, decode_tokens: int = 1, *,
            hardware: HardwareSpec, profile=None, implementation: str = "reference",
            host_overhead_s: float | None = None, cfg=None, use_cache: bool = True,
            records: StageRecords | None = None) -> Prediction:
    """Per-stage GPU kernel time of one request (see the module docstring). Pass `records` to
    reuse already built stage records (they must match the other arguments)."""
    if host_overhead_s is not None and not (np.isfinite(host_overhead_s) and host_overhead_s >= 0):
        raise UserError(f"host overhead: expected a finite number of seconds >= 0, "
                        f"got {host_overhead_s}")
    recs = records if records is not None else stage_records(
        implementation, grid, prompt_tokens, decode_tokens, cfg=cfg, use_cache=use_cache)
    stages = time_records(recs, hardware, profile, host_overhead_s)
    calibration = ""
    if profile is not None:
        calibration = getattr(profile, "device_id", "") or getattr(profile, "device_name", "") \
            or "profile"
    return Prediction(implementation=implementation, hardware=hardware.id,
                      calibration=calibration, grid=_grid(grid), image_tokens=recs.image_tokens,
                      prompt_tokens=int(prompt_tokens), decode_tokens=int(decode_tokens),
                      stages=stages, host_overhead_s=host_overhead_s, notes=recs.notes)


# ---- end-to-end measurements (calibration/<device>/e2e/, benchmarks/measure_e2e.py) --------

E2E_FILE = "e2e.csv"
E2E_STAGES = ("vision", "prefill", "decode")
TARGET_ERROR = 0.15      # issue 7: predicted kernel time within 15% of measured, every stage


@dataclass(frozen=True)
class E2EComparison:
    """Predicted vs measured GPU kernel time of one stage at one grid (decode: one step)."""

    grid: str
    stage: str
    image_tokens: int
    predicted_s: float
    measured_s: float
    predicted_launches: float
    measured_kernels: int
    measured_wall_s: float

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return self.predicted_s / self.measured_s - 1.0

    def as_dict(self) -> dict:
        return {"grid": self.grid, "stage": self.stage, "image_tokens": self.image_tokens,
                "predicted_s": self.predicted_s, "measured_s": self.measured_s,
                "error": self.error, "predicted_launches": self.predicted_launches,
                "measured_kernels": self.measured_kernels,
                "measured_wall_s": self.measured_wall_s}


def load_e2e(folder) -> tuple[list[dict], dict]:
    """(rows of e2e.csv, provenance.json) of an end-to-end measurement folder."""
    import csv
    import json
    from pathlib import Path
    folder = Path(folder)
    path = folder / E2E_FILE
    if not path.is_file():
        raise UserError(f"{path}: no end-to-end measurements (benchmarks/measure_e2e.py writes it)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    prov_path = folder / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    for i, r in enumerate(rows):
        if r.get("stage") not in E2E_STAGES:
            raise UserError(f"{path}: row {i + 2}: stage {r.get('stage')!r}, expected one of "
                            f"{', '.join(E2E_STAGES)}")
    return rows, prov


def compare_e2e(rows, hardware: HardwareSpec, profile=None, implementation: str = "reference",
                use_cache: bool = True, grids=None) -> list[E2EComparison]:
    """Predicted vs measured kernel time for every measured (grid, stage) row with status ok.
    The decode row is one step with the prefill length cached: decode_tokens = 1."""
    by_grid: dict[str, dict[str, dict]] = {}
    for r in rows:
        if r.get("status", "ok") == "ok" and (grids is None or r["grid"] in grids):
            by_grid.setdefault(r["grid"], {})[r["stage"]] = r
    out = []
    for grid, stages in by_grid.items():
        prompt = int(next(iter(stages.values()))["prompt_tokens"])
        p = predict(grid, prompt, 1, hardware=hardware, profile=profile,
                    implementation=implementation, use_cache=use_cache)
        for stage in E2E_STAGES:
            if stage not in stages:
                continue
            r = stages[stage]
            t = p.stages[stage]
            out.append(E2EComparison(
                grid=grid, stage=stage, image_tokens=int(r["image_tokens"]),
                predicted_s=t.kernel_s, measured_s=float(r["kernel_s"]),
                predicted_launches=t.launches, measured_kernels=int(r["kernel_count"]),
                measured_wall_s=float(r["wall_median_s"])))
    return out
