"""End-to-end measurements against predictions: the GPU's kernel time of whole stages (measured
with random weights, committed under calibration/<device>/e2e/) beside `roofsim.predict`'s.

- DeepSeek-OCR (benchmarks/measure_e2e.py): calibration/<device>/e2e/e2e.csv, one row per
  (crop grid, stage, batch); the decode row is one step with the prefill length cached. Files
  written before the batch column existed (and rows leaving it empty) are batch 1: `row_batch`.
- transformers models (benchmarks/measure_models.py): calibration/<device>/e2e/<model>/e2e.csv,
  one row per (stage, batch, prompt tokens or KV length).
These are test sets: nothing is ever fitted to them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .hardware import HardwareSpec
from .stages import PREFILL, STAGES, VISION

E2E_FILE = "e2e.csv"
E2E_STAGES = STAGES
# A decode step replayed as a CUDA graph over a StaticCache (measure_e2e.py and measure_models.py
# --graph): a wall-time row beside the stages' (roofsim.wall's graph mode predicts it).
DECODE_GRAPH = "decode_graph"
TARGET_ERROR = 0.15      # issues 7 and 12: predicted kernel time within 15% of measured


@dataclass(frozen=True)
class E2EComparison:
    """Predicted vs measured GPU kernel time of one stage of one case (decode: one step).
    case: the crop grid (DeepSeek-OCR at batch 1), 'RxC b=B' (DeepSeek-OCR at batch B > 1), or
    'b=B P=P' / 'b=B L=L' (a model's prefill / decode)."""

    case: str
    stage: str
    image_tokens: int
    predicted_s: float
    measured_s: float
    predicted_launches: float
    measured_kernels: int
    measured_wall_s: float
    model: str = "deepseek-ocr"
    batch: int = 1

    @property
    def grid(self) -> str:
        return self.case

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return self.predicted_s / self.measured_s - 1.0

    def as_dict(self) -> dict:
        return {"model": self.model, "case": self.case, "grid": self.case, "stage": self.stage,
                "image_tokens": self.image_tokens, "predicted_s": self.predicted_s,
                "measured_s": self.measured_s, "error": self.error,
                "predicted_launches": self.predicted_launches,
                "measured_kernels": self.measured_kernels,
                "measured_wall_s": self.measured_wall_s, "batch": self.batch}


def _read(folder, stages, producer: str) -> tuple[list[dict], dict]:
    folder = Path(folder)
    path = folder / E2E_FILE
    if not path.is_file():
        raise UserError(f"{path}: no end-to-end measurements ({producer} writes it)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    prov_path = folder / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    for i, r in enumerate(rows):
        if r.get("stage") not in stages:
            raise UserError(f"{path}: row {i + 2}: stage {r.get('stage')!r}, expected one of "
                            f"{', '.join(stages)}")
    return rows, prov


def row_batch(row: dict) -> int:
    """The batch of a measured row: its `batch` column, 1 where it is missing or empty (files
    written before the column existed)."""
    return int(row.get("batch") or 1)


def ocr_case_label(grid: str, batch: int) -> str:
    """DeepSeek-OCR's case: the grid at batch 1 (the label of every earlier comparison),
    'RxC b=B' at batch B > 1."""
    return grid if batch == 1 else f"{grid} b={batch}"


def load_e2e(folder) -> tuple[list[dict], dict]:
    """(rows of e2e.csv, provenance.json) of DeepSeek-OCR's end-to-end measurement folder: the
    stages' rows and, measured with --graph, DECODE_GRAPH rows (wall time of a graph replay)."""
    return _read(folder, E2E_STAGES + (DECODE_GRAPH,), "benchmarks/measure_e2e.py")


# A measurement folder may hold process2/, process3/ ...: the same cases measured in other
# processes one after the other (benchmarks/gpu_transfer.sh E2E_PROCS, MODELS_PROCS). An eager
# wall time varies between processes on the GPU machine (calibration/h200/host/noise), so the
# host model is fitted on, and also scored against, the median over the processes.
PROCESS_GLOB = "process*"


# The host probe a row carries (roofsim.calibration.hostprobe), best first: the median of the
# readings right before each timed repeat (benchmarks/measure_e2e.py since session 14: the speed
# the repeats ran at), else the one reading before the case.
PROBE_COLUMNS = ("host_probe_repeats_s", "host_probe_s")


def row_probe(row: dict) -> float | None:
    """The host probe (seconds per probed dispatch) of an e2e.csv row, PROBE_COLUMNS' first
    present; None where the row has none."""
    for col in PROBE_COLUMNS:
        v = row.get(col, "")
        if v not in ("", None):
            return float(v)
    return None


def row_wall(row: dict) -> float:
    """An e2e.csv row's measured wall: the median over its repeats."""
    return float(row["wall_median_s"])


def process_walls(folder, key, model: str | None = None, value=row_wall) -> dict:
    """{key(row): [wall_median_s in each other process]} over a set's process*/ folders (for a
    transformers model, `model`'s folder in each); key maps an e2e.csv row to its case. The
    set's own e2e.csv (the first process) is the caller's. `value`: another number of each row
    instead (row_probe: the host's speed in each process); rows where it is None are left
    out."""
    folder = Path(folder)
    set_dir = folder if model is None else folder.parent
    out: dict = {}
    for d in sorted(set_dir.glob(PROCESS_GLOB)):
        path = (d if model is None else d / model) / E2E_FILE
        if not path.is_file():
            continue
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                v = value(r) if r.get("status", "ok") == "ok" else None
                if v is not None:
                    out.setdefault(key(r), []).append(v)
    return out


def compare_e2e(rows, hardware: HardwareSpec, profile=None, implementation: str = "reference",
                use_cache: bool = True, grids=None) -> list[E2EComparison]:
    """Predicted vs measured kernel time for every measured (grid, stage, batch) row with status
    ok. The decode row is one step with the prefill length cached: decode_tokens = 1; at batch
    B, a prefill of B sequences and a decode step over B sequences (`predict(..., batch=B)`)."""
    from .predict import predict
    by_case: dict[tuple[str, int], dict[str, dict]] = {}
    for r in rows:
        if r.get("status", "ok") == "ok" and (grids is None or r["grid"] in grids):
            by_case.setdefault((r["grid"], row_batch(r)), {})[r["stage"]] = r
    out = []
    for (grid, batch), stages in by_case.items():
        prompt = int(next(iter(stages.values()))["prompt_tokens"])
        p = predict(grid, prompt, 1, hardware=hardware, profile=profile,
                    implementation=implementation, use_cache=use_cache, batch=batch)
        for stage in E2E_STAGES:
            if stage not in stages:
                continue
            r = stages[stage]
            t = p.stages[stage]
            out.append(E2EComparison(
                case=ocr_case_label(grid, batch), stage=stage,
                image_tokens=int(r["image_tokens"]), predicted_s=t.kernel_s,
                measured_s=float(r["kernel_s"]), predicted_launches=t.launches,
                measured_kernels=int(r["kernel_count"]),
                measured_wall_s=float(r["wall_median_s"]), batch=batch))
    return out


# ---- transformers models ------------------------------------------------------------------

def model_folders(e2e_dir) -> list[Path]:
    """The model folders (one e2e.csv each) under a device's e2e/ folder."""
    root = Path(e2e_dir)
    return sorted(p.parent for p in root.glob(f"*/{E2E_FILE}"))


def load_model_e2e(folder) -> tuple[list[dict], dict]:
    """(rows, provenance) of one model's measurements (benchmarks/measure_models.py); rows of
    other stages (decode_graph: CUDA-graph wall time only) are left out."""
    path = Path(folder) / E2E_FILE
    if not path.is_file():
        raise UserError(f"{path}: no end-to-end measurements "
                        "(benchmarks/measure_models.py writes it)")
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("stage") in STAGES]
    prov_path = Path(folder) / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    return rows, prov


def case_label(stage: str, batch: int, tokens: int, kv_len: int, image: str = "") -> str:
    if stage == VISION:
        return f"image {image}"
    if stage == PREFILL:
        return f"b={batch} P={tokens}"
    return f"b={batch} L={kv_len}"


def measured_model(folder, prov: dict):
    """The model a measurement folder holds: the config its provenance carries (with the layer
    count it ran, for --tiny runs), else the shipped model of the folder's name."""
    from .workloads.hf.configs import ModelConfig, model_config
    folder = Path(folder)
    raw = prov.get("config")
    if isinstance(raw, dict) and "model_type" in raw:
        layers = (prov.get("settings") or {}).get("layers")
        return ModelConfig(name=prov.get("model", folder.name),
                           source=str(folder / "provenance.json"), raw=raw, layers=layers)
    return model_config(folder.name)


def compare_model_e2e(model, rows, hardware: HardwareSpec, profile=None,
                      use_cache: bool = True) -> list[E2EComparison]:
    """Predicted vs measured kernel time of every ok row of one model (a name, config path or
    ModelConfig): prefill rows with
    prompt tokens = P, decode rows as one step with L positions cached (a prefill of L
    tokens, decode_tokens = 1), vision rows with the measured image."""
    from .predict import predict_request
    from .workloads import Request, workload
    wl = workload(model)
    out = []
    model = wl.name
    for r in rows:
        if r.get("status", "ok") != "ok" or not float(r.get("kernel_s") or 0) > 0:
            continue                       # failed, or no GPU kernel time (a CPU check run)
        stage, b = r["stage"], int(r["batch"])
        tokens, kv = int(r["tokens"] or 0), int(r["kv_len"] or 0)
        image = tuple(int(v) for v in r["image"].split("x"))[::-1] if r.get("image") else None
        if stage == VISION:
            req = Request(prompt_tokens=1, decode_tokens=0, batch=b, image=image)
        elif stage == PREFILL:
            req = Request(prompt_tokens=tokens, decode_tokens=0, batch=b)
        else:
            req = Request(prompt_tokens=kv, decode_tokens=1, batch=b)
        p = predict_request(wl, req, hardware=hardware, profile=profile, use_cache=use_cache)
        t = p.stages[stage]
        out.append(E2EComparison(
            case=case_label(stage, b, tokens, kv, r.get("image", "")), stage=stage,
            image_tokens=p.image_tokens, predicted_s=t.kernel_s, measured_s=float(r["kernel_s"]),
            predicted_launches=t.launches, measured_kernels=int(r["kernel_count"]),
            measured_wall_s=float(r["wall_median_s"]), model=model, batch=b))
    return out
