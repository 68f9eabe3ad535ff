"""A stage case: one module and a factory of its example inputs.

What both capture (meta tensors, CPU) and GPU timing (real tensors) need to run one stage of a
workload: `make_inputs()` returns fresh (args, kwargs) on every call (a decode step appends to
its cache), and `config` is a JSON-able description of the case, the key of the capture cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


# The KV cache of a decode case: transformers' DynamicCache, which an eager step appends to by
# concatenation, or a StaticCache sized in advance and written in place, as a CUDA graph replays
# the step (roofsim.workloads.base.Workload.graph_parts).
DYNAMIC, STATIC = "dynamic", "static"
CACHES: tuple[str, ...] = (DYNAMIC, STATIC)


@dataclass(frozen=True, eq=False)
class StageCase:
    stage: str
    module: Any
    make_inputs: Callable[[], tuple[tuple, dict]]
    config: Mapping[str, Any]                 # JSON-able: what the case is (the cache key)
    notes: tuple[str, ...] = field(default_factory=tuple)
