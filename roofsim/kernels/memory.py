"""Data movement without arithmetic: copy and index over `numel` elements.

copy   reads numel elements and writes numel (contiguous, pad, permute made contiguous).
cat    torch.cat / stack: the same bytes, its own kernel (CatArrayBatchedCopy).
index  gather/scatter of numel elements by int64 index: reads the elements and one index per
       gathered row (`rows`, default numel: one index per element), writes numel elements.
No FLOPs.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ._common import (INDEX_BYTES, cast_mask, cast_partner, element_bytes, param, partner_bytes,
                      result, rows_of)


def copy_work(params, dtype) -> dict:
    """numel elements read and written; a cast copy (cast = 1) reads them in cast_partner's
    dtype (a .to(dtype) of a dtype tensor's partner)."""
    n_rows = rows_of(params, dtype)
    numel = param(params, "numel", n_rows, "copy")
    e = element_bytes(dtype, n_rows)
    read = np.where(cast_mask(params, n_rows, "copy", dtype), partner_bytes(dtype, n_rows), e)
    return result(n_rows, bytes_read=numel * read, bytes_written=numel * e)


def index_work(params, dtype) -> dict:
    n_rows = rows_of(params, dtype)
    numel = param(params, "numel", n_rows, "index")
    rows = np.asarray(params.get("rows", np.nan), dtype=np.float64)
    rows = np.where(np.isnan(rows), numel, rows)     # default: one index per element
    e = element_bytes(dtype, n_rows)
    return result(n_rows, bytes_read=numel * e + rows * INDEX_BYTES, bytes_written=numel * e)


def cat_work(params, dtype) -> dict:
    """cat: numel output elements, each read once from an input and written once (as copy)."""
    return copy_work(params, dtype)


FORMULAS = {"copy": copy_work, "cat": cat_work, "index": index_work}


# ---- torch runners for calibration (roofsim.calibration.runners) ---------------------------
def copy_runner(params, dtype, device):
    """torch.clone of a flat tensor of numel elements (one read, one write); with stride = 1, a
    row slice made contiguous (TensorIterator's strided copy kernel; see
    roofsim.kernels.elementwise.strided_shape); with stride = 1 and dims = D >= 3, a permuted
    D-dim view made contiguous that coalesces to D dims (elementwise.permuted_order, as SAM's
    window partition); with stride = 2, a transposed
    tensor."""
    import torch
    from ..calibration.inputs import randn
    from .elementwise import dims_shape, permuted_order, strided_layout, strided_shape
    numel = int(params["numel"])
    shape = strided_layout(params)
    if int(params.get("cast", 0) or 0):
        # TensorIterator's dynamic-casting copy (an unrolled kernel, no vectors), as x.float()
        if shape != "flat":
            raise UserError(f"a cast copy is timed dense (stride 0); got the {shape!r} layout")
        other = cast_partner(dtype)
        return (lambda x: x.to(getattr(torch, dtype))), lambda: (
            randn((numel,), other, device),)
    if shape == "transposed":
        # A transposed operand made contiguous (layer norm of SAM's channels-first stream).
        rows, cols = strided_shape(numel)
        return (lambda x: x.t().contiguous()), lambda: (randn((cols, rows), dtype, device),)
    if shape == "rows":
        rows, cols = strided_shape(numel)
        return (lambda x: x[:, :cols].contiguous()), lambda: (
            randn((rows, 2 * cols), dtype, device),)
    if shape == "dims":
        dims = int(params["dims"])
        order = permuted_order(dims)
        return (lambda x: x.permute(order).contiguous()), lambda: (
            randn(dims_shape(numel, dims), dtype, device),)
    return torch.clone, lambda: (randn((numel,), dtype, device),)


def index_runner(params, dtype, device):
    """torch.index_select of numel elements by random int64 indices: one element per index;
    or with rows < numel, x[idx]: `rows` random rows of numel / rows elements each from a table
    of as many rows (aten::index of a [tokens, hidden] activation, as MoE dispatch gathers)."""
    import torch
    from ..calibration.inputs import randint, randn
    numel = int(params["numel"])
    rows = params.get("rows")
    if rows is not None and rows == rows and int(rows) < numel:
        rows = int(rows)
        if rows < 1 or numel % rows:
            raise UserError(f"a row gather takes whole rows: numel = {numel} is not a "
                            f"multiple of rows = {rows}")

        def gather(x, idx):
            return x[idx]            # aten::index, as the model's dispatch (not index_select)
        return gather, lambda: (randn((rows, numel // rows), dtype, device),
                                randint(rows, (rows,), device))

    def fn(x, idx):
        return torch.index_select(x, 0, idx)
    return fn, lambda: (randn((numel,), dtype, device), randint(numel, (numel,), device))


def cat_runner(params, dtype, device):
    """torch.cat of two contiguous halves into numel elements (CatArrayBatchedCopy: a kernel,
    where a contiguous copy of one tensor is a cudaMemcpy). With stride = 1, the halves are
    row slices (the strided path, as the copy runner's)."""
    import torch
    from ..calibration.inputs import randn
    from .elementwise import strided_layout, strided_shape
    numel = int(params["numel"])
    if strided_layout(params) != "flat":
        rows, cols = strided_shape(numel)
        half = max(rows // 2, 1)
        return (lambda a, b: torch.cat((a[:, :cols], b[:, :cols]))), lambda: (
            randn((half, 2 * cols), dtype, device), randn((rows - half, 2 * cols), dtype, device))
    half = numel // 2
    return (lambda a, b: torch.cat((a, b))), lambda: (
        randn((half,), dtype, device), randn((numel - half,), dtype, device))


RUNNERS = {"copy": copy_runner, "cat": cat_runner, "index": index_runner}
