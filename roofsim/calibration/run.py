"""A calibration run: time a list of cases, one CSV row each, written as measured.

`run_cases` skips cases already in the CSV when resuming, records a failed case (out of memory,
an op that refuses the shape) as a row with status 'failed' and goes on, stops cleanly at a
time budget, and appends a run entry (device snapshot before and after, torch version, command,
counts, the shapes that failed) to provenance.json. A run killed from outside keeps every row it
wrote; `resume=True` continues it.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence, TextIO

from ..errors import UserError
from ..io import read_json, stored_file
from .measurements import (SPLIT_SEED, HOLDOUT_FRACTION, MeasurementWriter, measured_ids,
                           split_of)
from .nvml import Nvml
from .runners import runner_table
from .suites import Case

MEASUREMENTS_FILE = "measurements.csv"
PROVENANCE_FILE = "provenance.json"
PROFILE_FILE = "profile.json"
# Consecutive failures after which the device is taken to be broken (a sticky CUDA error).
MAX_CONSECUTIVE_FAILURES = 25


@dataclass
class RunReport:
    planned: int
    skipped: int
    measured: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    remaining: int = 0
    stopped: str = ""          # why the run ended before its last case ('' when it did not)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        s = (f"{self.measured} measured, {len(self.failed)} failed, {self.skipped} already in the "
             f"file, {self.remaining} not reached, {self.elapsed_s:.0f} s")
        if self.stopped:
            s += f"; stopped: {self.stopped} (--resume continues)"
        return s


class _Bar:
    """A progress bar on a terminal (one line redrawn); elsewhere (logs, the GPU machine) one
    status line every `every_s` seconds."""

    def __init__(self, total: int, stream: TextIO, every_s: float, width: int = 30):
        self.total, self.stream, self.every_s, self.width = max(total, 1), stream, every_s, width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.t0 = self.last = time.perf_counter()
        self.done = 0

    def step(self, note: str, failed: int) -> None:
        self.done += 1
        now = time.perf_counter()
        elapsed = now - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        if self.tty:
            filled = int(self.width * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'-' * (self.width - filled)}] {self.done}/"
                              f"{self.total} {elapsed:.0f}s eta {eta:.0f}s failed {failed} "
                              f"{note:<14}")
            self.stream.flush()
        elif now - self.last >= self.every_s:
            self.stream.write(f"calibrate: {self.done}/{self.total} cases, {elapsed:.0f} s, "
                              f"eta {eta:.0f} s, {failed} failed\n")
            self.stream.flush()
            self.last = now

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _error_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


def _git_commit() -> str:
    """The checkout's commit (+ '-dirty' with local changes), '' outside a git checkout."""
    import subprocess
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{head}{'-dirty' if dirty.strip() else ''}" if head else ""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def host_cpu() -> dict:
    """The host CPU that feeds the GPU (host time depends on it): model name, logical CPUs,
    current clock where /proc says so."""
    import os
    out = {"machine": platform.machine(), "logical_cpus": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and "model" not in out:
            out["model"] = value.strip()
        elif key == "cpu MHz" and "mhz" not in out:
            try:
                out["mhz"] = float(value)
            except ValueError:
                pass
    return out


def software_versions() -> dict:
    out = {"python": platform.python_version(), "host_cpu": host_cpu()}
    try:
        import torch
        out["torch"] = torch.__version__
        out["cuda"] = torch.version.cuda or ""
        if torch.cuda.is_available():
            out["cudnn"] = str(torch.backends.cudnn.version())
            out["device_torch"] = torch.cuda.get_device_name(0)
            props = torch.cuda.get_device_properties(0)
            out["sm_count"] = props.multi_processor_count
            out["l2_cache_bytes"] = int(getattr(props, "L2_cache_size", 0))
    except ImportError:
        out["torch"] = "not installed"
    return out


def run_cases(cases: Sequence[Case], out_dir: str | Path, *, timer, device: str,
              resume: bool = False, retry_failed: bool = False,
              time_budget_s: float | None = None, max_cases: int | None = None,
              command: str = "", stream: TextIO | None = None,
              log_every_s: float = 30.0, extra: dict | None = None) -> RunReport:
    """Time `cases` into out_dir/measurements.csv (see module doc). `max_cases` stops after
    that many newly timed cases (tests use it to cut a run short)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / MEASUREMENTS_FILE
    stored = stored_file(csv_path)
    if stored != csv_path:      # only the committed, compressed copy: never shadow it
        raise UserError(f"{stored} holds this folder's measurements (gzip-compressed); measure "
                        f"into another --out, or gunzip it first to --resume")
    if csv_path.exists() and csv_path.stat().st_size > 0 and not resume:
        raise UserError(f"{csv_path} exists; pass --resume to continue that run, or another --out")
    done = measured_ids(csv_path, retry_failed=retry_failed) if resume else set()
    todo = [c for c in cases if c.case_id not in done]
    report = RunReport(planned=len(cases), skipped=len(cases) - len(todo))
    stream = stream or sys.stderr
    runners = runner_table()
    missing = sorted({c.kind for c in todo} - set(runners))
    if missing:
        raise UserError(f"no torch runner for kind(s) {', '.join(missing)}")

    nvml = Nvml()
    from .timing import HARNESS_VERSION
    entry = {"started": _now(), "command": command, "device": device, "timer": timer.name,
             "harness_version": HARNESS_VERSION, "roofsim_commit": _git_commit(),
             "split_seed": SPLIT_SEED, "holdout_fraction": HOLDOUT_FRACTION,
             "software": software_versions(), "device_before": nvml.snapshot(),
             "suites": sorted({c.suite for c in cases}), **(extra or {})}
    # Written now and completed at the end, so a run killed midway still names its device.
    append_provenance(out / PROVENANCE_FILE, dict(entry, finished=None))
    t0 = time.perf_counter()
    consecutive = 0
    bar = _Bar(len(todo), stream, log_every_s)
    with MeasurementWriter(csv_path) as writer:
        for case in todo:
            elapsed = time.perf_counter() - t0
            if time_budget_s is not None and elapsed > time_budget_s:
                report.stopped = f"time budget of {time_budget_s:.0f} s reached"
                break
            if max_cases is not None and report.measured + len(report.failed) >= max_cases:
                report.stopped = f"max_cases={max_cases} reached"
                break
            if consecutive >= MAX_CONSECUTIVE_FAILURES:
                report.stopped = f"{consecutive} failures in a row (device in a bad state?)"
                break
            row = {"case_id": case.case_id, "suite": case.suite, "kind": case.kind,
                   "dtype": case.dtype, "split": split_of(case.case_id), **case.param_dict()}
            try:
                fn, make_inputs = runners[case.kind](case.param_dict(), case.dtype, device)
                result = timer.time(fn, make_inputs)
                del fn, make_inputs
                row.update(status="ok", **result.as_row())
                report.measured += 1
                consecutive = 0
            except Exception as err:  # one shape failing must not end the run
                msg = "out of memory" if timer.is_oom(err) else _error_line(err)
                row.update(status="failed", error=msg)
                report.failed.append((case.case_id, msg))
                consecutive += 1
            finally:
                timer.release()
            row.update(nvml.state(), timestamp=_now())
            writer.write(row)
            bar.step(case.kind, len(report.failed))
    bar.close()
    report.elapsed_s = time.perf_counter() - t0
    report.remaining = len(todo) - report.measured - len(report.failed)
    entry.update(finished=_now(), elapsed_s=round(report.elapsed_s, 1),
                 device_after=nvml.snapshot(), planned=report.planned, skipped=report.skipped,
                 measured=report.measured, remaining=report.remaining, stopped=report.stopped,
                 failed=[{"case_id": c, "error": e} for c, e in report.failed])
    append_provenance(out / PROVENANCE_FILE, entry, replace_last=True)
    return report


def append_provenance(path: Path, entry: dict, replace_last: bool = False) -> None:
    doc = {"runs": []}
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError:
            doc = {"runs": [], "unreadable_previous": path.read_text()[:2000]}
    runs = doc.setdefault("runs", [])
    if replace_last and runs and runs[-1].get("started") == entry.get("started"):
        runs[-1] = entry
    else:
        runs.append(entry)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    tmp.replace(path)


def provenance_runs(out: Path) -> list[dict]:
    """The runs a folder's provenance.json records (roofsim calibrate's {"runs": [...]}, or the
    one run measure_e2e.py / measure_models.py write), [] without the file. A file that is not
    JSON, or whose runs or their device fields are not what the harness writes, is one line
    naming it (a fit used to stop on it with a traceback)."""
    path = out / PROVENANCE_FILE
    if not path.is_file():
        return []
    doc = read_json(path, expected="a calibration run's provenance (roofsim calibrate)")
    if not isinstance(doc, dict):
        raise UserError(f"{path}: a JSON {type(doc).__name__}; expected an object with a list "
                        f"of runs (roofsim calibrate's provenance)")
    runs = doc["runs"] if "runs" in doc else [doc]
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise UserError(f"{path}: runs: expected a list of objects (roofsim calibrate's "
                        f"provenance)")
    for i, run in enumerate(runs):
        for key in ("device_before", "software", "sm_restriction"):
            if run.get(key) is not None and not isinstance(run[key], dict):
                raise UserError(f"{path}: runs[{i}].{key}: expected an object, got "
                                f"{run[key]!r:.40}")
        for key, name in (("device_before", "name"), ("software", "device_torch")):
            value = (run.get(key) or {}).get(name)
            if value is not None and not isinstance(value, str):
                raise UserError(f"{path}: runs[{i}].{key}.{name}: expected a device name, "
                                f"got {value!r:.40}")
        for name in ("probed_sms", "requested_sms"):
            value = (run.get("sm_restriction") or {}).get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise UserError(f"{path}: runs[{i}].sm_restriction.{name}: expected a whole "
                                f"number of SMs, got {value!r:.40}")
    return runs
