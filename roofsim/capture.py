"""Capture: kernel records from a real PyTorch module, traced on meta tensors.

`capture(module, *args, **kwargs)` runs the module under a dispatch-level mode (TorchDispatchMode)
and turns every aten op that would launch a GPU kernel into one kernel record (count 1):
- kind and shape parameters (roofsim.records.SHAPE_PARAMS, as roofsim/kernels defines them),
  so the engine and calibration profiles treat captured and analytic records alike;
- FLOPs: torch.utils.flop_counter's formula where it has one (matmuls, convolutions, fused
  attention), our own where it is blind (`aten._grouped_mm`), and CUDA-core FLOPs for
  elementwise, norm, softmax and reduction ops with the per-element counts of roofsim/kernels.
  Matrix FLOPs on bf16/fp16/fp8 are tensor-core work, on fp32 CUDA-core work (DESIGN.md);
- bytes read and written from the tensors' sizes: every distinct input tensor is read once
  (broadcast dimensions, stride 0, are read once), every output written once; gathers read
  only the rows they gather. Records on TensorIterator's strided kernel (stride = 1, see
  LAYOUT_KINDS) read one element of every operand per output element instead, broadcast
  operands included: that kernel's time follows its loads, not distinct bytes. Views and
  metadata ops (view, permute, expand, ...) and allocations move nothing and are not records;
  the copy a CUDA kernel makes of a non-contiguous input (layer norm) is one. weight_bytes is
  the part read from module parameters (and views or dtype copies of them);
- the module path (qualified name of the innermost module running) as the record's `layer`.
Only ops on the simulated device (meta tensors by default) are records: host-side work on CPU
tensors (e.g. index arithmetic on `torch.arange` without a device) launches no GPU kernel.

Scaled dot-product attention: on meta and CPU tensors PyTorch decomposes
`F.scaled_dot_product_attention` into its math path, and on CPU the fused kernel hides the
attention core from FlopCounterMode. Capture instead intercepts SDPA at the function level and
runs the aten backend op that CUDA would launch (selection modelled on PyTorch's CUDA order for
bf16/fp16: flash attention without a mask, memory-efficient attention with an additive mask,
the math decomposition otherwise), so the record is the real fused kernel with its own FLOP
formula. `sdpa_backend` forces one backend: "cudnn" is what PyTorch 2.11 picks on Hopper (the
CUDA profiler on an H100 showed every SDPA call of the reference, masked or not, as one cuDNN
kernel); FLOPs are the same for every fused backend. Causal attention is counted over the full
seq_q x seq_kv scores, as torch.utils.flop_counter counts it (the kernel skips masked tiles; the
record's `causal` parameter says so).

MoE experts through `aten._grouped_mm` (transformers' default experts implementation on CUDA):
FLOPs 2 x rows x k x n over all groups, which do not depend on the routing. The weights read
do: capture assumes balanced routing, so min(experts, rows) experts receive rows and only their
weights are read (params: batch = active experts, m = rows per active expert).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .kernels._common import TENSOR_CORE_DTYPES
from .kernels.attention import ATTENTION_CUDA_FLOPS_PER_SCORE
from .kernels.elementwise import (ELEMENTWISE_FLOPS_PER_ELEMENT, GELU_FLOPS_PER_ELEMENT,
                                  SILU_FLOPS_PER_ELEMENT)
from .kernels.norm import LAYERNORM_FLOPS_PER_ELEMENT
from .kernels.reduction import REDUCTION_FLOPS_PER_ELEMENT
from .kernels.softmax import SOFTMAX_FLOPS_PER_ELEMENT
from .records import SHAPE_PARAMS, RecordTable

# Bump when a change to this module changes what a capture produces (invalidates the cache).
CAPTURE_VERSION = "5"

SDPA_BACKENDS = ("auto", "cudnn", "flash", "efficient", "math")
MATRIX_KINDS = frozenset({"gemm", "linear", "grouped_gemm", "attention", "conv2d"})

# Per-element CUDA-core FLOPs of ops not covered by a kernel-kind constant. Transcendentals
# count one FLOP (roofsim/kernels/elementwise.py); sigmoid = exp, add, divide.
SIGMOID_FLOPS_PER_ELEMENT = 3.0
# Interpolation per output element: linear = two multiplies and an add; bicubic = 4 x 4 taps,
# a multiply and an add each (SAM's position-embedding resize; small either way).
UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT = 3.0
UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT = 32.0

# Ops that launch no kernel: allocations, metadata, host syncs, asserts. (View ops are found
# from the schema: OpOverload.is_view.)
_NO_KERNEL = frozenset({
    "empty", "empty_strided", "empty_like", "new_empty", "new_empty_strided", "_unsafe_view",
    "_reshape_alias", "lift_fresh", "set_", "resize_", "_assert_async", "_assert_tensor_metadata",
    "_local_scalar_dense", "sym_size", "sym_stride", "sym_numel", "sym_storage_offset",
    "is_same_size", "_has_compatible_shallow_copy_type", "record_stream",
    "_functional_assert_async",
    "_assert_scalar",
})
_FILL_OPS = frozenset({"zero_", "fill_", "zeros", "zeros_like", "ones", "ones_like", "full",
                       "full_like", "arange", "scalar_tensor", "new_zeros", "new_ones", "new_full",
                       "linspace", "normal_", "uniform_", "tril", "triu"})
_COPY_OPS = frozenset({"_to_copy", "clone", "copy_", "cat", "stack", "constant_pad_nd",
                       "repeat", "_copy_from", "_copy_from_and_resize", "flip", "roll",
                       "contiguous", "pad"})
_INDEX_GATHER_OPS = frozenset({"index", "index_select", "gather", "take", "masked_select",
                               "repeat_interleave"})
_INDEX_SCATTER_OPS = frozenset({"index_put_", "index_put", "scatter", "scatter_", "index_add_",
                                "index_add", "index_copy_", "scatter_add_", "scatter_add",
                                "masked_scatter_", "masked_scatter"})
_REDUCTION_OPS = frozenset({"mean", "sum", "amax", "amin", "max", "min", "argmax", "argmin",
                            "topk", "sort", "cumsum", "histc", "prod", "var", "std", "norm",
                            "linalg_vector_norm", "any", "all", "logsumexp", "bincount"})
_SOFTMAX_OPS = frozenset({"_softmax", "_safe_softmax", "_log_softmax"})
# Elementwise ops PyTorch does not tag pointwise.
_EXTRA_ELEMENTWISE = frozenset({"floor_divide", "remainder", "masked_fill", "masked_fill_",
                                "where", "clamp", "clamp_min", "clamp_max"})
_UNARY_FLOPS = {"sigmoid": SIGMOID_FLOPS_PER_ELEMENT, "sigmoid_": SIGMOID_FLOPS_PER_ELEMENT,
                "gelu": GELU_FLOPS_PER_ELEMENT, "silu": SILU_FLOPS_PER_ELEMENT,
                "silu_": SILU_FLOPS_PER_ELEMENT, "gelu_": GELU_FLOPS_PER_ELEMENT,
                "upsample_linear1d": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT,
                "upsample_bilinear2d": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT,
                "upsample_bicubic2d": UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT,
                "_upsample_bicubic2d_aa": UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT,
                "_upsample_bilinear2d_aa": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT}
_KIND_OF_UNARY = {"gelu": "gelu", "gelu_": "gelu", "silu": "silu", "silu_": "silu"}
# Ops whose CUDA kernel first makes its input contiguous (a copy kernel the meta function does
# not show): layer norm calls X.contiguous() (aten/src/ATen/native/cuda/layer_norm_kernel.cu).
_CONTIGUOUS_INPUT_OPS = frozenset({"native_layer_norm"})
# In-place ops that overwrite their destination without reading it.
_WRITE_ONLY_DEST = frozenset({"copy_", "zero_", "fill_", "normal_", "uniform_", "index_put_",
                              "index_copy_", "masked_scatter_"})


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - the reference extra is missing
        from .errors import UserError
        raise UserError("capture needs torch: pip install 'roofsim[reference]'") from err
    return torch


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Capture:
    """Records of one traced call, plus what the trace modelled.

    counter_flops: per record, the FLOPs a FLOP counter attributes to it (torch.utils.
    flop_counter's formula; our formula for `_grouped_mm`; 0 for ops it does not count). Their
    sum is what the specification's "measured FLOPs" column counts.
    sdpa_backends: how many SDPA calls went to each backend. unknown_ops: aten ops capture has
    no rule for (recorded as copies of their outputs, 0 FLOPs); empty for the reference model.
    """

    table: RecordTable
    counter_flops: np.ndarray
    sdpa_backends: Mapping[str, int] = field(default_factory=dict)
    unknown_ops: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def matrix_flops(self) -> float:
        return float(np.dot(self.counter_flops, self.table.count))

    def totals(self) -> dict[str, float]:
        t = self.table.totals()
        t["counter_flops"] = self.matrix_flops
        return t

    def select(self, mask) -> "Capture":
        return Capture(self.table.select(mask), self.counter_flops[mask], self.sdpa_backends,
                       self.unknown_ops, self.notes)

    def under(self, prefix: str) -> "Capture":
        """Records of one module subtree (its qualified name, or a prefix of it)."""
        layer = self.table.layer.astype(str)
        mask = (layer == prefix) | np.char.startswith(layer, prefix + ".")
        return self.select(mask)

    def with_stage(self, stage: str) -> "Capture":
        return Capture(self.table.with_columns(stage=stage), self.counter_flops,
                       self.sdpa_backends, self.unknown_ops, self.notes)

    @staticmethod
    def concat(parts) -> "Capture":
        parts = list(parts)
        backends = Counter()
        for p in parts:
            backends.update(p.sdpa_backends)
        return Capture(RecordTable.concat([p.table for p in parts]),
                       np.concatenate([p.counter_flops for p in parts]) if parts else np.zeros(0),
                       dict(backends),
                       tuple(sorted({o for p in parts for o in p.unknown_ops})),
                       tuple(dict.fromkeys(n for p in parts for n in p.notes)))


# ---------------------------------------------------------------------------------------------
# Tensor helpers
# ---------------------------------------------------------------------------------------------

def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def _unique_elements(t) -> int:
    """Distinct memory elements a tensor view covers (broadcast dims, stride 0, count once)."""
    n = 1
    for size, stride in zip(t.shape, t.stride()):
        if size == 0:
            return 0
        if stride != 0:
            n *= size
    return n


def _flat_tensors(obj, torch, out: list) -> list:
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _flat_tensors(o, torch, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _flat_tensors(o, torch, out)
    return out


# ---------------------------------------------------------------------------------------------
# The tracer
# ---------------------------------------------------------------------------------------------

class _Tracer:
    """State of one capture: module stack, weight provenance, record columns."""

    def __init__(self, torch, device_type: str, sdpa_backend: str, stage: str):
        from torch.utils.flop_counter import flop_registry
        self.torch = torch
        self.flop_registry = flop_registry
        self.device_type = device_type
        self.sdpa_backend = sdpa_backend
        self.stage = stage
        self.stack: list[str] = []
        self.weight_ids: set[int] = set()
        self._keep: list = []            # strong refs: ids of weight views stay unique
        # (kind, name, dtype, layer, params, flops_tensor, flops_cuda, read, written,
        #  weight, counter flops)
        self.rows: list[tuple] = []
        self.sdpa_counts = Counter()
        self.unknown: set[str] = set()

    # -- provenance ----------------------------------------------------------------------
    def add_weights(self, tensors) -> None:
        for t in tensors:
            self.weight_ids.add(id(t))
            self._keep.append(t)

    def is_weight(self, t) -> bool:
        return id(t) in self.weight_ids

    @property
    def layer(self) -> str:
        return self.stack[-1] if self.stack else ""

    def on_device(self, tensors) -> bool:
        return any(t.device.type == self.device_type for t in tensors)

    # -- one op ------------------------------------------------------------------------------
    def record_op(self, func, args, kwargs, out) -> None:
        torch = self.torch
        name = func.overloadpacket.__name__
        ins = _flat_tensors(args, torch, [])
        ins += _flat_tensors(kwargs, torch, [])
        outs = _flat_tensors(out, torch, [])
        if getattr(func, "is_view", False) or name in _NO_KERNEL:
            # Views of parameters are still parameters (W.t() feeding addmm).
            if ins and self.is_weight(ins[0]):
                self.add_weights(outs)
            return
        if not self.on_device(ins + outs):
            return
        if name == "_to_copy" and ins and self.is_weight(ins[0]):
            self.add_weights(outs)          # a dtype copy of a weight is still weight data
        if name in _CONTIGUOUS_INPUT_OPS and ins and ins[0].device.type == self.device_type \
                and not ins[0].is_contiguous():
            self.rows.append(self._contiguous_copy(ins[0]))
        row = self._classify(func, name, args, kwargs, ins, outs, out)
        self.rows.append(row)

    def _contiguous_copy(self, t) -> tuple:
        """The copy a CUDA kernel makes of a non-contiguous input before it runs (invisible on
        meta tensors, where the op's meta function never copies): a strided copy kernel."""
        n = t.numel()
        b = float(n * t.element_size())
        stride = TRANSPOSED if t.dim() and t.stride()[-1] != 1 and t.shape[-1] > 1 else 1
        return ("copy", "aten.copy_", _dtype_name(t.dtype), self.layer,
                {"numel": n, "stride": stride}, 0.0, 0.0, b, b, b if self.is_weight(t) else 0.0,
                0.0)

    def _bytes(self, name, ins, outs, gather_rows=None):
        """(bytes read, bytes written, weight bytes) from tensor sizes."""
        torch = self.torch
        seen = set()
        read = weight = 0.0
        inplace_dest = ins[0] if (name.endswith("_") and ins) else None
        for t in ins:
            if id(t) in seen or t.device.type != self.device_type:
                continue
            seen.add(id(t))
            if t is inplace_dest and name in _WRITE_ONLY_DEST:
                continue
            b = _unique_elements(t) * t.element_size()
            read += b
            if self.is_weight(t):
                weight += b
        written = 0.0
        out_seen = set()
        for t in outs:
            if id(t) in out_seen or t.device.type != self.device_type:
                continue
            out_seen.add(id(t))
            if t.dtype in (torch.uint64, torch.int64) and t.numel() <= 2 \
                    and name.startswith("_scaled_dot_product"):
                continue                     # RNG seed/offset scalars of fused attention
            written += t.numel() * t.element_size()
        return read, written, weight

    def _strided_read(self, name, ins, main) -> float:
        """Bytes the strided TensorIterator kernel loads: one element of every operand per
        output element, each through its strides. A broadcast operand is loaded again for
        every output element it feeds (from cache, but each load costs the kernel as much as
        a fresh one), so the kernel's time follows output elements x operands, as the
        strided suite measures it (roofsim/kernels/elementwise.py), not distinct bytes."""
        seen = set()
        read = 0.0
        inplace_dest = ins[0] if (name.endswith("_") and ins) else None
        for t in ins:
            if id(t) in seen or t.device.type != self.device_type or t.numel() <= 1:
                continue
            seen.add(id(t))
            if t is inplace_dest and name in _WRITE_ONLY_DEST:
                continue
            read += main.numel() * t.element_size()
        return read

    def _classify(self, func, name, args, kwargs, ins, outs, out):
        torch = self.torch
        params: dict[str, float] = {}
        counter = 0.0
        matrix = 0.0
        cuda = 0.0
        main = outs[0] if outs else ins[0]
        dtype = _dtype_name(main.dtype)
        read, written, weight = self._bytes(name, ins, outs)
        packet = func.overloadpacket

        if name in ("mm", "addmm", "bmm", "baddbmm", "_grouped_mm", "convolution",
                    "_scaled_dot_product_flash_attention",
                    "_scaled_dot_product_efficient_attention",
                    "_scaled_dot_product_cudnn_attention",
                    "_scaled_dot_product_flash_attention_for_cpu"):
            kind, params, matrix, cuda, dtype, read, written, weight, counter = self._matrix(
                name, packet, args, kwargs, out, outs, read, written, weight)
        elif name in _SOFTMAX_OPS:
            x = args[0]
            dim = args[1] % x.dim()
            cols = x.shape[dim]
            rows = x.numel() // max(cols, 1)
            kind, params = "softmax", {"rows": rows, "cols": cols}
            cuda = SOFTMAX_FLOPS_PER_ELEMENT * x.numel()
            dtype = _dtype_name(x.dtype)
        elif name == "native_layer_norm":
            x, normalized = args[0], args[1]
            cols = math.prod(normalized)
            kind, params = "layernorm", {"rows": x.numel() // max(cols, 1), "cols": cols}
            cuda = LAYERNORM_FLOPS_PER_ELEMENT * x.numel()
            dtype = _dtype_name(x.dtype)
        elif name == "embedding":
            w, idx = args[0], args[1]
            rows, cols = idx.numel(), w.shape[-1]
            kind, params = "embedding", {"rows": rows, "cols": cols}
            touched = rows * cols * w.element_size()
            read = idx.numel() * idx.element_size() + touched
            weight = touched if self.is_weight(w) else 0.0
            dtype = _dtype_name(w.dtype)
        elif name in _INDEX_GATHER_OPS:
            src = ins[0]
            kind, params = "index", {"numel": main.numel()}
            idx_bytes = sum(t.numel() * t.element_size() for t in ins[1:]
                            if t.device.type == self.device_type)
            gathered = main.numel() * src.element_size()
            read = gathered + idx_bytes
            weight = gathered if self.is_weight(src) else 0.0
            dtype = _dtype_name(src.dtype)
        elif name in _INDEX_SCATTER_OPS:
            dest = ins[0]
            values = [t for t in ins[1:] if t.is_floating_point() or t.dtype == dest.dtype]
            n = values[-1].numel() if values else dest.numel()
            idx_bytes = sum(t.numel() * t.element_size() for t in ins[1:]
                            if not (t.is_floating_point() or t.dtype == dest.dtype)
                            and t.device.type == self.device_type)
            e = dest.element_size()
            accumulate = name.startswith(("index_add", "scatter_add")) or (
                name.startswith("index_put") and len(args) > 3 and bool(args[3]))
            kind, params = "index", {"numel": n}
            read = n * e * (2 if accumulate else 1) + idx_bytes
            written = n * e
            weight = 0.0
            cuda = float(n) if accumulate else 0.0
            dtype = _dtype_name(dest.dtype)
        elif name in _REDUCTION_OPS:
            x = ins[0]
            rows = main.numel()
            kind, params = "reduction", {"rows": rows, "cols": x.numel() / max(rows, 1)}
            cuda = REDUCTION_FLOPS_PER_ELEMENT * x.numel()
            dtype = _dtype_name(x.dtype)
        elif name in _FILL_OPS:
            kind, params = "copy", {"numel": main.numel()}
        elif name in _COPY_OPS:
            kind, params = "copy", {"numel": main.numel()}
        elif name in _UNARY_FLOPS:
            kind = _KIND_OF_UNARY.get(name, "elementwise")
            params = {"numel": main.numel()}
            cuda = _UNARY_FLOPS[name] * main.numel()
        elif torch.Tag.pointwise in func.tags or name in _EXTRA_ELEMENTWISE:
            kind, params = "elementwise", {"numel": main.numel()}
            cuda = ELEMENTWISE_FLOPS_PER_ELEMENT * main.numel()
        else:
            self.unknown.add(str(func))
            kind, params = "copy", {"numel": main.numel()}
        if kind in LAYOUT_KINDS and _strided_path(name, ins, outs, self.device_type):
            params = {**params, "stride": TRANSPOSED if _transposed(name, ins, outs, main,
                                                                    self.device_type) else 1}
            if name not in ("cat", "stack"):
                read = self._strided_read(name, ins, main)
        return (kind, f"aten.{name}", dtype, self.layer, params, matrix, cuda,
                read, written, weight, counter)

    def _matrix(self, name, packet, args, kwargs, out, outs, read, written, weight):
        """Matrix ops: kind, shape params, matrix FLOPs, extra CUDA-core FLOPs, bytes."""
        cuda = 0.0
        if name == "_grouped_mm":
            a, b = args[0], args[1]
            dtype = _dtype_name(a.dtype)
            m_total, k = a.shape[-2] if a.dim() == 3 else a.shape[0], a.shape[-1]
            n = b.shape[-1]
            groups = b.shape[0] if b.dim() == 3 else (a.shape[0] if a.dim() == 3 else 1)
            if a.dim() == 3 and b.dim() == 3:
                rows = a.shape[0] * a.shape[1]
            elif a.dim() == 2 and b.dim() == 2:
                rows, groups = a.shape[0], 1       # offsets split k; one output block per group
            else:
                rows = a.shape[0] if a.dim() == 2 else a.shape[0] * a.shape[1]
            matrix = 2.0 * rows * k * n
            if a.dim() == 2 and b.dim() == 3:
                # Balanced routing: min(experts, rows) experts get rows; only their weights move.
                active = max(1, min(groups, rows))
                wbytes = active * k * n * b.element_size()
                read = read - _unique_elements(b) * b.element_size() + wbytes
                weight = wbytes if self.is_weight(b) else 0.0
                params = {"batch": active, "m": rows / active, "k": k, "n": n, "bias": 0}
            else:
                params = {"batch": groups, "m": rows / max(groups, 1), "k": k, "n": n, "bias": 0}
            kind = "grouped_gemm"
        elif name in ("mm", "addmm"):
            a, b = (args[1], args[2]) if name == "addmm" else (args[0], args[1])
            m, k, n = a.shape[0], a.shape[1], b.shape[1]
            dtype = _dtype_name(a.dtype)
            matrix = float(self.flop_registry[packet](*args, **kwargs, out_val=out))
            has_bias = name == "addmm"
            if self.is_weight(b) or self.is_weight(a):
                kind = "linear"
                params = {"m": m, "k": k, "n": n, "bias": int(has_bias), "batch": 1}
            else:
                kind = "gemm"
                params = {"m": m, "k": k, "n": n, "batch": 1}
            cuda = float(m * n) if has_bias else 0.0
        elif name in ("bmm", "baddbmm"):
            a, b = (args[1], args[2]) if name == "baddbmm" else (args[0], args[1])
            dtype = _dtype_name(a.dtype)
            matrix = float(self.flop_registry[packet](*args, **kwargs, out_val=out))
            kind = "gemm"
            params = {"batch": a.shape[0], "m": a.shape[1], "k": a.shape[2], "n": b.shape[2]}
            if name == "baddbmm":
                cuda = float(a.shape[0] * a.shape[1] * b.shape[2])
        elif name == "convolution":
            x, w, bias = args[0], args[1], args[2]
            stride, padding = args[3], args[4]
            dtype = _dtype_name(x.dtype)
            matrix = float(self.flop_registry[packet](*args, **kwargs, out_val=out))
            kind = "conv2d"
            params = {"batch": x.shape[0], "c_in": x.shape[1], "c_out": w.shape[0],
                      "h": x.shape[-2], "w": x.shape[-1], "kernel": w.shape[-1],
                      "stride": stride[0], "padding": padding[0], "bias": int(bias is not None)}
            if bias is not None:
                cuda = float(outs[0].numel())
        else:  # fused attention
            q, k, v = args[0], args[1], args[2]
            dtype = _dtype_name(q.dtype)
            matrix = float(self.flop_registry[packet](*args, **kwargs, out_val=out)) \
                if packet in self.flop_registry else 4.0 * q.shape[0] * q.shape[1] * \
                q.shape[2] * k.shape[2] * q.shape[3]
            causal = _attention_is_causal(name, args, kwargs)
            kind = "attention"
            b_, h_, sq, d = q.shape[0], q.shape[1], q.shape[2], q.shape[3]
            skv = k.shape[2]
            params = {"batch": b_, "heads": h_, "seq_q": sq, "seq_kv": skv, "head_dim": d,
                      "causal": int(causal)}
            scores = b_ * h_ * sq * skv
            has_bias = name in ("_scaled_dot_product_efficient_attention",
                                "_scaled_dot_product_cudnn_attention") and args[3] is not None
            if has_bias:
                params["bias"] = 1          # an additive mask is read: another kernel variant
            # Bytes as the fused kernel moves them (roofsim/kernels/attention.py: K and V
            # streamed once per query tile, the mask read once), the convention calibration
            # measured the kernel under; the tensors' sizes alone count K and V once.
            from .kernels import work
            moved = work("attention", params, dtype)
            read = float(moved["bytes_read"][0])
            written = float(moved["bytes_written"][0])
            cuda = ATTENTION_CUDA_FLOPS_PER_SCORE * scores + (scores if has_bias else 0.0)
        if dtype not in TENSOR_CORE_DTYPES:
            cuda += matrix
            tensor = 0.0
        else:
            tensor = matrix
        return kind, params, tensor, cuda, dtype, read, written, weight, matrix

    # -- SDPA -----------------------------------------------------------------------------
    def run_sdpa(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
             scale=None, enable_gqa=False):
        torch = self.torch
        backend = self._choose_backend(query, key, value, attn_mask, enable_gqa)
        self.sdpa_counts[backend] += 1
        if backend == "math":
            return torch.nn.functional.scaled_dot_product_attention(
                query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                scale=scale, enable_gqa=enable_gqa)
        if backend == "flash":
            return torch.ops.aten._scaled_dot_product_flash_attention(
                query, key, value, dropout_p, is_causal, False, scale=scale)[0]
        bias = attn_mask
        if bias is not None:
            if bias.dtype == torch.bool:   # PyTorch turns a boolean mask into an additive one
                bias = torch.zeros_like(bias, dtype=query.dtype).masked_fill_(
                    bias.logical_not(), float("-inf"))
            bias = bias.expand(query.shape[0], query.shape[1], query.shape[2], key.shape[2])
        if backend == "cudnn":
            return torch.ops.aten._scaled_dot_product_cudnn_attention(
                query, key, value, bias, False, dropout_p, is_causal, False, scale=scale)[0]
        return torch.ops.aten._scaled_dot_product_efficient_attention(
            query, key, value, bias, False, dropout_p, is_causal, scale=scale)[0]

    def _choose_backend(self, query, key, value, attn_mask, enable_gqa) -> str:
        if self.sdpa_backend != "auto":
            chosen = self.sdpa_backend
            if chosen == "flash" and attn_mask is not None:
                chosen = "efficient"        # flash takes no mask
        else:
            torch = self.torch
            fused_dtype = query.dtype in (torch.float16, torch.bfloat16)
            d = query.shape[-1]
            same_heads = query.shape[1] == key.shape[1] and key.shape[2] == value.shape[2]
            if not fused_dtype or query.dim() != 4 or not same_heads or d % 8 or d > 256:
                chosen = "math"
            elif attn_mask is None:
                chosen = "flash"
            else:
                chosen = "efficient"
        if chosen != "math" and query.shape[1] != key.shape[1]:
            chosen = "math"                 # grouped KV heads: leave it to the math path
        return chosen


# Kinds whose kernel PyTorch runs through TensorIterator: contiguous operands of one layout take
# the vectorized kernel, anything else (a broadcast operand, a permuted or sliced view, a write
# into a slice) the strided one, which indexes every element through its strides and on an
# H200 moves bytes at a fraction of the vectorized kernel's rate. Such records get stride = 1.
LAYOUT_KINDS = frozenset({"elementwise", "gelu", "silu", "copy"})


def _dense(t) -> bool:
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


def _strided_path(name: str, ins, outs, device_type: str) -> bool:
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
    if not _dense(ref):
        return True
    return any(tuple(t.shape) != tuple(ref.shape) or not _dense(t) or _layout(t) != _layout(ref)
               for t in tensors[1:])


# stride = 2: the strided kernel with a transposed operand, one whose elements along the output's
# innermost dimension are not adjacent (SAM's residual stream stays in the patch embedding's
# channels-first memory order: every residual add and layer norm input is such a transpose).
# Neighbouring threads then load from different rows: on an H100 such adds and copies took
# about 3x the time of the row-sliced strided case (e2e kernels at 10x10: 1.0 ms vs 0.35 ms).
TRANSPOSED = 2


def _transposed(name: str, ins, outs, main, device_type: str) -> bool:
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


def _attention_is_causal(name, args, kwargs) -> bool:
    if name in ("_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention"):
        v = args[6] if len(args) > 6 else kwargs.get("is_causal", False)
    else:
        v = args[4] if len(args) > 4 else kwargs.get("is_causal", False)
    return bool(v)


def capture(module, *args, stage: str = "", prefix: str = "", sdpa_backend: str = "auto",
            device_type: str = "meta", **kwargs) -> Capture:
    """Trace `module(*args, **kwargs)` and return one kernel record per kernel-launching aten op.

    prefix: prepended to module paths (e.g. "vision"); stage: the records' stage label;
    sdpa_backend: "auto" (PyTorch's default CUDA order, see the module docstring), "cudnn"
    (what it picks on Hopper), "flash", "efficient" or "math"; device_type: which tensors are
    the simulated device (meta for counting).
    """
    torch = _torch()
    if sdpa_backend not in SDPA_BACKENDS:
        from .errors import UserError
        raise UserError(f"sdpa_backend must be one of {', '.join(SDPA_BACKENDS)}, "
                        f"got {sdpa_backend!r}")
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    tracer = _Tracer(torch, device_type, sdpa_backend, stage)
    tracer.add_weights(list(module.parameters()))
    sdpa_fn = torch.nn.functional.scaled_dot_product_attention

    class _Dispatch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            tracer.record_op(func, args, kwargs, out)
            return out

    class _Function(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is sdpa_fn:
                with torch._C.DisableTorchFunction():
                    return tracer.run_sdpa(*args, **kwargs)
            return func(*args, **kwargs)

    handles = []
    root = prefix
    for qual, mod in module.named_modules():
        path = ".".join(p for p in (root, qual) if p)

        def pre(_m, _a, path=path):
            tracer.stack.append(path)

        def post(_m, _a, _o):
            tracer.stack.pop()

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post, always_call=True))
    try:
        with torch.no_grad(), _Function(), _Dispatch():
            module(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return _to_capture(tracer)


def _to_capture(tracer: _Tracer) -> Capture:
    rows = tracer.rows
    n = len(rows)
    index = {p: i for i, p in enumerate(SHAPE_PARAMS)}
    params = np.full((n, len(SHAPE_PARAMS)), np.nan)
    for i, r in enumerate(rows):
        for key, value in r[4].items():
            params[i, index[key]] = value
    col = lambda j, dt: np.array([r[j] for r in rows], dtype=dt)  # noqa: E731
    table = RecordTable.from_columns(
        n, kind=col(0, object), name=col(1, object), dtype=col(2, object), stage=tracer.stage,
        layer=col(3, object), params={p: params[:, index[p]] for p in SHAPE_PARAMS},
        flops_tensor=col(5, np.float64), flops_cuda=col(6, np.float64),
        bytes_read=col(7, np.float64), bytes_written=col(8, np.float64),
        weight_bytes=np.minimum(col(9, np.float64), col(7, np.float64)))
    return Capture(table=table, counter_flops=col(10, np.float64),
                   sdpa_backends=dict(tracer.sdpa_counts),
                   unknown_ops=tuple(sorted(tracer.unknown)))


# ---------------------------------------------------------------------------------------------
# On-disk cache
# ---------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """ROOFSIM_CACHE_DIR, else ~/.cache/roofsim (captures live under capture/)."""
    base = os.environ.get("ROOFSIM_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                "roofsim")
    return Path(base) / "capture"


def cache_key(config: Mapping[str, Any]) -> str:
    """Hash of a JSON-able configuration + torch/transformers versions + CAPTURE_VERSION."""
    torch = _torch()
    try:
        import transformers
        tf_version = transformers.__version__
    except ImportError:  # pragma: no cover
        tf_version = "none"
    blob = json.dumps({"config": config, "torch": torch.__version__, "transformers": tf_version,
                       "capture": CAPTURE_VERSION, "per_element": _per_element_counts()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _per_element_counts() -> dict[str, float]:
    """The roofsim/kernels constants a capture's FLOPs depend on (part of the cache key)."""
    return {"attention": ATTENTION_CUDA_FLOPS_PER_SCORE,
            "elementwise": ELEMENTWISE_FLOPS_PER_ELEMENT, "gelu": GELU_FLOPS_PER_ELEMENT,
            "silu": SILU_FLOPS_PER_ELEMENT,
            "layernorm": LAYERNORM_FLOPS_PER_ELEMENT, "reduction": REDUCTION_FLOPS_PER_ELEMENT,
            "softmax": SOFTMAX_FLOPS_PER_ELEMENT, "sigmoid": SIGMOID_FLOPS_PER_ELEMENT,
            "upsample_linear": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT,
            "upsample_bicubic": UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT}


_STR_COLUMNS = ("kind", "name", "dtype", "stage", "layer")
_NUM_COLUMNS = ("params", "flops_tensor", "flops_cuda", "bytes_read", "bytes_written",
                "weight_bytes", "count")


def save_capture(path: Path, cap: Capture) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = cap.table
    arrays = {c: np.asarray(getattr(t, c), dtype=str) for c in _STR_COLUMNS}
    arrays.update({c: getattr(t, c) for c in _NUM_COLUMNS})
    arrays["counter_flops"] = cap.counter_flops
    arrays["meta"] = np.asarray(json.dumps({
        "sdpa_backends": dict(cap.sdpa_backends), "unknown_ops": list(cap.unknown_ops),
        "notes": list(cap.notes), "n": len(t)}))
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_capture(path: Path) -> Capture:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        cols = {c: z[c].astype(object) for c in _STR_COLUMNS}
        if meta["n"] == 0:
            cols = {c: np.zeros(0, dtype=object) for c in _STR_COLUMNS}
        table = RecordTable(**cols, **{c: z[c].astype(np.float64) for c in _NUM_COLUMNS})
        return Capture(table=table, counter_flops=z["counter_flops"].astype(np.float64),
                       sdpa_backends=meta["sdpa_backends"], unknown_ops=tuple(meta["unknown_ops"]),
                       notes=tuple(meta["notes"]))


def cached_capture(config: Mapping[str, Any], produce: Callable[[], Capture], *,
                   use_cache: bool = True) -> Capture:
    """The capture for `config` from the on-disk cache, or `produce()` it and store it."""
    if not use_cache:
        return produce()
    path = cache_dir() / f"{cache_key(config)}.npz"
    if path.exists():
        try:
            return load_capture(path)
        except (OSError, ValueError, KeyError):
            pass                                    # unreadable entry: capture again
    cap = produce()
    try:
        save_capture(path, cap)
    except OSError:
        pass                                        # a read-only cache dir only costs time
    return cap
