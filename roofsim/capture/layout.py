"""Layout and strides: which elementwise / copy records run TensorIterator's strided kernel
(stride = 1) and which of those read a transposed operand (stride = 2), and the distinct
memory elements a view covers."""

from __future__ import annotations

# Kinds whose kernel PyTorch runs through TensorIterator: contiguous operands of one layout take
# the vectorized kernel, anything else (a broadcast operand, a permuted or sliced view, a write
# into a slice) the strided one, which indexes every element through its strides and on an
# H200 moves bytes at a fraction of the vectorized kernel's rate. Such records get stride = 1.
LAYOUT_KINDS = frozenset({"elementwise", "gelu", "silu", "copy"})

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
