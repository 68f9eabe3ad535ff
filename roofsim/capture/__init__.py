"""Capture: kernel records from a real PyTorch module, traced on meta tensors.

    cap = capture(module, *args, **kwargs)          # roofsim.capture.tracer
    cap.table, cap.counter_flops, cap.sdpa_backends

The package, one job per module:
- tracer: the dispatch-level tracer and `capture` (what becomes a record, FLOPs, bytes);
- ops:    op tables (no kernel, fills, copies, gathers, reductions, ...) and per-element FLOPs;
- sdpa:   which backend CUDA runs an SDPA call with (GQA, MLA, masks) and its record's work;
- layout: TensorIterator's strided and transposed paths, distinct elements of a view;
- result: the named row of one kernel (KernelRow) and the Capture they become;
- cache:  the on-disk cache (a cache hit imports neither torch nor transformers).
"""

from .cache import (CAPTURE_VERSION, cache_dir, cache_key, cached_capture, capture_case,
                    load_capture, save_capture)
from .layout import LAYOUT_KINDS, STRIDED, TRANSPOSED
from .ops import MATRIX_KINDS
from .result import Capture, KernelRow
from .sdpa import SDPA_BACKENDS


def capture(module, *args, **kwargs) -> Capture:
    """Trace `module(*args, **kwargs)`: see roofsim.capture.tracer.capture."""
    from .tracer import capture as _capture
    return _capture(module, *args, **kwargs)


__all__ = ["CAPTURE_VERSION", "Capture", "KernelRow", "LAYOUT_KINDS", "MATRIX_KINDS",
           "SDPA_BACKENDS", "STRIDED", "TRANSPOSED", "cache_dir", "cache_key", "cached_capture",
           "capture", "capture_case", "load_capture", "save_capture"]
