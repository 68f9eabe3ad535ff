"""Kernel suites (kernels/*.yaml): which shapes calibration times.

A suite file:

    name: gemm                       # defaults to the file stem
    dtype: bfloat16                  # default dtype of every entry (torch name)
    limits: {max_bytes: 4.0e9, max_flops: 2.0e13}   # optional, per launch, every entry
    entries:
      - kind: gemm
        grid: {m: [1, 2, 4], n: [1280], k: [1280]}         # cartesian product
      - kind: linear
        grid:                                                # a list of mappings varies
          m: [1, 2]                                          # several parameters together
          layer: [{n: 1280, k: 1280}, {n: 6848, k: 1280}]    # (the key is only a label)
      - kind: linear
        list: [{m: 1, n: 1280, k: 1280, bias: 0}]           # explicit cases
      - kind: gemm
        dtype: [bfloat16, float16]                           # a list multiplies the entry
        random:                                              # a seeded spread
          count: 100
          seed: 7
          params: {m: [1, 16384], n: [64, 16384], k: [64, 16384]}   # log-uniform integers
          choice: {bias: [0, 1]}                             # uniform among values
          align: {params: [m, n, k], to: [1, 8, 64]}         # round up to a multiple of one of
          same: {seq_q: seq_kv}                              # copy one parameter to another
          sorted: [seq_q, seq_kv]                            # reorder drawn values ascending
        fixed: {batch: 1}                                    # added to every case of the entry
        round: 2                                             # timed after every round-1 case

Rounds order the timing: all round-1 cases (default) of every suite before any round-2 case, so
a run cut short by its time budget has the core shapes of every kind.

Limits use the kind's work formula (roofsim.kernels) so random draws stay inside what one launch
can do in a few milliseconds; a draw over a limit is redrawn (random) or dropped (grid, list).
Every case gets a stable id from its kind, dtype and parameters; the same shape listed twice
(in one suite or several) is timed once.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import UserError
from ..io import read_yaml
from ..hardware import canonical_dtype
from ..records import KINDS, SHAPE_PARAMS

DTYPES = ("bfloat16", "float16", "float32", "int64")   # int64: sort keys (MoE expert ids)
_ENTRY_KEYS = {"kind", "dtype", "grid", "list", "random", "fixed", "note", "round"}
_RANDOM_KEYS = {"count", "seed", "params", "choice", "align", "same", "sorted"}


@dataclass(frozen=True)
class Case:
    """One shape to time: kind, dtype and its shape parameters (ints), from a named suite."""

    kind: str
    dtype: str
    params: tuple[tuple[str, int], ...]   # sorted by SHAPE_PARAMS order
    suite: str = ""
    round: int = 1                        # timing order only; not part of the identity

    @property
    def case_id(self) -> str:
        shape = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.kind}|{self.dtype}|{shape}"

    def param_dict(self) -> dict[str, int]:
        return dict(self.params)

    @classmethod
    def make(cls, kind: str, dtype: str, params: Mapping[str, Any], suite: str = "",
             round: int = 1) -> "Case":
        order = {p: i for i, p in enumerate(SHAPE_PARAMS)}
        items = sorted(((str(k), int(v)) for k, v in params.items()), key=lambda kv: order[kv[0]])
        return cls(kind=kind, dtype=dtype, params=tuple(items), suite=suite, round=round)

    @classmethod
    def from_id(cls, case_id: str) -> "Case":
        """The case a case_id names ('kind|dtype|name=value,...'); ValueError where it does not
        parse as one (a parameter not in SHAPE_PARAMS included)."""
        kind, dtype, shape = str(case_id).split("|", 2)
        params = dict(kv.split("=", 1) for kv in shape.split(",") if kv)
        try:
            return cls.make(kind, dtype, {k: int(v) for k, v in params.items()})
        except KeyError as err:
            raise ValueError(f"{case_id}: unknown shape parameter {err}") from None

    def records(self):
        """This case's one record (roofsim.kernels.records_from_params)."""
        from ..kernels import records_from_params
        return records_from_params(self.kind, {k: np.array([float(v)]) for k, v in self.params},
                                   self.dtype)


