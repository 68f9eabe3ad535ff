"""`roofsim hardware list` and `roofsim hardware show NAME`: the shipped specs and every field of
one spec, with units and sources."""

from __future__ import annotations

import argparse

from ..hardware import (DEFAULT_HARDWARE, SCHEMA_BY_NAME, TENSOR_DTYPES, HardwareSpec,
                        list_hardware, load_hardware, spec_to_dict)
from .args import count, nonempty
from .common import add_json_arg, add_set_arg, hardware_from_args
from .output import format_table, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("hardware", help="list the hardware specs or show one",
                                   description="Hardware specs (schema: hardware/README.md).")
    sub = parser.add_subparsers(dest="hardware_command", metavar="ACTION")
    sub.required = True

    p_list = sub.add_parser("list", help="the shipped specs, one line each")
    add_json_arg(p_list, units="the units the key names end in: _tflops TFLOP/s, _gbps GB/s, "
                               "_gb GB, ridge FLOP/byte")
    p_list.set_defaults(func=run_list)

    p_show = sub.add_parser("show", help="every field of one spec, with units and sources")
    p_show.add_argument("hardware", nargs="?", default=DEFAULT_HARDWARE, metavar="NAME|PATH",
                        type=nonempty("a hardware id or a YAML file"),
                        help=f"a shipped spec id or a path to a YAML spec (default {DEFAULT_HARDWARE})")
    add_set_arg(p_show)
    add_json_arg(p_show, units="fields in the units of the hardware file, hardware/README.md; "
                               "derived roofs in SI units: FLOP/s, byte/s")
    p_show.set_defaults(func=run_show)

    p_derive = sub.add_parser("derive", help="a spec derived from another: the same chip on "
                                             "fewer SMs (--sms N)")
    p_derive.add_argument("hardware", metavar="NAME|PATH",
                          type=nonempty("a hardware id or a YAML file"),
                          help="the spec to derive from")
    p_derive.add_argument("--sms", type=count(1), required=True, metavar="N",
                          help="SMs the derived device keeps (as a CUDA green context gives)")
    p_derive.add_argument("-o", "--output", metavar="FILE", type=nonempty("a file name"),
                          help="write the YAML spec here (default: print it)")
    p_derive.set_defaults(func=run_derive)


# ---- list ------------------------------------------------------------------------------

def summary(spec: HardwareSpec) -> dict:
    """One spec in a line: the figures a reader compares first (ridge point: peak bf16 tensor
    FLOP/s over peak memory byte/s)."""
    return {
        "id": spec.id, "name": spec.name,
        "tensor_bfloat16_tflops": spec.tensor_peak_flops("bfloat16") / 1e12,
        "cuda_float32_tflops": spec.cuda_peak_flops("float32") / 1e12,
        "mem_bandwidth_gbps": spec.mem_bandwidth_gbps,
        "mem_capacity_gb": spec.mem_capacity_gb,
        "ridge_point_flop_per_byte": spec.ridge_point("bfloat16"),
        "default": spec.id == DEFAULT_HARDWARE,
    }


def run_list(args: argparse.Namespace) -> int:
    rows = [summary(load_hardware(h)) for h in list_hardware()]
    if args.json:
        print_json(rows)
        return 0
    headers = ["id", "name", "bf16 tensor TFLOP/s", "fp32 CUDA TFLOP/s", "GB/s", "GB",
               "ridge FLOP/byte"]
    table = [[r["id"] + (" *" if r["default"] else ""), r["name"], r["tensor_bfloat16_tflops"],
              r["cuda_float32_tflops"], r["mem_bandwidth_gbps"], r["mem_capacity_gb"],
              round(r["ridge_point_flop_per_byte"], 1)] for r in rows]
    print(format_table(headers, table))
    print("\n* default. Peaks are dense datasheet figures; ridge = bf16 tensor peak / memory "
          "bandwidth. Details: roofsim hardware show NAME")
    return 0


