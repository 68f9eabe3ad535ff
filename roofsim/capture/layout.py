"""Layout and strides: which elementwise / copy records run TensorIterator's strided kernel
(stride = 1) and which of those read a transposed operand (stride = 2), and the distinct
memory elements a view covers."""

from __future__ import annotations

# LAYOUT_KINDS (roofsim.kernels._common): kinds whose kernel PyTorch runs through
# TensorIterator: contiguous operands of one layout take the vectorized kernel, anything else
# (a broadcast operand, a permuted or sliced view, a write into a slice) the strided one, which
# indexes every element through its strides and on an H200 moves bytes at a fraction of the
# vectorized kernel's rate. Such records get stride = 1.
from ..kernels._common import LAYOUT_KINDS  # noqa: F401  (re-exported: roofsim.capture)

# stride = 2: the strided kernel with a transposed operand, one whose elements along the output's
# innermost dimension are not adjacent (SAM's residual stream stays in the patch embedding's
# channels-first memory order: every residual add and layer norm input is such a transpose).
# Neighbouring threads then load from different rows: on an H100 such adds and copies took
# about 3x the time of the row-sliced strided case (e2e kernels at 10x10: 1.0 ms vs 0.35 ms).
STRIDED = 1
TRANSPOSED = 2


def unique_elements(t) -> int:
    """Distinct memory elements a tensor view covers (broadcast dims, stride 0, count once)."""
    n = 1
    for size, stride in zip(t.shape, t.stride()):
        if size == 0:
            return 0
        if stride != 0:
            n *= size
    return n


def dense(t) -> bool:
    """Non-overlapping and dense: the elements fill one block, in some dimension order."""
    dims = sorted(((st, sz) for sz, st in zip(t.shape, t.stride()) if sz > 1), reverse=True)
    expected = 1
    for st, sz in reversed(dims):
        if st != expected:
            return False
        expected *= sz
    return True


def _layout(t) -> tuple:
    return tuple(st for sz, st in zip(t.shape, t.stride()) if sz > 1)


def strided_path(name: str, ins, outs, device_type: str) -> bool:
    """Whether TensorIterator would take its strided path for this op: an operand of another
    shape (broadcast), not dense, or laid out unlike the output. cat copies each input with
    one kernel; it is strided when an input is not contiguous."""
    tensors = [t for t in outs + ins if t.device.type == device_type and t.numel() > 1]
    if not tensors:
        return False
    if name in ("cat", "stack"):
        return any(not t.is_contiguous() for t in ins
                   if t.device.type == device_type and t.numel() > 1)
    ref = tensors[0]
    if not dense(ref):
        return True
    return any(tuple(t.shape) != tuple(ref.shape) or not dense(t) or _layout(t) != _layout(ref)
               for t in tensors[1:])


def casts(name: str, ins, outs, device_type: str) -> bool:
    """Whether TensorIterator converts an operand's dtype element by element (its dynamic-
    casting path, roofsim.kernels._common.LAYOUTS 'cast'): the floating-point tensors of more
    than one element among the inputs and the output are not all of one dtype (a bf16
    activation times fp32 routing weights, a .float() copy). (cat, which copies each input
    with its own kernel, is not asked: roofsim.kernels._common.CAST_KINDS.)"""
    dtypes = {t.dtype for t in ins + outs[:1]
              if t.device.type == device_type and t.numel() > 1 and t.is_floating_point()}
    return len(dtypes) > 1


def outer_reduction(x, dim) -> bool:
    """Whether a reduction of `x` over `dim` (an int, a list of them; None: every dim) keeps
    the innermost dim of more than one element: its outputs then lie contiguously and each
    thread reduces along a strided dim (the MoE's sum over the top-k experts of [tokens, k,
    hidden]), not one row at a time."""
    if dim is None or x.dim() == 0 or x.shape[-1] <= 1 or not x.is_contiguous():
        return False
    dims = [dim] if isinstance(dim, int) else list(dim) if isinstance(dim, (list, tuple)) else None
    if not dims or not all(isinstance(d, int) for d in dims):
        return False
    return (x.dim() - 1) not in {d % x.dim() for d in dims}


def transposed(name: str, ins, outs, main, device_type: str) -> bool:
    """Whether an operand of the output's shape is not unit-stride along the output's fastest
    dimension (broadcast operands, stride 0 there, are not transposed)."""
    if name in ("cat", "stack") or main.dim() == 0:
        return False
    dims = [(st, i) for i, (sz, st) in enumerate(zip(main.shape, main.stride())) if sz > 1]
    if not dims:
        return False
    fastest = min(dims)[1]
    offset = main.dim() - fastest                     # the same dimension counted from the right
    for t in ins + outs:
        if t is main or t.device.type != device_type or t.dim() < offset or t.numel() <= 1:
            continue
        size, stride = t.shape[-offset], t.stride()[-offset]
        if size > 1 and stride not in (0, 1):
            return True
    return False


def copy_stride(t) -> int:
    """stride parameter of a contiguous() copy of `t`: transposed when its last dimension is
    not unit-stride, else the strided kernel."""
    return TRANSPOSED if t.dim() and t.stride()[-1] != 1 and t.shape[-1] > 1 else STRIDED


