"""Elementwise kinds over `numel` output elements: gelu, silu, elementwise.

CUDA-core FLOPs per element (documented counts; transcendental functions count as one FLOP):
- gelu (exact, erf form x * 0.5 * (1 + erf(x / sqrt 2))): GELU_FLOPS_PER_ELEMENT = 4
  (scale by 1/sqrt 2 1, erf 1, add 1, multiply by 0.5 x 1, the constant folded).
- quick_gelu (CLIP's x * sigmoid(1.702 x)): QUICK_GELU_FLOPS_PER_ELEMENT = 5 (scale 1, exp 1,
  add 1, divide 1, multiply 1); recorded as kind gelu with its FLOPs set by the workload.
- silu (x * sigmoid(x)): SILU_FLOPS_PER_ELEMENT = 4 (exp 1, add 1, divide 1, multiply 1).
- elementwise: a binary op (add, multiply, residual): ELEMENTWISE_FLOPS_PER_ELEMENT = 1,
  reading ELEMENTWISE_INPUTS = 2 tensors of numel elements and writing one.
Counts used by the workloads for composite elementwise work, kept here beside their kin:
- rotary embedding: ROTARY_FLOPS_PER_ELEMENT = 3 per rotated q/k element (x*cos + rot(x)*sin),
  and its cos/sin table: ROTARY_TABLE_FLOPS_PER_ANGLE = 2 per (position, frequency) pair.
- gated MLP product silu(gate) * up: the silu count plus GATED_PRODUCT_FLOPS_PER_ELEMENT = 1.
Unary kinds read one input and write one output of numel elements.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UserError
from ._common import (RUNNER_DIMS, cast_mask, cast_partner, element_bytes, param,
                      partner_bytes, result, rows_of)

GELU_FLOPS_PER_ELEMENT = 4.0
QUICK_GELU_FLOPS_PER_ELEMENT = 5.0
SILU_FLOPS_PER_ELEMENT = 4.0
ELEMENTWISE_FLOPS_PER_ELEMENT = 1.0
ELEMENTWISE_INPUTS = 2
ROTARY_FLOPS_PER_ELEMENT = 3.0
ROTARY_TABLE_FLOPS_PER_ANGLE = 2.0
GATED_PRODUCT_FLOPS_PER_ELEMENT = 1.0


def _unary(params, dtype, kind: str, per_element: float, inputs: int = 1) -> dict:
    n_rows = rows_of(params, dtype)
    numel = param(params, "numel", n_rows, kind)
    e = element_bytes(dtype, n_rows)
    return result(n_rows, flops_cuda=per_element * numel, bytes_read=inputs * numel * e,
                  bytes_written=numel * e)


def gelu_work(params, dtype) -> dict:
    return _unary(params, dtype, "gelu", GELU_FLOPS_PER_ELEMENT)


def silu_work(params, dtype) -> dict:
    return _unary(params, dtype, "silu", SILU_FLOPS_PER_ELEMENT)


def elementwise_work(params, dtype) -> dict:
    """A binary op reading two operands of numel elements; a strided case of dims >= 3 is the
    runner's broadcast add (broadcast_shapes, where numel allows that layout), whose operands
    hold fewer distinct elements: its bytes are those (a broadcast operand's repeated loads
    hit the cache)."""
    out = _unary(params, dtype, "elementwise", ELEMENTWISE_FLOPS_PER_ELEMENT, ELEMENTWISE_INPUTS)
    n_rows = rows_of(params, dtype)
    stride = param(params, "stride", n_rows, "elementwise", default=0.0)
    dims = param(params, "dims", n_rows, "elementwise", default=float(RUNNER_DIMS))
    broadcast = (stride == 1) & (dims > RUNNER_DIMS)
    if broadcast.any():
        numel = param(params, "numel", n_rows, "elementwise")
        e = element_bytes(dtype, n_rows) * np.ones(n_rows)
        read = np.array(out["bytes_read"], dtype=np.float64) * np.ones(n_rows)
        for i in np.flatnonzero(broadcast):
            try:
                a, b = broadcast_shapes(int(numel[i]), int(dims[i]))
            except UserError:      # no runner layout of this numel: its operands read whole
                continue
            read[i] = (math.prod(a) + math.prod(b)) * e[i]
        out["bytes_read"] = read
    cast = cast_mask(params, n_rows, "elementwise", dtype)
    if cast.any():
        # the runner's cast case (elementwise_runner): an operand of the partner dtype, and
        # one of the record's dtype, dense (stride 0) or a column broadcast along the rows of
        # strided_shape (stride 1: a [tokens, hidden] activation times [tokens, 1] weights)
        numel = param(params, "numel", n_rows, "elementwise")
        e = element_bytes(dtype, n_rows) * np.ones(n_rows)
        other = np.where(stride >= 1, np.array([strided_shape(int(x))[0] for x in numel]),
                         numel)
        read = np.array(out["bytes_read"], dtype=np.float64) * np.ones(n_rows)
        out["bytes_read"] = np.where(cast, numel * partner_bytes(dtype, n_rows) + other * e,
                                     read)
    return out


FORMULAS = {"gelu": gelu_work, "silu": silu_work, "elementwise": elementwise_work}


# ---- torch runners for calibration (roofsim.calibration.runners) ---------------------------
def strided_shape(numel: int) -> tuple[int, int]:
    """(rows, cols) of the 2-D layout a strided-kernel case (stride = 1) runs on: cols a power
    of two near sqrt(numel), at most 1024; rows x cols = numel when numel is a multiple. The
    strided operand is a row slice (rows of cols contiguous elements, the next row 2 x cols
    further on): TensorIterator's strided kernel with coalesced rows, as the model's permuted
    views, slices and broadcasts keep their innermost dimension contiguous. A transposed
    operand (stride = 2: every access a new row) runs about 3x slower still; SAM's
    channels-first residual stream runs it (roofsim.capture.TRANSPOSED)."""
    cols = 1
    while cols < 1024 and (cols * 2) ** 2 <= numel:
        cols *= 2
    return max(int(numel) // cols, 1), cols


STRIDED_INNER_MAX = 64   # largest size of an inner dimension of a D-dim strided case


def dims_shape(numel: int, dims: int) -> tuple[int, ...]:
    """Sizes (outermost first) of the D-dimensional layout a strided case of numel elements
    and dims = D >= 3 runs on: [numel / n^(D-1), n, ..., n] with the largest inner size
    n <= STRIDED_INNER_MAX (at least 2) whose power n^(D-1) divides numel, leaving an outer size
    of at least 2. A numel without such a factor is a UserError (suites align numel to one)."""
    numel, dims = int(numel), int(dims)
    # n^(D-1) >= 2^(D-1) must leave an outer size of 2: past numel's bits no n does (and the
    # powers of a huge dims would take minutes to compute)
    fits = dims - 1 < (numel // 2).bit_length()
    for n in range(STRIDED_INNER_MAX, 1, -1) if fits else ():
        inner = n ** (dims - 1)
        if numel % inner == 0 and numel // inner >= 2:
            return (numel // inner,) + (n,) * (dims - 1)
    raise UserError(f"a strided case of numel = {numel} cannot be laid out in dims = {dims} "
                    f"dimensions: numel must be a multiple of n^{dims - 1} (2 <= n <= "
                    f"{STRIDED_INNER_MAX}) times at least 2")


def broadcast_shapes(numel: int, dims: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of two operands that broadcast to dims_shape(numel, dims) and coalesce to exactly
    dims iteration dimensions, as SAM's relative-position add [.., 40, 1] + [.., 1, 40] does:
    counting from the innermost, the first operand is broadcast (size 1) in the even dims and
    the second in the odd ones, the outermost dim dense in both, so no two neighbours merge."""
    sizes = dims_shape(numel, dims)
    d = len(sizes)
    a = tuple(1 if (d - 1 - i) < d - 1 and (d - 1 - i) % 2 == 0 else s
              for i, s in enumerate(sizes))
    b = tuple(1 if (d - 1 - i) < d - 1 and (d - 1 - i) % 2 == 1 else s
              for i, s in enumerate(sizes))
    return a, b