def _fail(path, where: str, msg: str):
    raise UserError(f"{path}: {where}: {msg}")


def _check_params(path, where, params: Mapping[str, Any]):
    for k, v in params.items():
        if k not in SHAPE_PARAMS:
            _fail(path, where, f"unknown shape parameter {k!r}; expected one of {list(SHAPE_PARAMS)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != int(v):
            _fail(path, where, f"parameter {k!r} must be a non-negative integer, got {v!r}")


def _dtypes(path, where, value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        d = canonical_dtype(str(v))
        if d not in DTYPES:
            _fail(path, where, f"dtype {v!r} is not one of {list(DTYPES)}")
        out.append(d)
    return out


def _work(kind: str, params: list[dict], dtype: str) -> dict[str, np.ndarray]:
    """Per-launch work of many parameter dicts of one kind (roofsim.kernels formulas)."""
    from ..kernels import KIND_FORMULAS
    cols = {p: np.array([d.get(p, np.nan) for d in params], dtype=np.float64)
            for p in SHAPE_PARAMS if any(p in d for d in params)}
    return KIND_FORMULAS[kind](cols, dtype)


def _within(kind: str, params: list[dict], dtype: str, limits: Mapping[str, float]) -> np.ndarray:
    if not params:
        return np.zeros(0, dtype=bool)
    if not limits:
        return np.ones(len(params), dtype=bool)
    w = _work(kind, params, dtype)
    ok = np.ones(len(params), dtype=bool)
    if "max_bytes" in limits:
        ok &= (w["bytes_read"] + w["bytes_written"]) <= float(limits["max_bytes"])
    if "max_flops" in limits:
        ok &= (w["flops_tensor"] + w["flops_cuda"]) <= float(limits["max_flops"])
    return ok


MAX_RANDOM_COUNT = 100_000   # draws per random entry: more would take hours to time anyway


def _draw(path, where, spec: Mapping[str, Any], fixed: Mapping[str, Any], kind: str, dtype: str,
          limits: Mapping[str, float]) -> list[dict]:
    unknown = set(spec) - _RANDOM_KEYS
    if unknown:
        _fail(path, where, f"unknown key(s) {sorted(unknown)} in random; expected {sorted(_RANDOM_KEYS)}")
    count = spec.get("count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_RANDOM_COUNT:
        _fail(path, where, f"random.count = {count!r}: expected a whole number from 1 to "
                           f"{MAX_RANDOM_COUNT} (draws per entry)")
    rng = np.random.default_rng(int(spec.get("seed", 0)))
    ranges = spec.get("params", {}) or {}
    choices = spec.get("choice", {}) or {}
    align = spec.get("align", {}) or {}
    same = spec.get("same", {}) or {}
    ordered = spec.get("sorted", []) or []
    for name, r in ranges.items():
        if not (isinstance(r, list) and len(r) == 2 and 0 < r[0] <= r[1]):
            _fail(path, where, f"random.params.{name} must be [low, high] with 0 < low <= high")
    _check_params(path, where, {k: 1 for k in list(ranges) + list(choices) + list(same)
                                + list(ordered)})
    out: list[dict] = []
    for _attempt in range(50):
        if len(out) >= count:
            break
        batch = []
        for _ in range(2 * (count - len(out))):
            case = dict(fixed)
            for name, (lo, hi) in ranges.items():
                case[name] = int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
            for name, values in choices.items():
                case[name] = int(values[rng.integers(len(values))])
            if align:
                to = int(align["to"][rng.integers(len(align["to"]))])
                for name in align.get("params", []):
                    if name in case:
                        case[name] = max(to, int(math.ceil(case[name] / to) * to))
            for dst, src in same.items():
                case[dst] = case[src]
            if ordered:
                for name, v in zip(ordered, sorted(case[p] for p in ordered)):
                    case[name] = v
            batch.append(case)
        ok = _within(kind, batch, dtype, limits)
        out.extend(c for c, good in zip(batch, ok) if good)
    if len(out) < count:
        _fail(path, where, f"only {len(out)} of {count} random draws fit the limits {dict(limits)}")
    return out[:count]


def _grid(path, where, grid, fixed: Mapping[str, Any]) -> list[dict]:
    if not isinstance(grid, dict):
        _fail(path, where, "grid must be a mapping of parameter -> list of values")
    names = list(grid)
    values = [v if isinstance(v, list) else [v] for v in grid.values()]
    out = []
    for combo in itertools.product(*values):
        case = dict(fixed)
        for name, value in zip(names, combo):
            if isinstance(value, dict):
                case.update(value)
            else:
                case[name] = value
        out.append(case)
    return out


def load_suite(path: str | Path) -> list[Case]:
    """Cases of one suite file, in file order, duplicates removed."""
    path = Path(path)
    doc = read_yaml(path, expected="a kernel suite YAML file")
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise UserError(f"{path}: expected a mapping with a list 'entries'")
    name = str(doc.get("name", path.stem))
    default_dtype = doc.get("dtype", "bfloat16")
    limits = doc.get("limits", {}) or {}
    for key, value in limits.items():
        if key not in ("max_bytes", "max_flops"):
            _fail(path, f"limits.{key}", "unknown limit; expected max_bytes or max_flops")
        try:
            limits[key] = float(value)
        except (TypeError, ValueError):
            _fail(path, f"limits.{key}", f"expected a number, got {value!r}")
    cases: list[Case] = []
    for i, entry in enumerate(doc["entries"]):
        where = f"entries[{i}]"
        if not isinstance(entry, dict):
            _fail(path, where, "expected a mapping")
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            _fail(path, where, f"unknown key(s) {sorted(unknown)}; expected {sorted(_ENTRY_KEYS)}")
        kind = entry.get("kind")
        if kind not in KINDS:
            _fail(path, where, f"kind {kind!r} is not one of {list(KINDS)}")
        fixed = entry.get("fixed", {}) or {}
        _check_params(path, where, fixed)
        rnd = entry.get("round", 1)
        if not isinstance(rnd, int) or isinstance(rnd, bool) or rnd < 1:
            _fail(path, where, f"round must be a positive integer, got {rnd!r}")
        forms = [k for k in ("grid", "list", "random") if k in entry]
        if len(forms) != 1:
            _fail(path, where, "needs exactly one of 'grid', 'list', 'random'")
        for dtype in _dtypes(path, where, entry.get("dtype", default_dtype)):
            if "grid" in entry:
                drawn = _grid(path, where, entry["grid"], fixed)
            elif "list" in entry:
                drawn = [dict(fixed, **d) for d in entry["list"]]
            else:
                drawn = _draw(path, where, entry["random"], fixed, kind, dtype, limits)
            for d in drawn:
                _check_params(path, where, d)
            if "random" not in entry:
                ok = _within(kind, drawn, dtype, limits)
                drawn = [d for d, good in zip(drawn, ok) if good]
            cases.extend(Case.make(kind, dtype, d, suite=name, round=rnd) for d in drawn)
    return unique_cases(cases)


def unique_cases(cases: Iterable[Case]) -> list[Case]:
    seen, out = set(), []
    for c in cases:
        if c.case_id not in seen:
            seen.add(c.case_id)
            out.append(c)
    return out


def load_suites(paths: Iterable[str | Path]) -> list[Case]:
    """Cases of several suites, duplicates across suites timed once (first suite keeps it)."""
    cases: list[Case] = []
    for p in paths:
        cases.extend(load_suite(p))
    return unique_cases(cases)


def default_suite_paths() -> list[Path]:
    from ..data import data_dir
    return sorted(data_dir("kernels").glob("*.yaml"))


def interleave_by_kind(cases: list[Case]) -> list[Case]:
    """Rounds in order; within a round, round-robin over (kind, dtype) groups, each in its own
    order, so a run stopped early has measured some of every group rather than all of the
    first."""
    out = []
    for rnd in sorted({c.round for c in cases}):
        by_kind: dict[tuple[str, str], list[Case]] = {}
        for c in cases:
            if c.round == rnd:
                by_kind.setdefault((c.kind, c.dtype), []).append(c)
        queues = list(by_kind.values())
        for i in range(max((len(q) for q in queues), default=0)):
            out.extend(q[i] for q in queues if i < len(q))
    return out
