"""One communication record (a roofsim.kernels.comm kind) for a group of GPUs."""

from __future__ import annotations

from ..kernels import records_from_params
from ..records import RecordTable


def collective(kind: str, numel: float, ranks: int, *, nodes: int = 1, dtype="bfloat16",
               stage: str = "", layer: str = "", tree: bool = False,
               count: float = 1.0) -> RecordTable:
    """A one-row table: `kind` of `numel` elements (nccl-tests' size) over `ranks` GPUs."""
    return records_from_params(kind, {"numel": [float(numel)], "ranks": [float(ranks)],
                                      "nodes": [float(nodes)], "tree": [float(tree)]},
                               dtype, name=f"nccl.{kind}", stage=stage, layer=layer,
                               count=count)