# ---- show ------------------------------------------------------------------------------

def field_rows(spec: HardwareSpec) -> list[list]:
    """[field, value, unit, source] for every field, map entries one per row."""
    rows = []
    for name, value in spec_to_dict(spec).items():
        if name in ("references", "sources", "schema_version", "notes"):
            continue
        unit = SCHEMA_BY_NAME[name].unit
        if isinstance(value, dict):
            for k, v in value.items():
                rows.append([f"{name}.{k}", v, unit, spec.source_of(f"{name}.{k}")])
        else:
            rows.append([name, value, unit, spec.source_of(name) if name not in ("id", "name")
                         else ""])
    return rows


def derived(spec: HardwareSpec) -> dict:
    """Roofs the engine uses (peak x efficiency) and ridge points, per tensor dtype (SI)."""
    dtypes = [d for d in TENSOR_DTYPES if d in spec.tensor_core_tflops]
    return {
        "tensor_roof_flop_per_s": {d: spec.tensor_peak_flops(d) * spec.efficiency["tensor_core"]
                                   for d in dtypes},
        "cuda_roof_flop_per_s": {d: spec.cuda_peak_flops(d) * spec.efficiency["cuda_core"]
                                 for d in spec.cuda_core_tflops},
        "memory_roof_byte_per_s": spec.mem_bandwidth_bytes_per_s * spec.efficiency["memory"],
        "ridge_point_peak_flop_per_byte": {d: spec.ridge_point(d) for d in dtypes},
        "ridge_point_achievable_flop_per_byte": {d: spec.ridge_point(d, achievable=True)
                                                 for d in dtypes},
    }


def run_derive(args: argparse.Namespace) -> int:
    from ..hardware import derive_sm_restricted, dump_hardware, write_hardware
    from ..io import check_output_file
    if args.output is not None:
        check_output_file(args.output, option="--output")
    spec = derive_sm_restricted(load_hardware(args.hardware, given_as="hardware derive"),
                                args.sms)
    if args.output is not None:
        path = write_hardware(spec, args.output)
        print(f"wrote {path} ({spec.name})")
    else:
        print(dump_hardware(spec), end="")
    return 0


def run_show(args: argparse.Namespace) -> int:
    spec = hardware_from_args(args, given_as="hardware show")
    if args.json:
        print_json({"path": spec.path, "fields": spec_to_dict(spec), "derived": derived(spec)})
        return 0
    print(f"{spec.id}: {spec.name}")
    print(f"file: {spec.path}{' with ' + ' '.join('--set ' + s for s in args.set) if args.set else ''}\n")
    # Values as written in the file (format_table would round them to 4 digits).
    rows = [[f, f"{v:.10g}" if isinstance(v, float) else str(v), u,
             "" if f in ("id", "name") else (s or "(no source given)")]
            for f, v, u, s in field_rows(spec)]
    print(format_table(["field", "value", "unit", "source"], rows))
    d = derived(spec)
    print("\nroofs the engine uses (peak x efficiency):")
    roof_rows = [[f"tensor {k}", v / 1e12, "TFLOP/s", d["ridge_point_peak_flop_per_byte"][k],
                  d["ridge_point_achievable_flop_per_byte"][k]]
                 for k, v in d["tensor_roof_flop_per_s"].items()]
    roof_rows += [[f"cuda {k}", v / 1e12, "TFLOP/s", "", ""]
                  for k, v in d["cuda_roof_flop_per_s"].items()]
    roof_rows.append(["memory", d["memory_roof_byte_per_s"] / 1e9, "GB/s", "", ""])
    print(format_table(["roof", "value", "unit", "ridge FLOP/byte (peak)",
                        "ridge FLOP/byte (achievable)"], roof_rows))
    if spec.references:
        print("\nreferences:")
        for key, text in spec.references.items():
            print(f"  {key}: {text}")
    if spec.notes:
        print(f"\nnotes: {spec.notes}")
    return 0
