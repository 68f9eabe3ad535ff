"""A small accumulator that turns vectorized op descriptions into one RecordTable.

Each `add` describes one op for one or many rows (arrays broadcast: e.g. one row per layer,
or per decode step); `build` evaluates each kernel kind's formula once over all its rows
(roofsim.kernels) and applies per-op adjustments (CUDA-core FLOPs of composite elementwise
work, extra bytes such as an attention bias read by the fused kernel).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...kernels import KIND_FORMULAS
from ...records import SHAPE_PARAMS, WORK_FIELDS, RecordTable

_PARAM_INDEX = {p: i for i, p in enumerate(SHAPE_PARAMS)}


@lru_cache(maxsize=4096)
def layer_names(template: str, indices: tuple[int, ...]) -> np.ndarray:
    """Module paths for repeated layers, e.g. ('vision.sam.blocks.{}.attn', (0, 1)) -> array."""
    arr = np.array([template.format(i) for i in indices], dtype=object)
    arr.flags.writeable = False
    return arr


class RecordBuilder:
    """Collects ops of one stage; `build()` returns their RecordTable."""

    def __init__(self, stage: str, dtype: str):
        self.stage = stage
        self.dtype = dtype
        self._ops: list[tuple] = []

    def add(self, kind: str, name: str, layer, count=1.0, *, dtype: str | None = None,
            flops_cuda=None, extra_read=0.0, extra_cuda=0.0, **params) -> None:
        """One op. `layer` is a module path or an array of them (one row each); params and
        count broadcast against it. flops_cuda replaces the formula's CUDA-core FLOPs (composite
        elementwise work); extra_read / extra_cuda add to bytes_read / flops_cuda."""
        n = 1
        for v in (layer, count, *params.values()):
            if isinstance(v, np.ndarray) and v.ndim == 1:
                n = max(n, len(v))
        self._ops.append((kind, name, layer, count, dtype or self.dtype, flops_cuda, extra_read,
                          extra_cuda, params, n))

    def build(self) -> RecordTable:
        ops = self._ops
        ns = [op[-1] for op in ops]
        total = sum(ns)
        if not total:
            return RecordTable.empty()
        starts = np.cumsum([0] + ns)
        kind = np.repeat(np.array([op[0] for op in ops], dtype=object), ns)
        name = np.repeat(np.array([op[1] for op in ops], dtype=object), ns)
        dtype = np.repeat(np.array([op[4] for op in ops], dtype=object), ns)
        layer_list: list = []
        for op in ops:
            ly = op[2]
            if isinstance(ly, str):
                layer_list.extend([ly] * op[-1])
            else:
                layer_list.extend(ly)
        layer = np.array(layer_list, dtype=object)
        # numeric per-op columns: scalars repeated, arrays placed
        numeric = []
        for j, fill in ((3, 1.0), (6, 0.0), (7, 0.0), (5, np.nan)):
            vals = [op[j] if op[j] is not None else fill for op in ops]
            scal = [fill if isinstance(v, np.ndarray) else v for v in vals]
            col = np.repeat(np.asarray(scal, dtype=np.float64), ns)
            for v, s0, n in zip(vals, starts, ns):
                if isinstance(v, np.ndarray):
                    col[s0:s0 + n] = v
            numeric.append(col)
        count, extra_read, extra_cuda, override = numeric
        params = np.full((total, len(SHAPE_PARAMS)), np.nan)
        for op, s0 in zip(ops, starts):
            sl = slice(s0, s0 + op[-1])
            for p, v in op[8].items():
                params[sl, _PARAM_INDEX[p]] = v
        work = {f: np.zeros(total) for f in WORK_FIELDS}
        kind_dtypes: dict[str, set] = {}
        for op in ops:
            kind_dtypes.setdefault(op[0], set()).add(op[4])
        for k, dts in kind_dtypes.items():
            rows = np.flatnonzero(kind == k)
            block = params[rows]
            used = np.flatnonzero(~np.isnan(block).all(axis=0))
            sub = {SHAPE_PARAMS[i]: block[:, i] for i in used}
            w = KIND_FORMULAS[k](sub, next(iter(dts)) if len(dts) == 1 else dtype[rows])
            for f in WORK_FIELDS:
                work[f][rows] = w[f]
        work["flops_cuda"] = np.where(np.isnan(override), work["flops_cuda"], override) + extra_cuda
        work["bytes_read"] = work["bytes_read"] + extra_read
        table = RecordTable(kind=kind, name=name, dtype=dtype,
                            stage=np.full(total, self.stage, dtype=object), layer=layer,
                            params=params, count=count, **work)
        table.validate()
        return table
