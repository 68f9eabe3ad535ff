"""`roofsim roofline`: one kernel on one GPU, through the engine: time, binding bound, each
term, achieved throughput and arithmetic intensity against the ridge point."""

from __future__ import annotations

import argparse
import math

from .. import engine
from ..errors import UserError
from ..hardware import DTYPE_ALIASES, TENSOR_DTYPES, canonical_dtype
from ..records import RecordTable
from .common import add_hardware_args, add_json_arg, hardware_from_args, parse_amount
from .output import format_table, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "roofline", help="time one kernel on a GPU (per-kernel roofline)",
        description="One kernel through the engine: time = launch floor + max(tensor-core FLOPs "
                    "/ tensor roof, CUDA-core FLOPs / CUDA roof, bytes / memory roof), roofs = "
                    "peak x efficiency of the hardware spec.")
    add_hardware_args(parser)
    parser.add_argument("--flops", required=True, metavar="F",
                        help="tensor-core FLOPs of one launch (2 x multiply-accumulates), e.g. 1e12")
    parser.add_argument("--cuda-flops", default="0", metavar="F",
                        help="CUDA-core (non-tensor) FLOPs of one launch (default 0)")
    parser.add_argument("--bytes", required=True, metavar="B",
                        help="bytes read + written in device memory by one launch, e.g. 4e9")
    parser.add_argument("--dtype", default="bfloat16",
                        help=f"input dtype of the matrix work: {', '.join(TENSOR_DTYPES)} "
                             f"(float32 = TF32 on tensor cores; default bfloat16)")
    parser.add_argument("--launch", default="cuda_graph", choices=engine.LAUNCH_MODES,
                        help="launch floor: inside a CUDA graph or back-to-back on a stream "
                             "(default cuda_graph)")
    add_json_arg(parser)
    parser.set_defaults(func=run)


def _dtype(text: str) -> str:
    dtype = canonical_dtype(text)
    if dtype not in TENSOR_DTYPES:
        aliases = ", ".join(sorted(DTYPE_ALIASES))
        raise UserError(f"--dtype {text}: unknown dtype (expected one of {', '.join(TENSOR_DTYPES)};"
                        f" aliases {aliases})")
    return dtype


def _seconds(s: float) -> str:
    if s == 0:
        return "0 s"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if s >= scale:
            return f"{s / scale:.4g} {unit}"
    return f"{s * 1e9:.4g} ns"


def analyze(spec, flops_tensor: float, flops_cuda: float, nbytes: float, dtype: str,
            launch_mode: str) -> dict:
    """One record through engine.simulate; the result in SI units."""
    table = RecordTable.from_columns(1, kind="gemm", name="roofline", dtype=dtype,
                                     flops_tensor=flops_tensor, flops_cuda=flops_cuda,
                                     bytes_read=nbytes)
    timing = engine.simulate(table, spec, launch_mode=launch_mode)
    tensor_roofs, cuda_roofs, mem_roof = spec.roofs(table.dtype)
    tensor_roof, cuda_roof, mem_roof = float(tensor_roofs[0]), float(cuda_roofs[0]), float(mem_roof)
    time_s = float(timing.time_s[0])
    flops = flops_tensor + flops_cuda
    intensity = flops / nbytes if nbytes > 0 else math.inf
    # Compare with the ridge of the compute roof that carries most of the FLOPs.
    compute = "tensor" if flops_tensor >= flops_cuda else "cuda"
    ridge = {"tensor": tensor_roof / mem_roof, "cuda": cuda_roof / mem_roof}
    note = ""
    if flops_tensor > 0 and dtype not in spec.tensor_core_tflops:
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
        "compute_roof": compute,
        "side": "compute" if intensity >= ridge[compute] else "memory",
        "note": note,
    }


def run(args: argparse.Namespace) -> int:
    flops_tensor = parse_amount("--flops", args.flops)
    flops_cuda = parse_amount("--cuda-flops", args.cuda_flops)
    nbytes = parse_amount("--bytes", args.bytes)
    dtype = _dtype(args.dtype)
    spec = hardware_from_args(args)
    r = analyze(spec, flops_tensor, flops_cuda, nbytes, dtype, args.launch)
    if args.json:
        print_json(r)
        return 0
    roofs, eff = r["roofs"], r["efficiency"]
    print(f"{spec.id}: {spec.name}")
    print(f"kernel: {flops_tensor:.4g} tensor-core FLOP ({dtype}), {flops_cuda:.4g} CUDA-core "
          f"FLOP, {nbytes:.4g} byte; launch floor: {args.launch}\n")
    rows = [
        ["launch", _seconds(r["terms_s"]["launch"]), "launch overhead"],
        ["tensor", _seconds(r["terms_s"]["tensor"]),
         f"{roofs['tensor_flop_per_s'] / 1e12:.4g} TFLOP/s ({dtype} peak x {eff['tensor_core']:g})"],
        ["cuda", _seconds(r["terms_s"]["cuda"]),
         f"{roofs['cuda_flop_per_s'] / 1e12:.4g} TFLOP/s ({dtype} peak x {eff['cuda_core']:g})"],
        ["memory", _seconds(r["terms_s"]["memory"]),
         f"{roofs['memory_byte_per_s'] / 1e9:.4g} GB/s (peak x {eff['memory']:g})"],
    ]
    print(format_table(["term", "time", "roof"], rows))
    print(f"\ntime: {_seconds(r['time_s'])} = launch + largest term; bound: {r['bound']}")
    print(f"achieved: {r['achieved_flop_per_s'] / 1e12:.4g} TFLOP/s, "
          f"{r['achieved_byte_per_s'] / 1e9:.4g} GB/s")
    compute = r["compute_roof"]
    print(f"arithmetic intensity: {r['arithmetic_intensity_flop_per_byte']:.4g} FLOP/byte; "
          f"ridge point {r['ridge_point_flop_per_byte'][compute]:.4g} FLOP/byte ({compute} roof / "
          f"memory roof): {r['side']} side")
    if r["note"]:
        print(f"note: {r['note']}")
    return 0
