"""`roofsim roofline`: one kernel on one GPU, through the engine: time, binding bound, each
term, achieved throughput and arithmetic intensity against the ridge point."""

from __future__ import annotations

import argparse
import math

from .. import engine
from ..errors import UserError
from ..hardware import DTYPE_ALIASES, TENSOR_DTYPES, canonical_dtype
from ..records import RecordTable
from .args import amount
from .common import add_hardware_args, add_json_arg, hardware_from_args
from .output import format_table, print_json

# float32 matrix products are CUDA-core work, as PyTorch runs them by default (TF32 off) and as
# roofsim.kernels and kernels/README.md count them; `tf32` puts them on the TF32 tensor cores
# (the spec's tensor_core_tflops.float32).
TF32 = "tf32"
DTYPE_CHOICES = tuple(d for d in TENSOR_DTYPES) + (TF32,)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "roofline", help="time one kernel on a GPU (per-kernel roofline)",
        description="One kernel through the engine: time = launch floor + max(tensor-core FLOPs "
                    "/ tensor roof, CUDA-core FLOPs / CUDA roof, bytes / memory roof), roofs = "
                    "peak x efficiency of the hardware spec.")
    add_hardware_args(parser)
    parser.add_argument("--flops", required=True, metavar="F", type=amount(0),
                        help="matrix-product FLOPs of one launch (2 x multiply-accumulates), "
                             "e.g. 1e12: tensor-core work, except in float32")
    parser.add_argument("--cuda-flops", default=0.0, metavar="F", type=amount(0),
                        help="CUDA-core (non-tensor) FLOPs of one launch (default 0)")
    parser.add_argument("--bytes", required=True, metavar="B", type=amount(0),
                        help="bytes read + written in device memory by one launch, e.g. 4e9")
    parser.add_argument("--dtype", default="bfloat16",
                        help=f"input dtype of the matrix work: {', '.join(DTYPE_CHOICES)}. "
                             "float32 matrix products run on CUDA cores (PyTorch's default, "
                             "TF32 off; as predict-kernels and kernels/README.md count them); "
                             "tf32 runs them on the TF32 tensor cores (default bfloat16)")
    parser.add_argument("--launch", default="cuda_graph", choices=engine.LAUNCH_MODES,
                        help="launch floor: inside a CUDA graph or back-to-back on a stream "
                             "(default cuda_graph)")
    add_json_arg(parser)
    parser.set_defaults(func=run)


def _dtype(text: str) -> str:
    if text.strip().lower() == TF32:
        return TF32
    dtype = canonical_dtype(text)
    if dtype not in TENSOR_DTYPES or text.strip().lower() == TF32:
        aliases = ", ".join(sorted(a for a in DTYPE_ALIASES if a != TF32))
        raise UserError(f"--dtype {text}: unknown dtype (expected one of "
                        f"{', '.join(DTYPE_CHOICES)}; aliases {aliases})")
    return dtype


def cuda_roof_dtype(spec, dtype: str) -> str:
    """The dtype whose CUDA-core peak the engine uses for `dtype` (float32 when the spec gives
    none for it; hardware/README.md)."""
    return dtype if dtype in spec.cuda_core_tflops else "float32"


def _seconds(s: float) -> str:
    if s == 0:
        return "0 s"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if s >= scale:
            return f"{s / scale:.4g} {unit}"
    return f"{s * 1e9:.4g} ns"


