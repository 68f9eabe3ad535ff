"""Cost sweeps: one stage cost per input shape, for each cost source (analytic normal attention,
analytic flash attention, and the captured reference implementation).

A sweep is a list of points (a DeepSeek-OCR request each: crop grid, prompt length, decode
length K, batch B, optionally a changed head count) evaluated by every source. Its kind says which
stage it reports:
  vision           the vision encoder (SAM + CLIP + projector) over the global view and crops
  decode           K decode steps after the prefill
  vision-prefill   vision + prefill: everything before the first output token (TTFT)
Every point keeps the costs of all three stages, so the objectives (TTFT and TPOT) and the
predicted latency can be read from any sweep.

By default a sweep walks the specification's 47 crop grids (workloads/sweep-grids.yaml) with the
image-token count on the x axis; `vary` sweeps other knobs instead (prefill length, K, B, heads).

Sources are small objects with `name`, `label` and `evaluate(request) -> StageEval`; the
analytic ones wrap roofsim.workloads.deepseek_ocr, the reference wraps roofsim.reference.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .errors import UserError
from .records import RecordTable, StageCost
from .sources import CAPTURED, SOURCE_LABELS, AnalyticSource, StageEval, WorkloadSource
from .stages import TTFT_STAGES

SWEEP_KINDS: Mapping[str, tuple[str, ...]] = {
    "vision": ("vision",),
    "decode": ("decode",),
    "vision-prefill": TTFT_STAGES,
}
# Sources in the order tables and plots show them.
# Knobs `--vary` accepts: name -> what it changes.
VARY_KNOBS: Mapping[str, str] = {
    "prefill-tokens": "prefill context length S_prefill (image tokens + prompt tokens)",
    "prompt-tokens": "text prompt tokens (added to the image tokens)",
    "decode-tokens": "decode steps K",
    "batch": "batch size B",
    "heads": "decoder attention heads (and KV heads; hidden size kept)",
    "kv-heads": "decoder KV heads (grouped-query attention; query heads kept)",
}
# Knobs that change the request, and the Request field they set.
_REQUEST_FIELDS = {"prompt-tokens": "prompt_tokens", "decode-tokens": "decode_tokens",
                   "batch": "batch"}


def default_sources(reference: bool = True, *, accounting: str = "model",
                    lm_head: str = "last") -> tuple[list, str]:
    """(sources, note): analytic normal + flash, and the reference when capture is available;
    the note says why the reference is missing ("" when present)."""
    sources: list = [AnalyticSource("normal", lm_head, accounting),
                     AnalyticSource("flash", lm_head, accounting)]
    if not reference:
        return sources, "reference not requested (--no-reference)"
    ref, note = reference_source()
    if ref is not None:
        sources.append(ref)
    return sources, note


def reference_source(use_cache: bool = True):
    """(source, "") for the captured reference implementation, or (None, why not)."""
    try:
        from .reference.source import ReferenceSource
        return ReferenceSource(use_cache=use_cache), ""
    except (ImportError, UserError) as err:      # torch / transformers missing or too old
        return None, f"reference unavailable: {err}"


# ---- points --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepPoint:
    """One input shape: the request, its crop grid and what was varied to reach it."""

    label: str                         # "2x3", or "batch=4" for a knob sweep
    request: object                    # roofsim.workloads.deepseek_ocr.Request
    image_tokens: int
    num_crops: int
    grid: tuple[int, int] | None
    knobs: Mapping[str, float] = field(default_factory=dict)
    cfg: object = None                 # a changed model config (heads knob); None = default

    @property
    def grid_text(self) -> str:
        return f"{self.grid[0]}x{self.grid[1]}" if self.grid else "global"


def grid_text(grid) -> str:
    return f"{grid[0]}x{grid[1]}" if grid else "global"


MAX_SWEEP_POINTS = 1000     # a sweep evaluates every point with every source: keep it bounded


def _range_values(lo: float, hi: float, step: float | None) -> list[float]:
    """LO:HI doubling (step None) or LO:HI:STEP, counted before it is built."""
    if step is None:
        n = int(math.floor(math.log2(hi / lo) + 1e-9)) + 1
    else:
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if n > MAX_SWEEP_POINTS:
        raise ValueError(f"{n:,} values, more than the {MAX_SWEEP_POINTS} points a sweep may have")
    return [lo * 2 ** i for i in range(n)] if step is None else [lo + i * step for i in range(n)]


def parse_vary(text: str) -> tuple[str, list[int]]:
    """'batch=1,2,4,8' -> ('batch', [1, 2, 4, 8]); 'prefill-tokens=512:32768' doubles from 512
    up to 32768; 'decode-tokens=100:1000:100' steps by 100. At most MAX_SWEEP_POINTS values."""
    name, eq, spec = text.partition("=")
    name = name.strip()
    if not eq or not spec.strip():
        raise UserError(f"--vary {text}: expected KNOB=VALUES (e.g. batch=1,2,4,8 or "
                        f"prefill-tokens=512:8192)")
    if name not in VARY_KNOBS:
        raise UserError(f"--vary {text}: unknown knob {name!r}; expected one of "
                        f"{', '.join(VARY_KNOBS)}")
    try:
        if ":" in spec:
            parts = [float(p) for p in spec.split(":")]
            if len(parts) not in (2, 3) or not all(map(math.isfinite, parts)) or \
                    parts[0] <= 0 or parts[1] < parts[0] or (len(parts) == 3 and parts[2] <= 0):
                raise ValueError("")
            values = _range_values(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
        else:
            values = [float(p) for p in spec.split(",") if p.strip()]
            if len(values) > MAX_SWEEP_POINTS:
                raise ValueError(f"{len(values):,} values, more than the {MAX_SWEEP_POINTS} "
                                 f"points a sweep may have")
    except ValueError as err:
        why = str(err) if str(err).endswith("may have") else \
            "expected a list (1,2,4) or a range (LO:HI doubling, LO:HI:STEP) of positive numbers"
        raise UserError(f"--vary {text}: {why}") from None
    if not values or any(not math.isfinite(v) or v <= 0 or v != int(v) for v in values):
        raise UserError(f"--vary {text}: values must be positive integers")
    return name, [int(v) for v in values]


def grid_points(grids: Iterable, *, prompt_tokens: int | None = None, decode_tokens: int = 100,
                batch: int = 1, cfg=None) -> list[SweepPoint]:
    """One point per crop grid (Gundam mode)."""
    from .workloads import deepseek_ocr as ds
    cfg = cfg if cfg is not None else ds.load_config()
    points = []
    for grid in grids:
        grid = ds.parse_grid(grid) if isinstance(grid, str) else tuple(grid)
        req = _request(ds, grid, prompt_tokens, decode_tokens, batch)
        points.append(SweepPoint(label=grid_text(grid), request=req,
                                 image_tokens=int(ds.image_tokens(cfg, "gundam", grid)),
                                 num_crops=grid[0] * grid[1], grid=grid))
    return points


def _request(ds, grid, prompt_tokens, decode_tokens, batch, mode="gundam"):
    kw = dict(grid=grid, mode=mode, decode_tokens=int(decode_tokens), batch=int(batch))
    if prompt_tokens is not None:
        kw["prompt_tokens"] = int(prompt_tokens)
    return ds.Request(**kw)


def _combinations(varies, image_tokens: int, what: str, **base):
    """(knobs, request fields) for every combination of the varied knobs around the base
    request fields (prompt_tokens, decode_tokens, batch); prefill-tokens sets the prompt to
    the prefill length minus the image tokens (`what` names the image in messages)."""
    names = [n for n, _ in varies]
    if len(set(names)) != len(names):
        raise UserError(f"--vary: each knob at most once, got {names}")
    total = math.prod(len(vals) for _, vals in varies)
    if total > MAX_SWEEP_POINTS:
        raise UserError(f"--vary: {total:,} combinations, more than the {MAX_SWEEP_POINTS} points "
                        f"a sweep may have")
    if "prefill-tokens" in names and "prompt-tokens" in names:
        raise UserError("--vary: prefill-tokens and prompt-tokens both set the prompt; use one")
    for combo in itertools.product(*[vals for _, vals in varies]):
        knobs = dict(zip(names, combo))
        fields = dict(base)
        for k, v in knobs.items():
            if k in _REQUEST_FIELDS:
                fields[_REQUEST_FIELDS[k]] = v
        if "prefill-tokens" in knobs:
            fields["prompt_tokens"] = knobs["prefill-tokens"] - image_tokens
            if fields["prompt_tokens"] < 1:
                raise UserError(f"--vary prefill-tokens={knobs['prefill-tokens']}: {what} alone "
                                f"has {image_tokens} image tokens; choose prefill lengths above "
                                f"{image_tokens}")
        yield knobs, fields


def vary_points(varies: Sequence[tuple[str, list[int]]], *, grid=None, prompt_tokens=None,
                decode_tokens: int = 100, batch: int = 1, cfg=None) -> list[SweepPoint]:
    """The cartesian product of the varied knobs around one base request (one crop grid)."""
    from .workloads import deepseek_ocr as ds
    cfg = cfg if cfg is not None else ds.load_config()
    grid = ds.parse_grid(grid) if isinstance(grid, str) else (tuple(grid) if grid else None)
    img = int(ds.image_tokens(cfg, "gundam", grid))
    points = []
    for knobs, fields in _combinations(varies, img, f"the crop grid {grid_text(grid)}",
                                       prompt_tokens=prompt_tokens,
                                       decode_tokens=decode_tokens, batch=batch):
        pcfg = None
        if "heads" in knobs:
            pcfg = with_heads(cfg, knobs["heads"])
        if "kv-heads" in knobs:
            pcfg = with_kv_heads(pcfg or cfg, knobs["kv-heads"])
        req = _request(ds, grid, fields["prompt_tokens"], fields["decode_tokens"], fields["batch"])
        label = ", ".join(f"{k}={v}" for k, v in knobs.items())
        points.append(SweepPoint(label=label, request=req, image_tokens=img,
                                 num_crops=(grid[0] * grid[1]) if grid else 0, grid=grid,
                                 knobs=knobs, cfg=pcfg))
    return points


# Knobs a transformers model's sweep takes (its dimensions are its config's).
MODEL_KNOBS = ("prefill-tokens", "prompt-tokens", "decode-tokens", "batch")


def model_points(varies: Sequence[tuple[str, list[int]]], workload, *, prompt_tokens: int,
                 decode_tokens: int = 100, batch: int = 1, image=None) -> list[SweepPoint]:
    """The cartesian product of the varied knobs around one request of a workload (a
    transformers model); prefill-tokens counts image tokens too, as for DeepSeek-OCR."""
    from .workloads import Request
    names = [n for n, _ in varies]
    bad = [n for n in names if n not in MODEL_KNOBS]
    if bad:
        raise UserError(f"--vary {bad[0]}: {workload.name} takes {', '.join(MODEL_KNOBS)} "
                        f"(its dimensions are its config's)")
    img = workload.image_tokens(Request(image=image)) if image is not None else 0
    points = []
    for knobs, fields in _combinations(varies, img, "the image", prompt_tokens=prompt_tokens,
                                       decode_tokens=decode_tokens, batch=batch):
        req = Request(image=image, **{k: int(v) for k, v in fields.items()})
        points.append(SweepPoint(label=", ".join(f"{k}={v}" for k, v in knobs.items()),
                                 request=req, image_tokens=img, num_crops=0, grid=None,
                                 knobs=knobs))
    return points


def with_heads(cfg, heads: int):
    """The config with `heads` decoder attention heads, hidden size kept: head_dim becomes
    hidden / heads, KV heads keep their ratio to heads (MHA stays MHA), RoPE keeps its share of
    the head dimension."""
    dec = cfg.decoder
    if dec.hidden % heads:
        raise UserError(f"--vary heads={heads}: the decoder hidden size {dec.hidden} is not a "
                        f"multiple of {heads}")
    if (heads * dec.kv_heads) % dec.heads:
        raise UserError(f"--vary heads={heads}: cannot keep the ratio of {dec.kv_heads} KV heads "
                        f"to {dec.heads} heads")
    head_dim = dec.hidden // heads
    rope = max(2, (dec.rope_dim * head_dim // dec.head_dim) // 2 * 2)
    new = dataclasses.replace(dec, heads=heads, kv_heads=heads * dec.kv_heads // dec.heads,
                              head_dim=head_dim, rope_dim=rope)
    return dataclasses.replace(cfg, decoder=new)


def with_kv_heads(cfg, kv_heads: int):
    """The config with `kv_heads` KV heads (grouped-query attention), query heads kept."""
    dec = cfg.decoder
    if kv_heads > dec.heads or dec.heads % kv_heads:
        raise UserError(f"--vary kv-heads={kv_heads}: must divide the {dec.heads} attention "
                        f"heads")
    return dataclasses.replace(cfg, decoder=dataclasses.replace(dec, kv_heads=kv_heads))


# ---- workload profiles ---------------------------------------------------------------------

PROFILES_FILE = "profiles.yaml"
_PROFILE_FIELDS = {"name": str, "description": str, "width": int, "height": int, "mode": str,
                   "max_crops": int, "prompt": str, "prompt_tokens": int, "decode_tokens": int,
                   "batch": int}
_PROFILE_REQUIRED = ("name", "width", "height", "mode", "prompt_tokens", "decode_tokens")


@dataclass(frozen=True)
class Profile:
    """A named OCR workload (workloads/profiles.yaml)."""

    name: str
    width: int
    height: int
    mode: str
    prompt_tokens: int
    decode_tokens: int
    batch: int = 1
    max_crops: int | None = None
    description: str = ""
    prompt: str = ""


def load_profiles(path=None) -> list[Profile]:
    """The named workload profiles (default workloads/profiles.yaml), validated."""
    from .data import data_dir
    from .io import read_yaml
    p = Path(path) if path is not None else data_dir("workloads") / PROFILES_FILE
    raw = read_yaml(p, expected="a workload profiles YAML file")
    if not isinstance(raw, dict) or not isinstance(raw.get("profiles"), list) or not raw["profiles"]:
        raise UserError(f"{p}: expected a mapping with a non-empty list 'profiles'")
    out, names = [], set()
    for n, entry in enumerate(raw["profiles"]):
        where = f"{p}: profiles[{n}]"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: expected a mapping of fields")
        unknown = sorted(set(entry) - set(_PROFILE_FIELDS))
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; expected "
                            f"{', '.join(_PROFILE_FIELDS)}")
        for f in _PROFILE_REQUIRED:
            if f not in entry:
                raise UserError(f"{where}: missing field {f!r}")
        for f, typ in _PROFILE_FIELDS.items():
            v = entry.get(f)
            if v is None:
                continue
            if typ is int and (isinstance(v, bool) or not isinstance(v, int) or
                               v < (0 if f == "prompt_tokens" else 1)):
                raise UserError(f"{where}.{f}: expected a positive integer, got {v!r}")
            if typ is str and not isinstance(v, str):
                raise UserError(f"{where}.{f}: expected text, got {v!r}")
        if entry["name"] in names:
            raise UserError(f"{where}.name: {entry['name']!r} appears twice")
        names.add(entry["name"])
        out.append(Profile(**entry))
    return out


def profile_points(profiles: Sequence[Profile], cfg=None) -> list[SweepPoint]:
    """One point per profile: its crop grid chosen as DeepSeek-OCR's preprocessor would."""
    from .workloads import deepseek_ocr as ds
    cfg = cfg if cfg is not None else ds.load_config()
    points = []
    for prof in profiles:
        grid = None
        if prof.mode == "gundam":
            grid = ds.choose_grid(prof.width, prof.height, cfg.views.min_crops,
                                  prof.max_crops or cfg.views.max_crops, cfg.views.crop_size)
        req = ds.Request(grid=grid, mode=prof.mode, prompt_tokens=prof.prompt_tokens,
                         decode_tokens=prof.decode_tokens, batch=prof.batch)
        crops = req.crops
        points.append(SweepPoint(label=prof.name, request=req,
                                 image_tokens=int(ds.views(cfg, req).image_tokens),
                                 num_crops=crops[0] * crops[1],
                                 grid=grid if grid and grid != (1, 1) else None))
    return points


