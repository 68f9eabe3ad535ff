"""Kernel kinds: one module per kind family, each with pure vectorized cost formulas.

Every formula has the signature `work(params, dtype) -> dict`: `params` maps shape-parameter
names (roofsim.records.SHAPE_PARAMS) to scalars or arrays of one length, `dtype` is a torch
dtype name or an array of them; the result holds per-launch arrays for every
roofsim.records.WORK_FIELDS entry (flops_tensor, flops_cuda, bytes_read, bytes_written,
weight_bytes). The meaning of each kind's parameters is the public contract in kernels/README.md.

`KIND_FORMULAS` maps kind -> formula; `records_from_params` evaluates rows of mixed kinds into
a RecordTable (used by `roofsim predict-kernels`, by calibration and by the workloads).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np

from ..errors import UserError
from ..records import KINDS, SHAPE_PARAMS, WORK_FIELDS, RecordTable
from . import (attention, comm, conv, elementwise, embedding, gemm, memory, norm, reduction,
               softmax, sort)

KIND_FORMULAS = MappingProxyType({
    **gemm.FORMULAS, **attention.FORMULAS, **conv.FORMULAS, **norm.FORMULAS,
    **softmax.FORMULAS, **elementwise.FORMULAS, **embedding.FORMULAS, **reduction.FORMULAS,
    **sort.FORMULAS, **memory.FORMULAS, **comm.FORMULAS,
})
assert set(KIND_FORMULAS) == set(KINDS), "every record kind needs a formula"


def work(kind: str, params: Mapping[str, object], dtype="bfloat16") -> dict[str, np.ndarray]:
    """Per-launch work of one kind for rows of shape parameters."""
    try:
        formula = KIND_FORMULAS[kind]
    except KeyError:
        raise UserError(f"unknown kernel kind {kind!r}; expected one of {', '.join(KINDS)}") from None
    return formula(params, dtype)


def used_columns(params: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The shape columns some row uses: `params` as float arrays, less those NaN in every row
    (a block of shapes holds a column per parameter of SHAPE_PARAMS, most of them unused)."""
    cols = {p: np.asarray(v, dtype=np.float64) for p, v in params.items()}
    return {p: v for p, v in cols.items() if not np.isnan(v).all()}


def records_from_params(kind, params: Mapping[str, object], dtype="bfloat16", *, name="",
                        stage="", layer="", count=1.0) -> RecordTable:
    """A RecordTable from rows of (possibly mixed) kinds.

    kind: one kind name or an array of them (one per row); params: shape parameters as arrays of
    the same length (NaN where a row does not use a parameter); dtype, name, stage, layer,
    count: scalars or per-row arrays. Each kind's formula runs once, on its own rows.
    """
    unknown = set(params) - set(SHAPE_PARAMS)
    if unknown:
        raise UserError(f"unknown shape parameter(s) {sorted(unknown)}; "
                        f"expected names from {', '.join(SHAPE_PARAMS)}")
    cols = {p: np.asarray(v, dtype=np.float64) for p, v in params.items()}
    lengths = {len(v) for v in cols.values() if v.ndim == 1}
    kind_arr = np.asarray(kind, dtype=object)
    if kind_arr.ndim == 1:
        lengths.add(len(kind_arr))
    if len(lengths) > 1:
        raise ValueError(f"rows of different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    kind_arr = np.broadcast_to(kind_arr, (n,))
    cols = {p: np.broadcast_to(v, (n,)) for p, v in cols.items()}
    dtype_arr = np.broadcast_to(np.asarray(dtype, dtype=object), (n,))
    out = {f: np.zeros(n) for f in WORK_FIELDS}
    for k in dict.fromkeys(kind_arr.tolist()):
        rows = np.flatnonzero(kind_arr == k)
        sub = {p: v[rows] for p, v in cols.items()}
        w = work(k, sub, dtype_arr[rows])
        for f in WORK_FIELDS:
            out[f][rows] = w[f]
    return RecordTable.from_columns(
        n, kind=np.asarray(kind_arr, dtype=object), name=name, dtype=np.asarray(dtype_arr),
        stage=stage, layer=layer, params=cols, count=count, **out)


__all__ = ["KIND_FORMULAS", "work", "records_from_params", "used_columns"]