def permuted_order(dims: int) -> tuple[int, ...]:
    """Permutation of a contiguous dims-D tensor whose copy loops over all dims dimensions:
    the last (contiguous) dim stays innermost, the others reversed, so no two neighbours of
    the output are neighbours in memory (dims >= 3)."""
    return tuple(range(dims - 2, -1, -1)) + (dims - 1,)


def padded_box(numel: int, dims: int) -> tuple[tuple[int, ...], tuple]:
    """(shape of a base tensor, index of a view) for a unary op whose strided kernel loops
    over dims >= 3 dimensions: the view dims_shape(numel, dims) of a base one element larger
    in every inner dim, so no two neighbours merge. (A permuted view would not do: a unary op
    allocates its output in its input's memory order, and both then coalesce as one.)"""
    sizes = dims_shape(numel, dims)
    base = sizes[:1] + tuple(s + 1 for s in sizes[1:])
    return base, (slice(None),) + tuple(slice(0, s) for s in sizes[1:])


def strided_layout(params) -> str:
    """Which layout a strided runner builds: 'flat' (stride 0), 'transposed' (stride 2),
    'rows' (stride 1, dims 2 or missing: the row slice old measurements were timed on) or
    'dims' (stride 1, dims >= 3). (A 1-D strided view, x[::2], is not unit-stride along its
    only dimension: capture calls it transposed, stride 2.)"""
    stride = int(params.get("stride", 0) or 0)
    dims = params.get("dims")
    dims = RUNNER_DIMS if dims is None or dims != dims else int(dims)
    if stride == 0:
        return "flat"
    if stride >= 2:
        if dims != RUNNER_DIMS:
            raise UserError(f"a transposed strided case (stride = {stride}) is timed in "
                            f"{RUNNER_DIMS} dims only, got dims = {dims}")
        return "transposed"
    if dims < RUNNER_DIMS:
        raise UserError(f"a strided case (stride = 1) loops over at least {RUNNER_DIMS} dims, "
                        f"got dims = {dims}")
    return "rows" if dims == RUNNER_DIMS else "dims"