# ---- iteration dimensions of the strided kernel ---------------------------------------------
# TensorIterator's strided kernel finds every operand's offset per element through an
# OffsetCalculator: one integer divmod per iteration dimension and one multiply-add per operand
# per dimension (roofsim.perfmodel's index term). The dimensions it loops over are the op's
# after TensorIterator reorders them by stride and coalesces neighbours
# (aten/src/ATen/TensorIterator.cpp: reorder_dimensions, coalesce_dimensions), which
# `iteration_dims` repeats. A 5-D broadcast add [240,40,40,40,1] + [240,40,40,1,40] loops over
# 3 ([40, 40, 384000]); a row slice x[:, :c] over 2.


def _reorder(shape, strides) -> list[int]:
    """TensorIterator::reorder_dimensions: the dims, fastest first. Insertion sort over
    (n-1 .. 0) with its comparison: the first operand (outputs first) whose strides in the two
    dims are both nonzero decides, the smaller stride first; equal strides put the smaller
    size first; broadcast (stride 0) leaves the choice to the next operand."""
    nd = len(shape)
    perm = list(range(nd - 1, -1, -1))

    def should_swap(d0, d1) -> int:
        for st in strides:
            s0, s1 = st[d0], st[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 < s1:
                return -1
            if s0 > s1:
                return 1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    for i in range(1, nd):
        dim1 = i
        for dim0 in range(i - 1, -1, -1):
            c = should_swap(perm[dim0], perm[dim1])
            if c > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif c < 0:
                break
    return perm


def coalesced_shape(shape, strides) -> tuple[int, ...]:
    """The iteration shape (fastest dimension first) TensorIterator's strided kernel loops over.
    shape: the op's iteration (output) shape; strides: one sequence per operand, outputs first,
    aligned to shape, 0 where the operand is broadcast. Dims are reordered by stride, then
    neighbours d0 (faster), d1 merge when either has size 1 or, for every operand,
    stride[d0] x shape[d0] == stride[d1] (TensorIterator::coalesce_dimensions)."""
    shape = [int(s) for s in shape]
    strides = [[int(s) for s in st] for st in strides]
    if len(shape) == 0:
        return ()
    perm = _reorder(shape, strides)
    size = [shape[d] for d in perm]
    st = [[s[d] for d in perm] for s in strides]
    prev = 0
    for dim in range(1, len(size)):
        if size[prev] == 1 or size[dim] == 1 or all(
                s[prev] * size[prev] == s[dim] for s in st):
            if size[prev] == 1:
                for s in st:
                    s[prev] = s[dim]
            size[prev] *= size[dim]
        else:
            prev += 1
            size[prev] = size[dim]
            for s in st:
                s[prev] = s[dim]
    return tuple(size[: prev + 1])


def _aligned_strides(t, shape) -> list[int]:
    """t's strides against the iteration shape, as TensorIterator's compute_strides sets them:
    leading dims t lacks and dims where t has size 1 but the shape does not are stride 0."""
    offset = len(shape) - t.dim()
    out = [0] * len(shape)
    for i, (sz, st) in enumerate(zip(t.shape, t.stride())):
        out[offset + i] = 0 if (sz == 1 and shape[offset + i] != 1) else int(st)
    return out


def iteration_dims(name: str, ins, outs, device_type: str, args=()) -> int:
    """Dimensions TensorIterator's strided kernel loops over for this op (its operands on the
    simulated device, outputs first). cat / stack: each input is copied into its slice of the
    output by one copy kernel; the largest count among the inputs."""
    if name in ("cat", "stack"):
        return _cat_dims(name, ins, outs, device_type, args)
    tensors = [t for t in outs + ins if t.device.type == device_type and t.numel() > 1]
    if not tensors:
        return 1
    main = outs[0] if outs and outs[0].device.type == device_type else tensors[0]
    shape = list(main.shape)
    ops = [t for t in tensors if t.dim() <= len(shape)]
    return max(len(coalesced_shape(shape, [_aligned_strides(t, shape) for t in ops])), 1)


def _cat_dims(name, ins, outs, device_type, args) -> int:
    if not outs or outs[0].device.type != device_type:
        return 1
    out = outs[0]
    dim = args[1] if len(args) > 1 and isinstance(args[1], int) else 0
    dim %= max(out.dim(), 1)
    best = 1
    for t in ins:
        if t.device.type != device_type or t.numel() <= 1:
            continue
        shape = list(t.shape)
        strides = list(t.stride())
        if name == "stack":
            shape.insert(dim, 1)
            strides.insert(dim, 0)
        if len(shape) != out.dim():
            continue
        slice_strides = [0 if sz == 1 else int(st) for sz, st in zip(shape, out.stride())]
        own = [0 if sz == 1 else int(st) for sz, st in zip(shape, strides)]
        best = max(best, len(coalesced_shape(shape, [slice_strides, own])))
    return best


def copy_dims(t) -> int:
    """Dimensions of the strided kernel that copies `t` into a new contiguous tensor."""
    shape = list(t.shape)
    contiguous, step = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        contiguous[i] = step if shape[i] != 1 else 0
        step *= shape[i]
    own = [0 if sz == 1 else int(st) for sz, st in zip(shape, t.stride())]
    return max(len(coalesced_shape(shape, [contiguous, own])), 1)
