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
    "complex64": 8, "complex128": 16,      # DeepSeek-V2's rotary runs in complex64
    "bool": 1,                             # masks (a static KV cache's attention mask)
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


def _element_bytes_of(name: str) -> float:
    c = canonical_dtype(str(name))
    if c not in ELEMENT_BYTES:
        raise UserError(f"unknown dtype {name!r}; expected one of {sorted(ELEMENT_BYTES)}")
    return float(ELEMENT_BYTES[c])


def element_bytes(dtype, n: int):
    """Bytes per element for each row's dtype (a scalar when dtype is one name; UserError on an
    unknown dtype)."""
    if isinstance(dtype, str):
        return _element_bytes_of(dtype)
    names = _dtype_names(dtype, n).reshape(-1).tolist()
    # one lookup per distinct name, then a linear pass (np.unique sorted the strings: 3x slower
    # on a 15k-row table, and every unit_terms call reads the element bytes several times)
    sizes = {d: _element_bytes_of(str(d)) for d in dict.fromkeys(names)}   # first-seen order
    return np.fromiter((sizes[d] for d in names), dtype=np.float64, count=len(names))


# The dtype of a cast record's converted operand (cast = 1, roofsim.kernels._common.LAYOUTS): the
# other side of the bf16 / fp16 <-> fp32 conversions models make (activations times fp32 routing
# weights, an fp32 norm's input and output). A record's own dtype is its output's.
CAST_PARTNER = {"float32": "bfloat16", "bfloat16": "float32", "float16": "float32"}


def cast_partner(dtype: str) -> str:
    """The converted operand's dtype of a cast record of `dtype` (UserError where none)."""
    d = canonical_dtype(dtype)
    if d not in CAST_PARTNER:
        raise UserError(f"a cast record (cast = 1) converts between "
                        f"{', '.join(sorted(CAST_PARTNER))}; got dtype {dtype!r}")
    return CAST_PARTNER[d]


def cast_mask(params: Mapping[str, object], n: int, kind: str, dtype) -> np.ndarray:
    """Rows with cast = 1 (an operand converted from cast_partner's dtype); UserError on a
    cast that is not 0 or 1, or on a cast row whose dtype has no partner."""
    c = param(params, "cast", n, kind, default=0.0)
    if not np.isin(c, (0.0, 1.0)).all():
        raise UserError(f"kind {kind!r}: cast must be 0 or 1, got {sorted(set(c.tolist()))}")
    cast = c >= 1
    if cast.any():
        names = np.broadcast_to(np.asarray(dtype, dtype=object), (n,)).astype(str)
        for d in np.unique(names[cast]):
            cast_partner(str(d))
    return cast


def partner_bytes(dtype, n: int) -> np.ndarray:
    """Element bytes of each row's cast partner (0 where its dtype has none)."""
    names = np.broadcast_to(np.asarray(dtype, dtype=object), (n,)).astype(str) if n else \
        np.zeros(0, dtype=str)
    return np.array([_element_bytes_of(CAST_PARTNER[canonical_dtype(d)])
                     if canonical_dtype(d) in CAST_PARTNER else 0.0 for d in names])


def tensor_core_mask(dtype, n: int):
    """Whether each row's matrix products run on tensor cores (a scalar for one dtype name)."""
    if isinstance(dtype, str):
        return canonical_dtype(dtype) in TENSOR_CORE_DTYPES
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
    v = params.get(name)
    if v is None:
        if default is None:
            raise UserError(f"kind {kind!r} needs shape parameter {name!r}")
        return np.full(n, float(default))
    a = np.asarray(v, dtype=np.float64)
    if a.shape != (n,):
        a = np.full(n, a)
    if not ((a >= 0) & (a < np.inf)).all():   # NaN, negative or infinite somewhere
        missing = np.isnan(a)
        if missing.any():
            if default is None:
                raise UserError(f"kind {kind!r} needs shape parameter {name!r}")
            a = np.where(missing, default, a)
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
        a = np.asarray(fields.get(f, 0.0), dtype=np.float64)
        out[f] = a if a.shape == (n,) else np.full(n, a)
    return out


# ---- iteration dimensions of TensorIterator's strided kernel ----------------------------------
# A record on the strided kernel (stride >= 1; roofsim.capture.layout) carries `dims`: the
# dimensions the kernel loops over after TensorIterator coalesces them (capture computes it,
# roofsim.capture.layout.iteration_dims). A strided record without it (measured before `dims`
# existed, or a hand-written case) ran on the calibration runners' layout, which is 2-D (a row
# slice or a transposed matrix: roofsim/kernels/elementwise.py strided_shape): RUNNER_DIMS.
RUNNER_DIMS = 2

# Kinds PyTorch runs through TensorIterator, on its strided kernel when the operands are not
# dense with one layout (roofsim.capture.layout); for them `stride` >= 1 marks that kernel.
# (conv2d's `stride` is the convolution's.)
LAYOUT_KINDS = frozenset({"elementwise", "gelu", "silu", "copy", "cat"})