# ---- running -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SweepResult:
    """Costs per point and source; `costs[source][i]` is the i-th point's {stage: StageCost}
    (None where the source failed for that point, with the reason in `notes`)."""

    kind: str
    points: tuple[SweepPoint, ...]
    sources: tuple[str, ...]
    costs: Mapping[str, tuple]
    components: Mapping[str, tuple]          # source -> per point {component: FLOPs}
    predictions: Mapping[str, tuple]         # source -> per point LatencyPrediction (or None)
    x_key: str = "image_tokens"
    notes: Mapping[str, str] = field(default_factory=dict)
    hardware: str = ""

    def stage_cost(self, source: str, i: int) -> StageCost | None:
        """The sweep's stage cost (vision + prefill summed for vision-prefill)."""
        c = self.costs[source][i]
        if c is None:
            return None
        stages = [s for s in SWEEP_KINDS[self.kind] if s in c]   # a text model has no vision
        if not stages:
            return None
        total = c[stages[0]]
        for s in stages[1:]:
            total = total + c[s]
        return total

    def x(self, i: int) -> float:
        p = self.points[i]
        return float(p.image_tokens if self.x_key == "image_tokens" else p.knobs[self.x_key])

    @property
    def x_label(self) -> str:
        if self.x_key == "image_tokens":
            return "Image tokens (global + crops)"
        return {"prefill-tokens": "Prefill context length S_prefill (tokens)",
                "prompt-tokens": "Prompt tokens", "decode-tokens": "Decode steps K",
                "batch": "Batch size B", "heads": "Decoder attention heads",
                "kv-heads": "Decoder KV heads (query heads kept)"}[self.x_key]

    def with_kind(self, kind: str) -> "SweepResult":
        """The same evaluations reported for another stage (every point holds all stages)."""
        if kind not in SWEEP_KINDS:
            raise UserError(f"unknown sweep {kind!r}; expected one of {', '.join(SWEEP_KINDS)}")
        return dataclasses.replace(self, kind=kind)

    def available(self, source: str) -> bool:
        return source in self.costs and any(c is not None for c in self.costs[source])


