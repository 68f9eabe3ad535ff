"""The measurements CSV: one row per timed case, written (and flushed) as soon as it is measured.

Columns: case identity (case_id, suite, kind, dtype, the SHAPE_PARAMS), the hold-out split,
the outcome (status ok/failed, error), the times in seconds (kernel_s = median per launch on a
cold L2 from graph replays; kernel_min_s / kernel_max_s over the trials; eager_s = back-to-back
eager launches, launch overhead included), how it was timed (launches per replay, trials, input
sets, bytes per input set, graph 1/0, timer), and the device state beside it (NVML).

The split is a pure function of the case id and SPLIT_SEED, so it is the same on every machine,
on resume and in tests; it is also written into the file so a reader needs no code to repeat it.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ..errors import UserError
from ..records import SHAPE_PARAMS
from .nvml import STATE_FIELDS

# A row whose timed replays disagree by more than this fraction of their median was disturbed
# while it was timed (seen on the H100 run: host stalls left the GPU idle between graph
# launches, inflating short replays several-fold). Such rows stay in the file, marked by this
# test, and are left out of fitting and of accuracy figures.
MAX_TRIAL_SPREAD = 0.25

SPLIT_SEED = 20250611
HOLDOUT_FRACTION = 0.30
FIT, HOLDOUT = "fit", "holdout"

TIME_FIELDS = ("kernel_s", "kernel_min_s", "kernel_max_s", "eager_s")
METHOD_FIELDS = ("launches", "trials", "sets", "set_bytes", "graph", "timer")
COLUMNS: tuple[str, ...] = (
    ("case_id", "suite", "kind", "dtype") + SHAPE_PARAMS + ("split", "status", "error")
    + TIME_FIELDS + METHOD_FIELDS + STATE_FIELDS + ("timestamp",)
)


SAMPLE_SEED = 20261201   # subsets of a suite (`roofsim calibrate --sample`), apart from the split


def _uniform(case_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by the case id and the seed (the same on every machine)."""
    digest = hashlib.sha256(f"{seed}:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(case_id: str, seed: int = SPLIT_SEED, fraction: float = HOLDOUT_FRACTION) -> str:
    """'holdout' for a fixed pseudo-random `fraction` of case ids, 'fit' for the rest."""
    return HOLDOUT if _uniform(case_id, seed) < fraction else FIT


def sampled(case_id: str, fraction: float, seed: int = SAMPLE_SEED) -> bool:
    """Whether a case belongs to the fixed pseudo-random `fraction` of a suite."""
    return _uniform(case_id, seed) < fraction


class MeasurementWriter:
    """Appends rows to the CSV, one flushed write per row, so a killed run keeps every row it
    finished (at worst the last line is cut, and the reader drops it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        if not new:
            _repair_tail(self.path)
        self._f = open(self.path, "a", newline="")
        self._w = csv.DictWriter(self._f, fieldnames=COLUMNS, extrasaction="raise")
        if new:
            self._w.writeheader()
            self._f.flush()

    def write(self, row: Mapping[str, object]) -> None:
        self._w.writerow({c: _cell(row.get(c, "")) for c in COLUMNS})
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _cell(v):
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        return repr(v)
    return v


def _repair_tail(path: Path) -> None:
    """Cut a final line left unfinished by a killed run (no newline at the end)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


@dataclass(frozen=True, eq=False)
class Measurements:
    """Rows of a measurements CSV as columns (numpy arrays); times and params as float (NaN
    where empty), everything else as str."""

    columns: Mapping[str, np.ndarray]
    path: str = ""

    def __len__(self) -> int:
        return len(self.columns["case_id"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def select(self, mask) -> "Measurements":
        return Measurements({k: v[mask] for k, v in self.columns.items()}, self.path)

    @property
    def ok(self) -> np.ndarray:
        t = self.columns["kernel_s"]
        return (self.columns["status"] == "ok") & np.isfinite(t) & (t > 0)

    @property
    def spread(self) -> np.ndarray:
        """(slowest - fastest replay) / median, per row (NaN where not timed)."""
        return (self.columns["kernel_max_s"] - self.columns["kernel_min_s"]) / \
            self.columns["kernel_s"]

    @property
    def stable(self) -> np.ndarray:
        """Timed, and its replays agree within MAX_TRIAL_SPREAD: the rows fit on and scored.
        Host-timer rows (CPU mode, which only exercises the harness) are not held to it."""
        spread = np.nan_to_num(self.spread, nan=0.0)
        host = self.columns["timer"] == "host_perf_counter"
        return self.ok & ((spread <= MAX_TRIAL_SPREAD) | host)

    def params(self) -> dict[str, np.ndarray]:
        return {p: self.columns[p] for p in SHAPE_PARAMS}


_FLOAT_COLUMNS = set(SHAPE_PARAMS) | set(TIME_FIELDS) | {"launches", "trials", "sets", "set_bytes"}


def read_measurements(path: str | Path) -> Measurements:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: measurements file not found")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"case_id", "kind", "dtype", "status", "kernel_s"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{path}: not a measurements CSV (missing columns {sorted(missing)})")
        rows = [r for r in reader if r.get("case_id") and None not in r and
                all(v is not None for v in r.values())]
    cols = {}
    for c in COLUMNS:
        raw = [r.get(c, "") or "" for r in rows]
        if c in _FLOAT_COLUMNS:
            cols[c] = np.array([float(v) if v != "" else np.nan for v in raw], dtype=np.float64)
        else:
            cols[c] = np.array(raw, dtype=object)
    # A case measured twice (a resumed run that retried a failure): the last row wins.
    ids = cols["case_id"]
    if len(set(ids)) != len(ids):
        last = {cid: i for i, cid in enumerate(ids)}
        keep = np.array(sorted(last.values()), dtype=int)
        cols = {k: v[keep] for k, v in cols.items()}
    return Measurements(cols, str(path))


def measured_ids(path: str | Path, *, retry_failed: bool = False) -> set[str]:
    """Case ids already in the file (ok ones only when retry_failed)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return set()
    m = read_measurements(path)
    keep = m.ok if retry_failed else np.ones(len(m), dtype=bool)
    return set(m["case_id"][keep])


def concat_measurements(parts: Iterable[Measurements]) -> Measurements:
    parts = list(parts)
    return Measurements({c: np.concatenate([p.columns[c] for p in parts]) for c in COLUMNS})
