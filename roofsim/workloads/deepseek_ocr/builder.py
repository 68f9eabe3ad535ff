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


def _filled(value: str, n: int) -> np.ndarray:
    """An object array of n copies of one string (np.full is slow for object arrays)."""
    arr = np.empty(n, dtype=object)
    arr.fill(value)
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

    def drop(self, names: tuple[str, ...]) -> None:
        """Forget the ops with these names (ops of an enclosing block, for per-layer rows)."""
        self._ops = [op for op in self._ops if op[1] not in names]

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
        layer = np.concatenate([_filled(op[2], op[-1]) if isinstance(op[2], str) else op[2]
                                for op in ops])
        count = np.empty(total)
        extra_read = np.zeros(total)
        extra_cuda = np.zeros(total)
        override = np.full(total, np.nan)
        params = np.full((total, len(SHAPE_PARAMS)), np.nan)
        kind_rows: dict[str, list] = {}
        kind_dtypes: dict[str, set] = {}
        for (k, _, _, ct, dt, fc, er, ec, ps, n), s0 in zip(ops, starts):
            sl = slice(s0, s0 + n)
            count[sl] = ct
            if isinstance(er, np.ndarray) or er:
                extra_read[sl] = er
            if isinstance(ec, np.ndarray) or ec:
                extra_cuda[sl] = ec
            if fc is not None:
                override[sl] = fc
            for p, v in ps.items():
                params[sl, _PARAM_INDEX[p]] = v
            kind_rows.setdefault(k, []).append(sl)
            kind_dtypes.setdefault(k, set()).add(dt)
        work = {f: np.zeros(total) for f in WORK_FIELDS}
        for k, dts in kind_dtypes.items():
            rows = np.concatenate([np.arange(sl.start, sl.stop) for sl in kind_rows[k]])
            block = params[rows]
            used = np.flatnonzero(~np.isnan(block).all(axis=0))
            sub = {SHAPE_PARAMS[i]: block[:, i] for i in used}
            w = KIND_FORMULAS[k](sub, next(iter(dts)) if len(dts) == 1 else dtype[rows])
            for f in WORK_FIELDS:
                work[f][rows] = w[f]
        work["flops_cuda"] = np.where(np.isnan(override), work["flops_cuda"], override) + extra_cuda
        work["bytes_read"] = work["bytes_read"] + extra_read
        table = RecordTable(kind=kind, name=name, dtype=dtype,
                            stage=_filled(self.stage, total), layer=layer,
                            params=params, count=count, **work)
        table.validate()
        return table
