"""Helpers shared by the kernel-kind formulas: dtype sizes, tensor-core eligibility, parameter
access and the result dict. Formulas are pure and vectorized over rows (numpy arrays)."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import UserError
from ..hardware import canonical_dtype
from ..records import WORK_FIELDS

# Bytes per element of each dtype (torch names).
ELEMENT_BYTES = {
    "float64": 8, "float32": 4, "bfloat16": 2, "float16": 2,
    "float8_e4m3fn": 1, "float8_e5m2": 1, "int64": 8, "int32": 4, "int8": 1,
}

# Matrix products on these dtypes run on tensor cores; fp32 matmuls are counted as CUDA-core
# work (roofsim does not assume TF32 is enabled).
TENSOR_CORE_DTYPES = frozenset({"bfloat16", "float16", "float8_e4m3fn", "float8_e5m2"})

INDEX_BYTES = 8  # int64 indices (token ids, expert ids, gather indices)


def _dtype_names(dtype, n: int) -> np.ndarray:
    arr = np.asarray(dtype, dtype=object)
    if arr.ndim == 0:
        arr = np.full(n, arr.item(), dtype=object)
    return arr


def element_bytes(dtype, n: int) -> np.ndarray:
    """Bytes per element for each row's dtype (UserError on an unknown dtype)."""
    names = _dtype_names(dtype, n)
    uniq, inv = np.unique(names.astype(str), return_inverse=True)
    sizes = []
    for u in uniq:
        c = canonical_dtype(str(u))
        if c not in ELEMENT_BYTES:
            raise UserError(f"unknown dtype {u!r}; expected one of {sorted(ELEMENT_BYTES)}")
        sizes.append(ELEMENT_BYTES[c])
    return np.asarray(sizes, dtype=np.float64)[inv.reshape(-1)] if n else np.zeros(0)


def tensor_core_mask(dtype, n: int) -> np.ndarray:
    names = _dtype_names(dtype, n)
    uniq, inv = np.unique(names.astype(str), return_inverse=True)
    ok = np.array([canonical_dtype(str(u)) in TENSOR_CORE_DTYPES for u in uniq], dtype=bool)
    return ok[inv.reshape(-1)] if n else np.zeros(0, dtype=bool)


def rows_of(params: Mapping[str, object], dtype) -> int:
    """Number of rows: the common length of the array parameters (1 if all are scalars)."""
    n = 1
    for v in list(params.values()) + [dtype]:
        a = np.asarray(v, dtype=object if isinstance(v, str) else None)
        if a.ndim == 1:
            n = len(a) if n == 1 else n
            if len(a) not in (1, n):
                raise ValueError(f"parameter arrays of different lengths ({len(a)} and {n})")
    return n


def param(params: Mapping[str, object], name: str, n: int, kind: str,
          default: float | None = None) -> np.ndarray:
    """A shape parameter as a float array of n rows. NaN or missing -> default; a required
    parameter (default None) that is missing, NaN, or negative is a UserError."""
    if name in params and params[name] is not None:
        a = np.broadcast_to(np.asarray(params[name], dtype=np.float64), (n,)).copy()
    else:
        a = np.full(n, np.nan)
    missing = np.isnan(a)
    if missing.any():
        if default is None:
            raise UserError(f"kind {kind!r} needs shape parameter {name!r}")
        a[missing] = default
    if (a < 0).any() or not np.isfinite(a).all():
        raise UserError(f"kind {kind!r}: shape parameter {name!r} must be finite and >= 0")
    return a


def matmul_split(flops: np.ndarray, dtype, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(tensor, cuda) FLOPs of a matrix product: tensor-core dtypes go to the tensor column."""
    tc = tensor_core_mask(dtype, n)
    return np.where(tc, flops, 0.0), np.where(tc, 0.0, flops)


def result(n: int, **fields) -> dict[str, np.ndarray]:
    """The work dict every formula returns: all WORK_FIELDS as float arrays of n rows."""
    out = {}
    for f in WORK_FIELDS:
        out[f] = np.broadcast_to(np.asarray(fields.get(f, 0.0), dtype=np.float64), (n,)).copy()
    return out