def strided_dims(kind, stride, dims) -> np.ndarray:
    """Iteration dims of each row on the strided kernel: its `dims` where given, RUNNER_DIMS
    where a LAYOUT_KINDS row has stride >= 1 and no dims (NaN), NaN where the row is not on the
    strided kernel (another kind, stride missing or 0). The one place that rule lives."""
    stride = np.asarray(stride, dtype=np.float64)
    dims = np.broadcast_to(np.asarray(dims, dtype=np.float64), stride.shape)
    kind = np.broadcast_to(np.asarray(kind, dtype=object), stride.shape)
    layout = np.isin(kind.astype(str), sorted(LAYOUT_KINDS)) if stride.ndim else \
        str(kind.item()) in LAYOUT_KINDS
    strided = (np.nan_to_num(stride, nan=0.0) >= 1) & layout
    return np.where(strided, np.where(np.isnan(dims), float(RUNNER_DIMS), dims), np.nan)


# Which of TensorIterator's kernels a LAYOUT_KINDS record runs: the vectorized one ("", dense
# operands of one layout), the strided one ("strided", stride = 1: every offset through the
# OffsetCalculator, rows of adjacent elements), or the strided one with a transposed operand
# ("transposed", stride = 2: neighbouring threads load from different rows). An operand of
# another floating dtype than the output's (cast = 1: a bf16 tensor times fp32 routing weights,
# a .float() copy) takes neither: TensorIterator's dynamic-casting path loads and converts every
# element through a switch on its dtype (LoadWithCast / StoreWithCast), unvectorized, with the
# OffsetCalculator too where an operand is strided ("cast", whatever the stride). They are
# different kernels or access patterns, so calibration fits each its own kind parameters
# (roofsim.calibration.profile: a group per kind, dtype and layout).
LAYOUTS = ("", "strided", "transposed", "cast")
# The LAYOUT_KINDS that can convert (a cat copies each input with its own kernel: never 'cast').
CAST_KINDS = LAYOUT_KINDS - {"cat"}
# The index kind's gather of whole rows ("rows": `rows` indices, each selecting numel / rows > 1
# contiguous elements, as x[idx] of a [tokens, hidden] tensor; PyTorch's vectorized gather copies
# 16-byte vectors of a row) against one element per index ("", the default).
INDEX_LAYOUTS = ("rows",)
# The reduction kind's reduction over an outer dim ("outer", `stride` 1: outputs contiguous,
# each thread reducing values a row apart, as a sum over the top-k experts of [tokens, k,
# hidden]) against the reduction of each contiguous row ("", the default).
REDUCTION_LAYOUTS = ("outer",)
# And which algorithm family a convolution runs, by its window: "pointwise" (a 1 x 1 kernel, a
# GEMM over the pixels as they lie), "patch" (kernel = stride > 1: non-overlapping windows, a
# GEMM over a reshape of the input, as ViT / SAM patch embeddings) or "" (overlapping windows:
# cuDNN's implicit GEMM, which gathers each window's pixels). Their math and memory efficiencies
# differ (the H200's held-out conv2d error splits along these lines), so each is its own group.
CONV_LAYOUTS = ("pointwise", "patch")


def kernel_layout(kind, stride, kernel=None, cast=None, rows=None, numel=None) -> np.ndarray:
    """The layout (LAYOUTS; CONV_LAYOUTS for conv2d given `kernel`; REDUCTION_LAYOUTS; INDEX_LAYOUTS
    for index given `rows` and `numel`) of each row: '' off those kinds or with stride missing
    or 0 and no cast."""
    stride = np.nan_to_num(np.asarray(stride, dtype=np.float64).reshape(-1), nan=0.0)
    kind = np.broadcast_to(np.asarray(kind, dtype=object).reshape(-1), stride.shape).astype(str)
    col = lambda x: np.nan_to_num(np.broadcast_to(          # noqa: E731
        np.asarray(x, dtype=np.float64).reshape(-1), stride.shape), nan=0.0)
    on = np.isin(kind, sorted(LAYOUT_KINDS))
    out = np.where(on & (stride >= 2), "transposed",
                   np.where(on & (stride >= 1), "strided", "")).astype(object)
    if cast is not None:
        out = np.where(np.isin(kind, sorted(CAST_KINDS)) & (col(cast) >= 1), "cast",
                       out).astype(object)
    if kernel is not None:
        k = col(kernel)
        conv = kind == "conv2d"
        out = np.where(conv & (k == 1), "pointwise",
                       np.where(conv & (k > 1) & (k == stride), "patch", out)).astype(object)
    out = np.where((kind == "reduction") & (stride >= 1), "outer", out).astype(object)
    if rows is not None and numel is not None:
        r, n = col(rows), col(numel)
        out = np.where((kind == "index") & (r >= 1) & (n > r), "rows", out).astype(object)
    return out


def layout_of(kind, param) -> np.ndarray:
    """kernel_layout of rows whose shape parameters `param(name)` gives (a RecordTable's
    `param`, a measurements file's columns)."""
    return kernel_layout(kind, param("stride"), param("kernel"), param("cast"), param("rows"),
                         param("numel"))
