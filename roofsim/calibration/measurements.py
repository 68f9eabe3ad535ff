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
from .timing import CpuTimer, CudaTimer

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
            _upgrade_header(self.path)
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


def _upgrade_header(path: Path) -> None:
    """A file written before a column existed (e.g. `dims`): rewrite it with today's COLUMNS,
    the new columns empty, so that resumed rows line up with the header. Values are copied
    as text, unchanged; a column COLUMNS does not know is refused."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) == COLUMNS:
        return
    header = rows[0]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise UserError(f"{path}: column(s) {', '.join(unknown)} are not measurement columns; "
                        f"cannot resume into this file")
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for cells in rows[1:]:
            w.writerow({c: v for c, v in zip(header, cells)})
    os.replace(tmp, path)


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
        host = self.columns["timer"] == CpuTimer.name
        return self.ok & ((spread <= MAX_TRIAL_SPREAD) | host)

    def params(self) -> dict[str, np.ndarray]:
        return {p: self.columns[p] for p in SHAPE_PARAMS}


_FLOAT_COLUMNS = set(SHAPE_PARAMS) | set(TIME_FIELDS) | {"launches", "trials", "sets", "set_bytes"}


# Plausible ranges of the numbers a measurements file holds: a value outside is a broken file
# (or a broken run), named with its line and column rather than fitted.
SECONDS_RANGE = (1e-9, 100.0)          # one kernel launch
SIZE_RANGE = (0.0, 1e13)               # a shape parameter
COUNT_RANGE = (0.0, 1e12)              # launches, trials, sets, set_bytes
# The words a measurements file may hold (roofsim calibrate writes them): a row's status and the
# split its case id hashes to. Anything else is a broken or edited file (a row would be dropped
# from the fit, or fitted, without a word).
STATUSES = ("ok", "failed")
# How a row was timed: the timer's name (roofsim.calibration.timing writes cuda_events on a GPU,
# host_perf_counter on the host) and graph 1/0; an empty cell is a row that was not timed (a
# failure). The replay counts are whole numbers, at least one launch, trial and input set:
# launches 0 would be a time per launch of nothing.
TIMERS = (CudaTimer.name, CpuTimer.name)
GRAPH_FLAGS = ("0", "1")
WHOLE_COUNTS = {"launches": (1, "launches per replay"), "trials": (1, "timed replays"),
                "sets": (1, "input sets"), "set_bytes": (0, "bytes per input set")}
# A row's median replay time lies between its fastest and slowest (a float's last digits aside).
ORDER_TOLERANCE = 1e-9


def read_measurements(path: str | Path) -> Measurements:
    """The rows of a measurements CSV, every value checked: a value that is not a number, not
    finite, negative or absurd, an unknown kind or dtype, or a missing column is one line naming
    the file, the line and the column. A last line cut short by a killed run (no newline at the
    end) is left out, as the writer's resume does. A missing file is read from its .gz copy
    (roofsim.io.stored_file)."""
    from ..io import number_cell, parse_csv, read_text, stored_file
    from ..kernels._common import ELEMENT_BYTES
    from ..records import KINDS
    path = stored_file(path)
    if not path.is_file():
        raise UserError(f"{path}: measurements file not found")
    text = read_text(path, expected="a measurements CSV")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    table = parse_csv(text, str(path), required=("case_id", "kind", "dtype", "status",
                                                 "kernel_s"),
                      expected="a measurements CSV (roofsim calibrate)")
    ranges = {**{c: (SIZE_RANGE, "a size") for c in SHAPE_PARAMS},
              **{c: (SECONDS_RANGE, "seconds per launch") for c in TIME_FIELDS},
              **{c: (COUNT_RANGE, "a count") for c in ("launches", "trials", "sets",
                                                        "set_bytes")}}
    known_dtypes = set(ELEMENT_BYTES)
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    read = []
    for row in table.rows:
        if not row.get("case_id"):
            continue
        read.append(row)
        ok = row.get("status") == "ok"
        kind, dtype = row.get("kind"), row.get("dtype")
        if kind not in KINDS:
            raise UserError(f"{table.where(row, 'kind')} = {kind!r}: expected one of "
                            f"{', '.join(KINDS)}")
        if dtype not in known_dtypes:
            raise UserError(f"{table.where(row, 'dtype')} = {dtype!r}: expected one of "
                            f"{', '.join(sorted(known_dtypes))}")
        if ok and row.get("kernel_s") == "":
            raise UserError(f"{table.where(row, 'kernel_s')}: empty on a row with status ok "
                            f"(expected seconds per launch)")
        for column, allowed in (("status", STATUSES), ("split", (FIT, HOLDOUT)),
                                ("timer", TIMERS), ("graph", GRAPH_FLAGS)):
            cell = row.get(column, "")
            if cell not in allowed and (column == "status" or cell != ""):
                raise UserError(f"{table.where(row, column)} = {cell!r}: expected one of "
                                f"{', '.join(allowed)}")
        for c in COLUMNS:
            cell = row.get(c, "")
            if c in _FLOAT_COLUMNS:
                (low, high), what = ranges[c]
                if c in TIME_FIELDS and not ok:
                    value = np.nan       # a failed row's times are not used
                else:
                    value = number_cell(table, row, c, low, high, what, empty=np.nan)
                if c in SHAPE_PARAMS and np.isfinite(value) and value != math.floor(value):
                    raise UserError(f"{table.where(row, c)} = {cell}: expected a whole number "
                                    f"(a shape parameter)")
                if c in WHOLE_COUNTS and np.isfinite(value):
                    least, meaning = WHOLE_COUNTS[c]
                    if value != math.floor(value) or value < least:
                        raise UserError(f"{table.where(row, c)} = {cell!r}: expected a whole "
                                        f"number >= {least} ({meaning})")
                cols[c].append(value)
            else:
                cols[c].append(cell)
        if ok:
            lo, mid, hi = (cols[c][-1] for c in ("kernel_min_s", "kernel_s", "kernel_max_s"))
            for a, b, name, above in ((lo, mid, "kernel_min_s", "kernel_s"),
                                      (mid, hi, "kernel_s", "kernel_max_s")):
                if a > b * (1 + ORDER_TOLERANCE):      # NaN (an empty cell) compares False
                    raise UserError(f"{table.where(row, name)} = {a:g}: more than {above} {b:g} "
                                    f"(expected fastest <= median <= slowest replay)")
    arrays = {c: np.array(v, dtype=np.float64 if c in _FLOAT_COLUMNS else object)
              for c, v in cols.items()}
    _check_formulas(table, read, arrays)
    # A case measured twice (a resumed run that retried a failure): the last row wins.
    ids = arrays["case_id"]
    if len(set(ids)) != len(ids):
        last = {cid: i for i, cid in enumerate(ids)}
        keep = np.array(sorted(last.values()), dtype=int)
        arrays = {k: v[keep] for k, v in arrays.items()}
    return Measurements(arrays, str(path))


def _check_formulas(table, rows, arrays) -> None:
    """Every row's shape parameters as its kind's formula takes them (roofsim.kernels): the
    first row a formula refuses (a parameter its kind needs left empty, a cast not 0 or 1) is
    named by its line, before a fit would stop on it without naming the file."""
    from ..kernels import records_from_params
    params = {p: arrays[p] for p in SHAPE_PARAMS if not np.isnan(arrays[p]).all()}
    try:
        records_from_params(arrays["kind"], params, arrays["dtype"])
    except UserError:
        for i, row in enumerate(rows):
            try:
                records_from_params(arrays["kind"][i:i + 1],
                                    {p: v[i:i + 1] for p, v in params.items()},
                                    arrays["dtype"][i:i + 1])
            except UserError as err:
                raise UserError(f"{table.where(row)}: {err}") from None
        raise


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


def measurement_table(m: Measurements):
    """Records (work per launch from roofsim.kernels) for measured rows, in row order."""
    from ..kernels import records_from_params
    params = {p: m[p] for p in SHAPE_PARAMS if not np.isnan(m[p]).all()}
    return records_from_params(m["kind"], params, m["dtype"], name=m["case_id"])
