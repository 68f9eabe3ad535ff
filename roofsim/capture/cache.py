"""The on-disk capture cache, and capturing a stage case through it.

A capture is keyed by a JSON-able configuration (what was traced) plus the versions of torch
and transformers, CAPTURE_VERSION and the per-element FLOP constants. The versions are read
from the installed distributions' metadata, not by importing them: a cache hit never imports
torch or transformers (seconds of a `roofsim predict` otherwise).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..records import SHAPE_PARAMS, RecordTable
from .ops import per_element_counts
from .result import Capture

# Bump when a change to capture changes what a capture produces (invalidates the cache).
CAPTURE_VERSION = "15"    # 7: strided records carry dims; 8: ... and their distinct bytes; 9: sort; 10: cat;
#                            11: attention bias 2 (a key mask shared by heads and queries);
#                            12: the upload of a CPU operand (H2D copy, synchronizing);
#                            13: a cat of unequal inputs carries inputs / largest;
#                            14: cast (a dtype-converting elementwise / copy), a row gather's rows,
#                                an outer reduction's stride
#                            15: a strided cat carries inputs / largest (its generic kernel)


def cache_dir() -> Path:
    """ROOFSIM_CACHE_DIR, else ~/.cache/roofsim (captures live under capture/)."""
    base = os.environ.get("ROOFSIM_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                "roofsim")
    return Path(base) / "capture"


@lru_cache(maxsize=None)
def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "none"


def cache_key(config: Mapping[str, Any]) -> str:
    """Hash of a JSON-able configuration + torch/transformers versions + CAPTURE_VERSION."""
    blob = json.dumps({"config": config, "torch": _version("torch"),
                       "transformers": _version("transformers"), "capture": CAPTURE_VERSION,
                       "per_element": per_element_counts(), "shape_params": SHAPE_PARAMS},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


_STR_COLUMNS = ("kind", "name", "dtype", "stage", "layer")
_NUM_COLUMNS = ("params", "flops_tensor", "flops_cuda", "bytes_read", "bytes_written",
                "weight_bytes", "count")


def save_capture(path: Path, cap: Capture) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = cap.table
    arrays = {c: np.asarray(getattr(t, c), dtype=str) for c in _STR_COLUMNS}
    arrays.update({c: getattr(t, c) for c in _NUM_COLUMNS})
    arrays["counter_flops"] = cap.counter_flops
    arrays["meta"] = np.asarray(json.dumps({
        "sdpa_backends": dict(cap.sdpa_backends), "unknown_ops": list(cap.unknown_ops),
        "notes": list(cap.notes), "n": len(t)}))
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_capture(path: Path) -> Capture:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        cols = {c: z[c].astype(object) for c in _STR_COLUMNS}
        if meta["n"] == 0:
            cols = {c: np.zeros(0, dtype=object) for c in _STR_COLUMNS}
        table = RecordTable(**cols, **{c: z[c].astype(np.float64) for c in _NUM_COLUMNS})
        return Capture(table=table, counter_flops=z["counter_flops"].astype(np.float64),
                       sdpa_backends=meta["sdpa_backends"], unknown_ops=tuple(meta["unknown_ops"]),
                       notes=tuple(meta["notes"]))


def cached_capture(config: Mapping[str, Any], produce: Callable[[], Capture], *,
                   use_cache: bool = True) -> Capture:
    """The capture for `config` from the on-disk cache, or `produce()` it and store it."""
    if not use_cache:
        return produce()
    path = cache_dir() / f"{cache_key(config)}.npz"
    if path.exists():
        try:
            return load_capture(path)
        except (OSError, ValueError, KeyError):
            pass                                    # unreadable entry: capture again
    cap = produce()
    try:
        save_capture(path, cap)
    except OSError:
        pass                                        # a read-only cache dir only costs time
    return cap


def capture_case(case_config: Mapping[str, Any], make_case: Callable[[], Any], *,
                 sdpa_backend: str = "auto", prefix: str | None = None,
                 use_cache: bool = True) -> Capture:
    """Trace a stage case (roofsim.workloads.case.StageCase) on meta tensors, cached on disk by
    its configuration. `make_case()` builds the case (and its module) only on a cache miss."""
    from .tracer import capture
    key = {"case": dict(case_config), "sdpa_backend": sdpa_backend, "prefix": prefix}

    def produce():
        case = make_case()
        args, kwargs = case.make_inputs()
        label = case.stage if prefix is None else prefix
        cap = capture(case.module, *args, stage=case.stage, prefix=label,
                      sdpa_backend=sdpa_backend, **kwargs)
        return cap.with_notes(case.notes)

    return cached_capture(key, produce, use_cache=use_cache)
