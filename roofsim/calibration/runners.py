"""Which torch runner times which kernel kind.

Each kind's runner sits beside its cost formula in roofsim/kernels/<module>.py (DESIGN.md), in a
module-level dict `RUNNERS = {kind: runner}`. A runner is

    runner(params: dict[str, int], dtype: str, device: str) -> (fn, make_inputs)

where `make_inputs()` draws one random input set (a tuple of tensors on `device`, never zeros)
and `fn(*inputs)` launches the real op once. Torch is imported inside the runners only, so the
formulas stay importable without it.
"""

from __future__ import annotations

import importlib
from typing import Callable

from ..errors import UserError

# roofsim.kernels modules that may define RUNNERS.
RUNNER_MODULES = ("gemm", "attention", "conv", "norm", "softmax", "elementwise", "embedding",
                  "reduction", "sort", "memory")

Runner = Callable[[dict, str, str], tuple]


def runner_table() -> dict[str, Runner]:
    table: dict[str, Runner] = {}
    for name in RUNNER_MODULES:
        module = importlib.import_module(f"roofsim.kernels.{name}")
        table.update(getattr(module, "RUNNERS", {}))
    return table


def runner_for(kind: str, table: dict[str, Runner] | None = None) -> Runner:
    table = runner_table() if table is None else table
    if kind not in table:
        raise UserError(f"no torch runner for kernel kind {kind!r}; runners exist for "
                        f"{', '.join(sorted(table))}")
    return table[kind]
