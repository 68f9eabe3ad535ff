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

from ._common import element_bytes, param, result, rows_of

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
    return _unary(params, dtype, "elementwise", ELEMENTWISE_FLOPS_PER_ELEMENT, ELEMENTWISE_INPUTS)


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


def _unary_runner(op_name: str):
    def runner(params, dtype, device):
        import torch.nn.functional as F
        from ..calibration.inputs import randn
        numel = int(params["numel"])
        fn = getattr(F, op_name)
        if int(params.get("stride", 0)):
            # The strided kernel: the input is the first half of each row (a chunk), as the
            # gated MLP's gate half is.
            rows, cols = strided_shape(numel)
            return (lambda x: fn(x[:, :cols])), lambda: (randn((rows, 2 * cols), dtype, device),)
        return fn, lambda: (randn((numel,), dtype, device),)
    runner.__doc__ = (f"F.{op_name} on a flat tensor of numel random elements; with stride = 1 "
                      f"on a row slice (TensorIterator's strided kernel).")
    return runner


def elementwise_runner(params, dtype, device):
    """torch.add of two flat tensors of numel elements (the binary op the formula counts); with
    stride = 1, of a row slice and a (rows, cols) tensor (TensorIterator's strided kernel,
    the same bytes); with stride = 2, of a transposed (cols, rows) tensor and a (rows, cols)
    one (the strided kernel with a transposed operand, as SAM's channels-first residual adds)."""
    import torch
    from ..calibration.inputs import randn
    numel = int(params["numel"])
    if int(params.get("stride", 0)) >= 2:
        rows, cols = strided_shape(numel)
        return (lambda a, b: torch.add(a.t(), b)), lambda: (
            randn((cols, rows), dtype, device), randn((rows, cols), dtype, device))
    if int(params.get("stride", 0)):
        rows, cols = strided_shape(numel)
        return (lambda a, b: torch.add(a[:, :cols], b)), lambda: (
            randn((rows, 2 * cols), dtype, device), randn((rows, cols), dtype, device))
    return torch.add, lambda: (randn((numel,), dtype, device), randn((numel,), dtype, device))


RUNNERS = {"gelu": _unary_runner("gelu"), "silu": _unary_runner("silu"),
           "elementwise": elementwise_runner}
