"""DeepSeek-OCR, the analytic workload: cost from formulas, per layer and per stage, as kernel
records the engine consumes.

    cfg = load_config()                                   # workloads/deepseek-ocr.yaml
    req = Request(grid=(2, 3), prompt_tokens=16, decode_tokens=100)
    tables = stage_records(cfg, req, attention="flash")   # {"vision", "prefill", "decode"}
    costs = stage_costs(cfg, req)                         # StageCost per stage
    layer_records(cfg, "Block")                           # one row of the spec's layer table
"""

from __future__ import annotations

from pathlib import Path

from ...data import data_dir
from ...errors import UserError
from ...io import read_yaml
from .attention import ATTENTION_VARIANTS
from .config import DeepseekOCRConfig, config_from_dict, load_config
from .layers import LAYER_NAMES, VERIFICATION_LAYERS, VerificationLayer, layer_cost, layer_records
from .params import parameter_counts, weight_bytes
from .stages import (ACCOUNTINGS, LM_HEAD_MODES, STAGES, Accounting, decode_contexts,
                     kv_cache_bytes_per_token, stage_costs, stage_records)
from .views import (MODES, Request, Views, choose_grid, image_tokens, parse_grid,
                    parse_image_size, views)

SWEEP_GRIDS_FILE = "sweep-grids.yaml"


def sweep_grids(path: str | Path | None = None) -> list[tuple[int, int]]:
    """The crop grids (rows, cols) of the specification's sweeps, in order
    (workloads/sweep-grids.yaml)."""
    p = Path(path) if path is not None else data_dir("workloads") / SWEEP_GRIDS_FILE
    raw = read_yaml(p, expected="a sweep grids YAML file")
    if not isinstance(raw, dict) or not isinstance(raw.get("grids"), list):
        raise UserError(f"{p}: expected a mapping with a list 'grids' of ROWSxCOLS entries")
    return [parse_grid(g) for g in raw["grids"]]


__all__ = [
    "ACCOUNTINGS", "ATTENTION_VARIANTS", "Accounting", "DeepseekOCRConfig", "LAYER_NAMES",
    "LM_HEAD_MODES", "MODES", "Request", "STAGES", "VERIFICATION_LAYERS", "VerificationLayer",
    "Views", "choose_grid", "config_from_dict", "decode_contexts", "image_tokens",
    "kv_cache_bytes_per_token", "layer_cost", "layer_records", "load_config", "parameter_counts", "parse_grid",
    "parse_image_size", "stage_costs", "stage_records", "sweep_grids", "views", "weight_bytes",
]