def _unary_runner(op_name: str):
    def runner(params, dtype, device):
        import torch.nn.functional as F
        from ..calibration.inputs import randn
        numel = int(params["numel"])
        fn = getattr(F, op_name)
        shape = strided_layout(params)
        if shape == "dims":
            base, box = padded_box(numel, int(params["dims"]))
            return (lambda x: fn(x[box])), lambda: (randn(base, dtype, device),)
        if shape != "flat":
            # The strided kernel: the input is the first half of each row (a chunk), as the
            # gated MLP's gate half is.
            rows, cols = strided_shape(numel)
            return (lambda x: fn(x[:, :cols])), lambda: (randn((rows, 2 * cols), dtype, device),)
        return fn, lambda: (randn((numel,), dtype, device),)
    runner.__doc__ = (f"F.{op_name} on a flat tensor of numel random elements; with stride = 1 "
                      f"on a row slice (TensorIterator's strided kernel), with dims = D >= 3 on "
                      f"a D-dim box view (padded_box),")
    return runner


def elementwise_runner(params, dtype, device):
    """torch.add of two flat tensors of numel elements (the binary op the formula counts); with
    stride = 1, of a row slice and a (rows, cols) tensor (TensorIterator's strided kernel,
    the same bytes); with stride = 1 and dims = D >= 3, of two operands that broadcast against
    each other and coalesce to D dims (broadcast_shapes, SAM's relative-position add); with
    stride = 2, of a
    transposed (cols, rows) tensor and a (rows, cols) one (the strided kernel with a transposed
    operand, as SAM's channels-first residual adds)."""
    import torch
    from ..calibration.inputs import randn
    numel = int(params["numel"])
    shape = strided_layout(params)
    if int(params.get("cast", 0) or 0):
        return _cast_product(numel, shape, dtype, device)
    if shape == "transposed":
        rows, cols = strided_shape(numel)
        return (lambda a, b: torch.add(a.t(), b)), lambda: (
            randn((cols, rows), dtype, device), randn((rows, cols), dtype, device))
    if shape == "rows":
        rows, cols = strided_shape(numel)
        return (lambda a, b: torch.add(a[:, :cols], b)), lambda: (
            randn((rows, 2 * cols), dtype, device), randn((rows, cols), dtype, device))
    if shape == "dims":
        a, b = broadcast_shapes(numel, int(params["dims"]))
        return torch.add, lambda: (randn(a, dtype, device), randn(b, dtype, device))
    return torch.add, lambda: (randn((numel,), dtype, device), randn((numel,), dtype, device))


def _cast_product(numel: int, shape: str, dtype: str, device):
    """torch.mul of an operand of cast_partner(dtype) and one of dtype, whose result is dtype
    (type promotion: dtype must be the wider, float32): TensorIterator's dynamic-casting path.
    Flat (stride 0): two dense operands of numel elements (the unrolled kernel with casts);
    stride 1: a (rows, cols) partner tensor times a (rows, 1) column of dtype (strided_shape;
    the legacy kernel, casts and the OffsetCalculator), as MoE outputs times routing weights."""
    import torch
    from ..calibration.inputs import randn
    other = cast_partner(dtype)
    if torch.promote_types(getattr(torch, other), getattr(torch, dtype)) != getattr(torch, dtype):
        raise UserError(f"a cast product's dtype is its result's: {other} x {dtype} gives "
                        f"{torch.promote_types(getattr(torch, other), getattr(torch, dtype))}, "
                        f"not {dtype}")
    if shape == "flat":
        return torch.mul, lambda: (randn((numel,), other, device), randn((numel,), dtype, device))
    if shape != "rows":
        raise UserError(f"a cast product is timed flat (stride 0) or as a row broadcast "
                        f"(stride 1, dims {RUNNER_DIMS}); got the {shape!r} layout")
    rows, cols = strided_shape(numel)
    return torch.mul, lambda: (randn((rows, cols), other, device), randn((rows, 1), dtype, device))


RUNNERS = {"gelu": _unary_runner("gelu"), "silu": _unary_runner("silu"),
           "elementwise": elementwise_runner}