def components_of(ev: StageEval) -> dict[str, float]:
    """FLOPs per logical component: vision, decoder (prefill without LM head), LM head, and the
    decode stage's decoder / LM head split."""
    def lm_head_flops(table: RecordTable) -> float:
        if not len(table):
            return 0.0
        mask = _is_lm_head(table)
        sub = table.select(mask)
        return sub.total("flops_tensor") + sub.total("flops_cuda")
    c = ev.costs
    out = {"vision": c["vision"].flops if "vision" in c else 0.0}
    for stage in ("prefill", "decode"):
        head = lm_head_flops(ev.records[stage]) if stage in ev.records else 0.0
        out[f"{stage}_lm_head"] = head
        out[f"{stage}_decoder"] = c[stage].flops - head
    return out


def _is_lm_head(table: RecordTable):
    """Records of the LM head: layer or name mentions lm_head (analytic: layer "lm_head";
    capture: the module path). Matched on the few distinct labels, not on every record."""
    import numpy as np
    mask = np.zeros(len(table), dtype=bool)
    for col in (table.layer, table.name):
        for label in set(col.tolist()):
            if "lm_head" in str(label).lower():
                mask |= col == label
    return mask


def run_sweep(kind: str, points: Sequence[SweepPoint], sources: Sequence, *, cfg=None,
              hardware=None, profile=None, notes: Mapping[str, str] | None = None,
              x_key: str = "image_tokens", on_point: Callable[[str, int], None] | None = None
              ) -> SweepResult:
    """Evaluate every point with every source; with `hardware`, also predict latency (engine).
    `cfg` is the model config (default: workloads/deepseek-ocr.yaml); a point's own config
    (the heads knob) replaces it for that point."""
    if kind not in SWEEP_KINDS:
        raise UserError(f"unknown sweep {kind!r}; expected one of {', '.join(SWEEP_KINDS)}")
    if cfg is None and not all(isinstance(s, WorkloadSource) for s in sources):
        from .workloads import deepseek_ocr as ds
        cfg = ds.load_config()
    from .objectives import predict_latency
    costs, comps, preds = {}, {}, {}
    notes = dict(notes or {})
    for src in sources:
        cs, cp, pr = [], [], []
        missed: dict[str, list[str]] = {}        # why -> labels of the points it covers
        for i, p in enumerate(points):
            try:
                ev = src.evaluate(p.request, p.cfg if p.cfg is not None else cfg)
            except UserError:
                raise
            except Exception as err:  # noqa: BLE001  (the reference may not cover a shape)
                if src.name not in ("reference", CAPTURED):
                    raise
                why = str(err) if type(err).__name__ == "Unsupported" else \
                    f"{type(err).__name__}: {err}"
                missed.setdefault(why, []).append(p.label)
                cs.append(None), cp.append(None), pr.append(None)
                if on_point:
                    on_point(src.name, i)
                continue
            cs.append(dict(ev.costs))
            cp.append(components_of(ev))
            pr.append(predict_latency(ev.records, hardware, p.request.decode_tokens, profile)
                      if hardware is not None else None)
            if on_point:
                on_point(src.name, i)
        costs[src.name], comps[src.name], preds[src.name] = tuple(cs), tuple(cp), tuple(pr)
        for why, labels in missed.items():
            where = labels[0] if len(labels) == 1 else \
                f"{len(labels)} of {len(points)} points ({labels[0]} to {labels[-1]})"
            note = f"{SOURCE_LABELS.get(src.name, src.name)} n/a at {where}: {why}"
            notes[src.name] = "; ".join(filter(None, [notes.get(src.name, ""), note]))
        for extra in getattr(src, "notes", ()):
            notes[src.name] = "; ".join(filter(None, [notes.get(src.name, ""), extra]))
    return SweepResult(kind=kind, points=tuple(points), sources=tuple(s.name for s in sources),
                       costs=costs, components=comps, predictions=preds, x_key=x_key,
                       notes=notes, hardware=getattr(hardware, "id", "") if hardware else "")