def analyze(spec, flops_tensor: float, flops_cuda: float, nbytes: float, dtype: str,
            launch_mode: str) -> dict:
    """One record through engine.simulate; the result in SI units. `flops_tensor` are the
    matrix-product FLOPs: in float32 they are CUDA-core work, in tf32 tensor-core work at the
    spec's float32 (TF32) tensor peak."""
    matrix_flops = flops_tensor
    note = ""
    if dtype == "float32":
        flops_tensor, flops_cuda = 0.0, flops_cuda + flops_tensor
        if matrix_flops > 0:
            note = ("float32 matrix products count as CUDA-core work (TF32 off, PyTorch's "
                    "default); --dtype tf32 runs them on the tensor cores")
    engine_dtype = "float32" if dtype == TF32 else dtype
    table = RecordTable.from_columns(1, kind="gemm", name="roofline", dtype=engine_dtype,
                                     flops_tensor=flops_tensor, flops_cuda=flops_cuda,
                                     bytes_read=nbytes)
    timing = engine.simulate(table, spec, launch_mode=launch_mode)
    tensor_roofs, cuda_roofs, mem_roof = spec.roofs(table.dtype)
    tensor_roof, cuda_roof, mem_roof = float(tensor_roofs[0]), float(cuda_roofs[0]), float(mem_roof)
    time_s = float(timing.time_s[0])
    flops = flops_tensor + flops_cuda
    # FLOP per byte: infinite for compute alone, undefined (None) for no work at all
    intensity = flops / nbytes if nbytes > 0 else (math.inf if flops > 0 else None)
    if not all(map(math.isfinite, (time_s, flops, float(timing.tensor_s[0]),
                                   float(timing.cuda_s[0]), float(timing.memory_s[0])))):
        raise UserError(f"--flops {matrix_flops:g} --cuda-flops {flops_cuda:g} --bytes "
                        f"{nbytes:g}: the time overflows a float; give smaller amounts")
    # Compare with the ridge of the compute roof that carries most of the FLOPs.
    compute = "tensor" if flops_tensor >= flops_cuda else "cuda"
    ridge = {"tensor": tensor_roof / mem_roof, "cuda": cuda_roof / mem_roof}
    if flops_tensor > 0 and engine_dtype not in spec.tensor_core_tflops:
        note = (f"{spec.id} has no {dtype} tensor-core peak: its tensor-core FLOPs run at the "
                f"CUDA-core rate")
    return {
        "hardware": spec.id, "hardware_name": spec.name,
        "inputs": {"flops_tensor": flops_tensor, "flops_cuda": flops_cuda, "bytes": nbytes,
                   "dtype": dtype, "launch_mode": launch_mode},
        "time_s": time_s,
        "bound": str(timing.bound_names()[0]),
        "terms_s": {"launch": float(timing.launch_s[0]), "tensor": float(timing.tensor_s[0]),
                    "cuda": float(timing.cuda_s[0]), "memory": float(timing.memory_s[0])},
        "roofs": {"tensor_flop_per_s": tensor_roof, "cuda_flop_per_s": cuda_roof,
                  "memory_byte_per_s": mem_roof},
        "efficiency": dict(spec.efficiency),
        "achieved_flop_per_s": flops / time_s if time_s > 0 else 0.0,
        "achieved_byte_per_s": nbytes / time_s if time_s > 0 else 0.0,
        "arithmetic_intensity_flop_per_byte": intensity,
        "ridge_point_flop_per_byte": ridge,
        "roof_dtypes": {"tensor": engine_dtype if engine_dtype in spec.tensor_core_tflops
                        else cuda_roof_dtype(spec, engine_dtype),
                        "cuda": cuda_roof_dtype(spec, engine_dtype)},
        "compute_roof": compute,
        "side": "launch" if intensity is None else
                "compute" if intensity >= ridge[compute] else "memory",
        "note": note,
    }


def run(args: argparse.Namespace) -> int:
    flops_tensor, flops_cuda, nbytes = args.flops, args.cuda_flops, args.bytes
    dtype = _dtype(args.dtype)
    spec = hardware_from_args(args)
    r = analyze(spec, flops_tensor, flops_cuda, nbytes, dtype, args.launch)
    if args.json:
        print_json(r)
        return 0
    roofs, eff, on = r["roofs"], r["efficiency"], r["roof_dtypes"]
    inputs = r["inputs"]
    print(f"{spec.id}: {spec.name}")
    print(f"kernel: {inputs['flops_tensor']:.4g} tensor-core FLOP ({dtype}), "
          f"{inputs['flops_cuda']:.4g} CUDA-core FLOP, {nbytes:.4g} byte; launch floor: "
          f"{args.launch}\n")
    has_tensor = ("float32" if dtype == TF32 else dtype) in spec.tensor_core_tflops
    if dtype in (TF32, "float32") and has_tensor:
        tensor_peak = "TF32 tensor" + (", unused: float32 runs on CUDA cores;"
                                       if dtype == "float32" else "")
    elif has_tensor:
        tensor_peak = f"{dtype} tensor"
    else:
        tensor_peak = f"no {dtype} tensor cores: {on['tensor']} CUDA-core"
    rows = [
        ["launch", _seconds(r["terms_s"]["launch"]), "launch overhead"],
        ["tensor", _seconds(r["terms_s"]["tensor"]),
         f"{roofs['tensor_flop_per_s'] / 1e12:.4g} TFLOP/s ({tensor_peak} peak x "
         f"{eff['tensor_core']:g})"],
        ["cuda", _seconds(r["terms_s"]["cuda"]),
         f"{roofs['cuda_flop_per_s'] / 1e12:.4g} TFLOP/s ({on['cuda']} CUDA-core peak x "
         f"{eff['cuda_core']:g})"],
        ["memory", _seconds(r["terms_s"]["memory"]),
         f"{roofs['memory_byte_per_s'] / 1e9:.4g} GB/s (peak x {eff['memory']:g})"],
    ]
    print(format_table(["term", "time", "roof"], rows))
    print(f"\ntime: {_seconds(r['time_s'])} = launch + largest term; bound: {r['bound']}")
    print(f"achieved: {r['achieved_flop_per_s'] / 1e12:.4g} TFLOP/s, "
          f"{r['achieved_byte_per_s'] / 1e9:.4g} GB/s")
    compute = r["compute_roof"]
    if r["arithmetic_intensity_flop_per_byte"] is None:
        print("arithmetic intensity: none (no FLOPs, no bytes): the launch floor alone")
    else:
        print(f"arithmetic intensity: {r['arithmetic_intensity_flop_per_byte']:.4g} FLOP/byte; "
              f"ridge point {r['ridge_point_flop_per_byte'][compute]:.4g} FLOP/byte ({compute} "
              f"roof / memory roof): {r['side']} side")
    if r["note"]:
        print(f"note: {r['note']}")
    return 0
