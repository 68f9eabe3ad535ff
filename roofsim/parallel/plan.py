"""A parallel plan: the degrees of tensor, expert, pipeline and data parallelism.

GPUs = tp x pp x dp. The expert-parallel group is carved out of the tp x dp GPUs of one
pipeline stage (as vLLM and SGLang do): ep divides tp x dp. `gpus_per_node` (8 on an HGX
board) says how many nodes a group spans, and so which link its collectives use.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import UserError

GPUS_PER_NODE = 8


@dataclass(frozen=True)
class ParallelPlan:
    tp: int = 1
    ep: int = 1
    pp: int = 1
    dp: int = 1
    gpus_per_node: int = GPUS_PER_NODE

    def __post_init__(self):
        for name in ("tp", "ep", "pp", "dp", "gpus_per_node"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise UserError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {v!r}")
        if (self.tp * self.dp) % self.ep:
            raise UserError(f"--ep {self.ep}: the expert-parallel group is carved out of the "
                            f"tp x dp = {self.tp * self.dp} GPUs of a pipeline stage, so ep must "
                            f"divide it")

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def is_single(self) -> bool:
        return self.tp == self.ep == self.pp == 1

    def nodes(self, ranks: int) -> int:
        """Nodes a group of `ranks` consecutive GPUs spans."""
        return max(1, math.ceil(ranks / self.gpus_per_node))

    def as_dict(self) -> dict:
        return {**asdict(self), "gpus": self.gpus}