# ---- output --------------------------------------------------------------------------------

COST_COLUMNS = ("flops_tensor", "flops_cuda", "flops", "io_bytes", "activation_io_bytes",
                "arithmetic_intensity", "activation_peak_bytes", "kv_cache_bytes", "weight_bytes")


def rows(result: SweepResult) -> list[dict]:
    """One row per point and source (long format, SI units); sources that could not be
    evaluated appear with empty cost cells."""
    out = []
    for i, p in enumerate(result.points):
        for src in result.sources:
            c = result.stage_cost(src, i)
            row = {"sweep": result.kind, "source": src, "label": p.label,
                   "num_crops": p.num_crops, "grid": grid_text(p.grid),
                   "image_tokens": p.image_tokens,
                   "prompt_tokens": getattr(p.request, "prompt_tokens", None),
                   "decode_tokens": getattr(p.request, "decode_tokens", None),
                   "batch": getattr(p.request, "batch", None),
                   "heads": p.knobs.get("heads", ""), "kv_heads": p.knobs.get("kv-heads", "")}
            for col in COST_COLUMNS:
                row[col] = getattr(c, col) if c is not None else None
            pred = result.predictions[src][i] if src in result.predictions else None
            if pred is not None:
                row.update(ttft_s=pred.ttft_s, tpot_s=pred.tpot_s, ttft_bound=pred.ttft_bound,
                           tpot_bound=pred.tpot_bound)
            out.append(row)
    return out


