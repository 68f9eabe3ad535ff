"""Activation memory of a stage from its kernel records: the working set of one launch is the
bytes it reads and writes, weights excluded; a stage's activation peak is the largest working
set of any one launch (counts do not matter: a launch's tensors are live together, launches are
not). Captured records carry no allocator lifetimes, so this is an estimate: it leaves out the
residual stream kept across a launch and, in a decoder's attention, counts one layer's K/V
cache reads as activations. DeepSeek-OCR's analytic model refines it
(roofsim.workloads.deepseek_ocr.stages.activation_working_set).
"""

from __future__ import annotations

import numpy as np

from .records import RecordTable


def working_set(table: RecordTable) -> np.ndarray:
    """Per-launch activation bytes: read + written, weights excluded."""
    return table.bytes_read + table.bytes_written - table.weight_bytes


def peak_working_set(tables) -> float:
    """The largest per-launch working set over `tables` (0 without records)."""
    peaks = [float(working_set(t).max()) for t in tables if len(t)]
    return max(peaks, default=0.0)


__all__ = ["peak_working_set", "working_set"]
