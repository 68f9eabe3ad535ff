"""The tracer: one kernel record per kernel-launching aten op of a module's call.

`capture(module, *args, **kwargs)` runs the module under a dispatch-level mode
(TorchDispatchMode) and turns every aten op that would launch a GPU kernel into one KernelRow:
- kind and shape parameters (roofsim.records.SHAPE_PARAMS, as roofsim/kernels defines them),
  so the engine and calibration profiles treat captured and analytic records alike;
- FLOPs: torch.utils.flop_counter's formula where it has one (matmuls, convolutions, fused
  attention), our own where it is blind (`aten._grouped_mm`), and CUDA-core FLOPs for
  elementwise, norm, softmax and reduction ops with the per-element counts of roofsim/kernels.
  Matrix FLOPs on bf16/fp16/fp8 are tensor-core work, on fp32 CUDA-core work (DESIGN.md);
- bytes read and written from the tensors' sizes: every distinct input tensor is read once
  (broadcast dimensions, stride 0, are read once), every output written once; gathers read
  only the rows they gather. Records on TensorIterator's strided kernel (roofsim.capture.
  layout) count the same distinct bytes (a broadcast operand's repeated loads hit the cache)
  and carry `dims`, the dimensions that kernel loops over after TensorIterator coalesces them
  (layout.iteration_dims): its time per element follows its offset arithmetic, which
  roofsim.perfmodel's index term counts from dims. Views and metadata ops
  (view, permute, expand, ...) and allocations move nothing and are not records; the copy a
  CUDA kernel makes of a non-contiguous input (layer norm) is one. weight_bytes is the part
  read from module parameters (and views or dtype copies of them);
- the module path (qualified name of the innermost module running) as the record's `layer`.
Only ops on the simulated device (meta tensors by default) are records: host-side work on CPU
tensors (e.g. index arithmetic on `torch.arange` without a device) launches no GPU kernel.
SDPA is intercepted at the function level (roofsim.capture.sdpa).

MoE experts through `aten._grouped_mm` (transformers' default experts implementation on CUDA):
FLOPs 2 x rows x k x n over all groups, which do not depend on the routing. The weights read
do: capture assumes balanced routing, so min(experts, rows) experts receive rows and only their
weights are read (params: batch = active experts, m = rows per active expert).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from ..errors import UserError
from ..kernels._common import TENSOR_CORE_DTYPES
from ..kernels._common import CAST_KINDS
from ..kernels.elementwise import ELEMENTWISE_FLOPS_PER_ELEMENT
from ..kernels.norm import LAYERNORM_FLOPS_PER_ELEMENT
from ..kernels.reduction import REDUCTION_FLOPS_PER_ELEMENT
from ..kernels.softmax import SOFTMAX_FLOPS_PER_ELEMENT
from ..kernels.sort import sort_work
from ..perfmodel import CAT_VECTOR_BYTES
from . import layout, ops, sdpa
from .result import Capture, KernelRow, dtype_name, to_capture


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - the reference extra is missing
        raise UserError("capture needs torch: pip install 'roofsim[reference]'") from err
    return torch


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


class _Tracer:
    """State of one capture: module stack, weight provenance, kernel rows."""

    def __init__(self, torch, device_type: str, sdpa_backend: str):
        from torch.utils.flop_counter import flop_registry
        self.torch = torch
        self.flop_registry = flop_registry
        self.device_type = device_type
        self.sdpa_backend = sdpa_backend
        self.stack: list[str] = []
        self.weight_ids: set[int] = set()
        self._keep: list = []            # strong refs: ids of weight views stay unique
        self.rows: list[KernelRow] = []
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
        if getattr(func, "is_view", False) or name in ops.NO_KERNEL:
            # Views of parameters are still parameters (W.t() feeding addmm).
            if ins and self.is_weight(ins[0]):
                self.add_weights(outs)
            return
        if not self.on_device(ins + outs):
            return
        if name == "_to_copy" and ins and self.is_weight(ins[0]):
            self.add_weights(outs)          # a dtype copy of a weight is still weight data
        if name in ops.CONTIGUOUS_INPUT_OPS and ins and ins[0].device.type == self.device_type \
                and not ins[0].is_contiguous():
            self.rows.append(self._contiguous_copy(ins[0]))
        host = [t for t in ins if t.device.type == "cpu" and t.dim() > 0]
        if name not in ops.UPLOAD_OPS:
            self.rows += [self._upload(t) for t in host]
        row = self._classify(func, name, args, kwargs, ins, outs, out)
        if name in ops.UPLOAD_OPS and host:
            row = replace(row, name=f"aten.{ops.H2D_COPY}")
        self.rows.append(row)

    def _cat_grid(self, name, ins, outs, out) -> dict:
        """inputs / largest of a cat whose kernel launches blocks that can find nothing to copy
        (roofsim.perfmodel.cat_empty_blocks): one of unequal inputs that PyTorch's vectorized
        cat kernel runs (every input contiguous, every input's start and its place in the
        output 16-byte aligned: its isInOutAligned path), or any cat of two or more inputs
        with a strided one (its generic kernel: a row of blocks per input, empty ones
        counted); {} otherwise (equal contiguous inputs: no block idles)."""
        if name == "cat" and layout.strided_path(name, ins, outs, self.device_type):
            every = [t for t in ins if t.device.type == self.device_type]
            if len(every) >= 2:
                return {"inputs": len(every), "largest": max(t.numel() for t in every)}
            return {}
        parts = [t for t in ins if t.device.type == self.device_type and t.numel() > 0]
        sizes = [t.numel() for t in parts]
        if len(parts) < 2 or len(set(sizes)) == 1 or not out.is_contiguous() or \
                not all(t.is_contiguous() for t in parts):
            return {}
        e = out.element_size()
        aligned = all(n * e % CAT_VECTOR_BYTES == 0 for n in sizes)
        return {"inputs": len(parts), "largest": max(sizes)} if aligned else {}

    def _gathered_rows(self, name, args) -> dict:
        """{'rows': indices} of a gather of whole rows along dim 0 of a contiguous source
        (index_select(x, 0, idx), x[idx] with one 1-D integer index): each index copies a row
        of the source's trailing elements (roofsim.kernels._common.INDEX_LAYOUTS); {} for a
        gather of single elements."""
        torch = self.torch
        src = args[0] if args else None
        if not isinstance(src, torch.Tensor) or src.dim() < 2 or not src.is_contiguous():
            return {}
        idx = None
        if name == "index_select" and len(args) > 2 and args[1] in (0, -src.dim()):
            idx = args[2]
        elif name == "index" and len(args) > 1 and isinstance(args[1], (list, tuple)) \
                and len(args[1]) == 1:
            idx = args[1][0]
        if not isinstance(idx, torch.Tensor) or idx.dim() != 1 or idx.dtype == torch.bool \
                or idx.is_floating_point():
            return {}
        return {"rows": idx.numel()} if math.prod(src.shape[1:]) > 1 else {}

    def _upload(self, t) -> KernelRow:
        """The host-to-device copy a device op makes of a CPU operand (ops.H2D_COPY): it
        synchronizes the stream (pageable memory)."""
        b = float(t.numel() * t.element_size())
        return KernelRow("copy", f"aten.{ops.H2D_COPY}", dtype_name(t.dtype), self.layer,
                         {"numel": t.numel()}, bytes_written=b)

    def _contiguous_copy(self, t) -> KernelRow:
        """The copy a CUDA kernel makes of a non-contiguous input before it runs (invisible on
        meta tensors, where the op's meta function never copies): a strided copy kernel."""
        n = t.numel()
        b = float(n * t.element_size())
        return KernelRow("copy", "aten.copy_", dtype_name(t.dtype), self.layer,
                         {"numel": n, "stride": layout.copy_stride(t),
                          "dims": layout.copy_dims(t)}, bytes_read=b,
                         bytes_written=b, weight_bytes=b if self.is_weight(t) else 0.0)

    def _bytes(self, name, ins, outs):
        """(bytes read, bytes written, weight bytes) from tensor sizes."""
        torch = self.torch
        seen = set()
        read = weight = 0.0
        inplace_dest = ins[0] if (name.endswith("_") and ins) else None
        for t in ins:
            if id(t) in seen or t.device.type != self.device_type:
                continue
            seen.add(id(t))
            if t is inplace_dest and name in ops.WRITE_ONLY_DEST:
                continue
            b = layout.unique_elements(t) * t.element_size()
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

    def _classify(self, func, name, args, kwargs, ins, outs, out) -> KernelRow:
        torch = self.torch
        main = outs[0] if outs else ins[0]
        read, written, weight = self._bytes(name, ins, outs)
        if name in ops.MATRIX_OPS:
            return self._matrix(name, func.overloadpacket, args, kwargs, out, outs, read,
                                written, weight)
        dtype = dtype_name(main.dtype)
        cuda = 0.0
        if name in ops.SOFTMAX_OPS:
            x = args[0]
            cols = x.shape[args[1] % x.dim()]
            kind, params = "softmax", {"rows": x.numel() // max(cols, 1), "cols": cols}
            cuda = SOFTMAX_FLOPS_PER_ELEMENT * x.numel()
            dtype = dtype_name(x.dtype)
        elif name == "native_layer_norm":
            x, normalized = args[0], args[1]
            cols = math.prod(normalized)
            kind, params = "layernorm", {"rows": x.numel() // max(cols, 1), "cols": cols}
            cuda = LAYERNORM_FLOPS_PER_ELEMENT * x.numel()
            dtype = dtype_name(x.dtype)
        elif name == "embedding":
            w, idx = args[0], args[1]
            rows, cols = idx.numel(), w.shape[-1]
            kind, params = "embedding", {"rows": rows, "cols": cols}
            touched = rows * cols * w.element_size()
            read = idx.numel() * idx.element_size() + touched
            weight = touched if self.is_weight(w) else 0.0
            dtype = dtype_name(w.dtype)
        elif name in ops.INDEX_GATHER_OPS:
            src = ins[0]
            kind, params = "index", {"numel": main.numel(), **self._gathered_rows(name, args)}
            idx_bytes = sum(t.numel() * t.element_size() for t in ins[1:]
                            if t.device.type == self.device_type)
            gathered = main.numel() * src.element_size()
            read = gathered + idx_bytes
            weight = gathered if self.is_weight(src) else 0.0
            dtype = dtype_name(src.dtype)
        elif name in ops.INDEX_SCATTER_OPS:
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
            dtype = dtype_name(dest.dtype)
        elif name in ops.SORT_OPS:
            x = ins[0]
            dim = args[1] if len(args) > 1 and isinstance(args[1], int) else \
                kwargs.get("dim", -1)
            cols = x.shape[dim] if x.dim() else 1
            kind, params = "sort", {"rows": x.numel() / max(cols, 1), "cols": cols}
            cuda = float(sort_work(params, dtype_name(x.dtype))["flops_cuda"][0])
            dtype = dtype_name(x.dtype)
        elif name in ops.REDUCTION_OPS:
            x = ins[0]
            rows = main.numel()
            kind, params = "reduction", {"rows": rows, "cols": x.numel() / max(rows, 1)}
            if name in ops.DIM_REDUCTION_OPS and rows > 1 and \
                    layout.outer_reduction(x, args[1] if len(args) > 1 else kwargs.get("dim")):
                params["stride"] = 1
            cuda = REDUCTION_FLOPS_PER_ELEMENT * x.numel()
            dtype = dtype_name(x.dtype)
        elif name in ops.CAT_OPS:
            kind, params = "cat", {"numel": main.numel(),
                                   **self._cat_grid(name, ins, outs, main)}
        elif name in ops.FILL_OPS or name in ops.COPY_OPS:
            kind, params = "copy", {"numel": main.numel()}
        elif name in ops.UNARY_FLOPS:
            kind = ops.KIND_OF_UNARY.get(name, "elementwise")
            params = {"numel": main.numel()}
            cuda = ops.UNARY_FLOPS[name] * main.numel()
        elif torch.Tag.pointwise in func.tags or name in ops.EXTRA_ELEMENTWISE:
            kind, params = "elementwise", {"numel": main.numel()}
            cuda = ELEMENTWISE_FLOPS_PER_ELEMENT * main.numel()
        else:
            self.unknown.add(str(func))
            kind, params = "copy", {"numel": main.numel()}
        if kind in layout.LAYOUT_KINDS and layout.strided_path(name, ins, outs, self.device_type):
            params = {**params, "stride": layout.TRANSPOSED if layout.transposed(
                name, ins, outs, main, self.device_type) else layout.STRIDED,
                "dims": layout.iteration_dims(name, ins, outs, self.device_type, args)}
        if kind in CAST_KINDS and layout.casts(name, ins, outs, self.device_type):
            params = {**params, "cast": 1}
        return KernelRow(kind, f"aten.{name}", dtype, self.layer, params, 0.0, cuda, read,
                         written, weight, 0.0)

    def _counted(self, packet, args, kwargs, out) -> float | None:
        if packet not in self.flop_registry:
            return None
        return float(self.flop_registry[packet](*args, **kwargs, out_val=out))

    def _matrix(self, name, packet, args, kwargs, out, outs, read, written, weight) -> KernelRow:
        """Matrix ops: kind, shape params, matrix FLOPs, extra CUDA-core FLOPs, bytes."""
        cuda = 0.0
        if name == "_grouped_mm":
            a, b = args[0], args[1]
            dtype = dtype_name(a.dtype)
            k, n = a.shape[-1], b.shape[-1]
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
                read = read - layout.unique_elements(b) * b.element_size() + wbytes
                weight = wbytes if self.is_weight(b) else 0.0
                params = {"batch": active, "m": rows / active, "k": k, "n": n, "bias": 0}
            else:
                params = {"batch": groups, "m": rows / max(groups, 1), "k": k, "n": n, "bias": 0}
            kind = "grouped_gemm"
        elif name in ("mm", "addmm"):
            a, b = (args[1], args[2]) if name == "addmm" else (args[0], args[1])
            m, k, n = a.shape[0], a.shape[1], b.shape[1]
            dtype = dtype_name(a.dtype)
            matrix = self._counted(packet, args, kwargs, out)
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
            dtype = dtype_name(a.dtype)
            matrix = self._counted(packet, args, kwargs, out)
            kind = "gemm"
            params = {"batch": a.shape[0], "m": a.shape[1], "k": a.shape[2], "n": b.shape[2]}
            if name == "baddbmm":
                cuda = float(a.shape[0] * a.shape[1] * b.shape[2])
        elif name == "convolution":
            x, w, bias = args[0], args[1], args[2]
            stride, padding = args[3], args[4]
            dtype = dtype_name(x.dtype)
            matrix = self._counted(packet, args, kwargs, out)
            kind = "conv2d"
            params = {"batch": x.shape[0], "c_in": x.shape[1], "c_out": w.shape[0],
                      "h": x.shape[-2], "w": x.shape[-1], "kernel": w.shape[-1],
                      "stride": stride[0], "padding": padding[0], "bias": int(bias is not None)}
            if bias is not None:
                cuda = float(outs[0].numel())
        else:  # fused attention
            dtype = dtype_name(args[0].dtype)
            aw = sdpa.attention_work(name, args, kwargs, self._counted(packet, args, kwargs, out))
            kind, params, matrix, cuda = "attention", aw.params, aw.matrix_flops, aw.cuda_flops
            read, written = aw.bytes_read, aw.bytes_written
        if dtype not in TENSOR_CORE_DTYPES:
            tensor, cuda = 0.0, cuda + matrix
        else:
            tensor = matrix
        return KernelRow(kind, f"aten.{name}", dtype, self.layer, params, tensor, cuda, read,
                         written, weight, matrix)

    # -- SDPA -----------------------------------------------------------------------------
    def run_sdpa(self, *args, **kwargs):
        call = sdpa.SdpaCall(*args, **kwargs)
        backend = sdpa.choose_backend(call, self.sdpa_backend, self.torch)
        self.sdpa_counts[backend] += 1
        return sdpa.run(call, backend, self.torch)


def capture(module, *args, stage: str = "", prefix: str = "", sdpa_backend: str = "auto",
            device_type: str = "meta", **kwargs) -> Capture:
    """Trace `module(*args, **kwargs)` and return one kernel record per kernel-launching aten op.

    prefix: prepended to module paths (e.g. "vision"); stage: the records' stage label;
    sdpa_backend: "auto" (PyTorch's CUDA choice, roofsim.capture.sdpa), "cudnn" (what it picks
    on Hopper), "flash", "efficient" or "math"; device_type: which tensors are the simulated
    device (meta for counting).
    """
    torch = _torch()
    if sdpa_backend not in sdpa.SDPA_BACKENDS:
        raise UserError(f"sdpa_backend must be one of {', '.join(sdpa.SDPA_BACKENDS)}, "
                        f"got {sdpa_backend!r}")
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    tracer = _Tracer(torch, device_type, sdpa_backend)
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
    for qual, mod in module.named_modules():
        path = ".".join(p for p in (prefix, qual) if p)

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
    return to_capture(tracer.rows, stage, tracer.sdpa_counts, tracer.unknown)