def to_json(result: SweepResult) -> dict:
    """Nested view: per point, per source, the sweep's stage cost and every stage's cost."""
    pts = []
    for i, p in enumerate(result.points):
        entry = {"label": p.label, "grid": list(p.grid) if p.grid else None,
                 "num_crops": p.num_crops, "image_tokens": p.image_tokens,
                 "knobs": dict(p.knobs), "request": _request_dict(p.request), "sources": {}}
        for src in result.sources:
            c = result.costs[src][i]
            if c is None:
                entry["sources"][src] = None
                continue
            pred = result.predictions[src][i]
            entry["sources"][src] = {
                "cost": result.stage_cost(src, i).as_dict(),
                "stages": {k: v.as_dict() for k, v in c.items()},
                "components_flops": result.components[src][i],
                "prediction": pred.as_dict() if pred is not None else None,
            }
        pts.append(entry)
    return {"sweep": result.kind, "x": result.x_key, "units": "SI (FLOP, byte, second)",
            "sources": list(result.sources), "notes": dict(result.notes),
            "hardware": result.hardware or None, "points": pts}


def _request_dict(req) -> dict:
    if dataclasses.is_dataclass(req):
        d = dataclasses.asdict(req)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
    return {k: getattr(req, k) for k in ("grid", "mode", "prompt_tokens", "decode_tokens", "batch")
            if hasattr(req, k)}


def write_outputs(result: SweepResult, out_dir: Path, stem: str | None = None) -> dict[str, Path]:
    """Write <stem>.csv and <stem>.json into out_dir (each atomically); returns their paths."""
    from .io import atomic_write_json, atomic_write_text, csv_text, output_error
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(out_dir, err, "sweep folder") from None
    stem = stem or SWEEP_DIRS.get(result.kind, result.kind)
    table = rows(result)
    cols: list[str] = []
    for r in table:
        cols += [k for k in r if k not in cols]
    csv_path = atomic_write_text(out_dir / f"{stem}.csv", csv_text(cols, table))
    json_path = atomic_write_json(out_dir / f"{stem}.json", to_json(result))
    return {"csv": csv_path, "json": json_path}


# Output folder (and file stem) per sweep kind, named as in the specification.
SWEEP_DIRS = {"vision": "vision_crops", "decode": "e2e_decode",
              "vision-prefill": "e2e_vision_prefill"}
