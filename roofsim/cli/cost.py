"""`roofsim cost`: the cost per stage (vision, prefill, decode) and per layer: DeepSeek-OCR's
analytic model, or with --model a transformers model's captured records (its --image WxH for a
vision-language model)."""

from __future__ import annotations

import numpy as np

from ..units import to_gb, to_gflops, to_tflops
from ..workloads.deepseek_ocr import (ACCOUNTINGS, ATTENTION_VARIANTS, LM_HEAD_MODES, STAGES,
                                      parameter_counts, stage_costs, stage_records, views)
from .args import fill_defaults
from .common import add_json_arg
from .limits import largest_shipped_memory
from .models import is_default_model, refuse_deepseek_options
from .output import format_table, print_json
from .request import add_token_args, add_view_args, model_request_from_args, request_from_args

# Options of DeepSeek-OCR's analytic model and their defaults: argparse leaves them None, so
# that a --model (captured, none of them apply) can refuse a given one instead of ignoring it.
ANALYTIC = {"attention": "flash", "lm_head": "last", "accounting": "model"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cost", help="analytic FLOPs, bytes, activations, KV cache per stage and per layer",
        description="DeepSeek-OCR's cost from formulas: per-stage totals (tensor-core and "
                    "CUDA-core FLOPs, bytes, peak activation memory, KV cache, weight bytes read) "
                    "and a per-layer table. SI units in --json. --model: a transformers model, "
                    "captured (activation peaks n/a).")
    add_view_args(parser, models=True)
    add_token_args(parser, batch=True)
    parser.add_argument("--attention", choices=ATTENTION_VARIANTS, default=None,
                        help="flash: fused, scores stay on chip; normal: scores written to and "
                             "read from memory (default flash)")
    parser.add_argument("--lm-head", choices=LM_HEAD_MODES, default=None,
                        help="prefill lm_head over the last position or all positions "
                             "(the published HF code does all; default last)")
    parser.add_argument("--accounting", choices=tuple(ACCOUNTINGS), default=None,
                        help="model: the real computation; report: the specification's "
                             "conventions (see roofsim.workloads.deepseek_ocr.stages)")
    parser.add_argument("--layers", choices=("stage", "all", "none"), default="stage",
                        help="per-layer table: top-level modules per stage (default), every "
                             "module path, or none")
    add_json_arg(parser)
    parser.set_defaults(func=run)


def _stage_dict(cost) -> dict:
    return {"flops_tensor": cost.flops_tensor, "flops_cuda": cost.flops_cuda,
            "flops": cost.flops, "bytes": cost.io_bytes, "bytes_read": cost.bytes_read,
            "bytes_written": cost.bytes_written, "activation_io_bytes": cost.activation_io_bytes,
            "arithmetic_intensity": cost.arithmetic_intensity,
            "activation_peak_bytes": cost.activation_peak_bytes,
            "kv_cache_bytes": cost.kv_cache_bytes, "weight_bytes": cost.weight_bytes,
            "launches": cost.launches}


def _module_key(layer: str, depth: str) -> str:
    if depth == "all":
        return layer
    parts = layer.split(".")
    # vision.sam.blocks.3.attn -> vision.sam.blocks.3 ; decoder.layers.5.mlp -> decoder.layers.5
    for i, p in enumerate(parts):
        if p.isdigit():
            return ".".join(parts[:i + 1])
    return ".".join(parts[:3])


def layer_rows(tables, depth: str) -> list[dict]:
    rows = []
    for stage in STAGES:
        t = tables.get(stage)
        if t is None or not len(t):
            continue
        keys = np.array([_module_key(str(x), depth) for x in t.layer], dtype=object)
        uniq, first, inv = np.unique(keys.astype(str), return_index=True, return_inverse=True)
        w = t.count
        sums = {f: np.bincount(inv, weights=getattr(t, f) * w, minlength=len(uniq))
                for f in ("flops_tensor", "flops_cuda", "bytes_read", "bytes_written", "weight_bytes")}
        for u in np.argsort(first):
            rows.append({"stage": stage, "layer": str(uniq[u]),
                         **{f: float(v[u]) for f, v in sums.items()},
                         "launches": float(np.bincount(inv, weights=w)[u])})
    return rows


def run_model(args) -> int:
    """The captured cost of a transformers model's request."""
    from ..sources import WorkloadSource
    from ..workloads import workload
    from ..workloads.hf.summary import model_summary
    wl = workload(args.model)
    refuse_deepseek_options(args, wl.name, ANALYTIC)
    request = model_request_from_args(args, wl, largest_shipped_memory())
    ev = WorkloadSource(wl).evaluate(request)
    layers = layer_rows(ev.records, args.layers) if args.layers != "none" else []
    summary = model_summary(wl.config)
    out = {"model": wl.name, "config": wl.config.source, "dtype": "bfloat16",
           "request": {"prompt_tokens": request.prompt_tokens,
                       "decode_tokens": request.decode_tokens, "batch": request.batch,
                       **wl.describe(request)},
           "parameters": {"total": summary["parameters"],
                          "activated_per_decoded_token": summary["active_parameters"]},
           "stages": {s: _stage_dict(c) for s, c in ev.costs.items()}, "layers": layers}
    if args.json:
        print_json(out)
        return 0
    print(f"{wl.name} (captured): {', '.join(f'{k} {v}' for k, v in out['request'].items())}")
    print(f"parameters {summary['parameters']:,}, active per decoded token "
          f"{summary['active_parameters'] / 1e6:.1f}M\n")
    _print_costs(ev.costs, layers)
    return 0


def _print_costs(costs, layers) -> None:
    print(format_table(
        ("stage", "tensor TFLOP", "CUDA TFLOP", "GB moved", "weight GB", "act. peak GB", "KV GB",
         "launches"),
        [(s, to_tflops(c.flops_tensor), to_tflops(c.flops_cuda), to_gb(c.io_bytes),
          to_gb(c.weight_bytes),
          # a --model's activation peak is not modelled (NaN; null in --json)
          to_gb(c.activation_peak_bytes) if np.isfinite(c.activation_peak_bytes) else "n/a",
          to_gb(c.kv_cache_bytes),
          int(c.launches)) for s, c in costs.items()]))
    if layers:
        print()
        print(format_table(("stage", "layer", "tensor GFLOP", "CUDA GFLOP", "GB moved", "launches"),
                           [(r["stage"], r["layer"], to_gflops(r["flops_tensor"]),
                             to_gflops(r["flops_cuda"]),
                             to_gb(r["bytes_read"] + r["bytes_written"]), int(r["launches"]))
                            for r in layers]))


def run(args) -> int:
    if not is_default_model(args):
        return run_model(args)
    fill_defaults(args, ANALYTIC)
    cfg, _, request = request_from_args(args, largest_shipped_memory())
    v = views(cfg, request)
    tables = stage_records(cfg, request, attention=args.attention, lm_head=args.lm_head,
                           accounting=args.accounting)
    costs = stage_costs(cfg, request, attention=args.attention, lm_head=args.lm_head,
                        accounting=args.accounting, records=tables)
    layers = layer_rows(tables, args.layers) if args.layers != "none" else []
    params = parameter_counts(cfg)
    out = {
        "model": cfg.name, "config": cfg.source, "dtype": cfg.dtype,
        "request": {"mode": request.mode, "grid": list(v.grid), "prompt_tokens": request.prompt_tokens,
                    "decode_tokens": request.decode_tokens, "batch": request.batch,
                    "attention": args.attention, "lm_head": args.lm_head,
                    "accounting": args.accounting},
        "image_tokens": v.image_tokens, "views": v.as_dict(),
        "parameters": {"total": params["total"],
                       "activated_per_decoded_token": params["activated_per_decoded_token"],
                       "weight_bytes": params["total"] * cfg.element_bytes},
        "stages": {s: _stage_dict(costs[s]) for s in STAGES},
        "layers": layers,
    }
    if args.json:
        print_json(out)
        return 0
    rows, cols = v.grid
    grid = f"grid {rows}x{cols}" if v.num_crops else "global view only"
    print(f"{cfg.name}: {request.mode}, {grid}, {v.image_tokens} image tokens, "
          f"prompt {request.prompt_tokens}, decode {request.decode_tokens}, batch {request.batch}, "
          f"{args.attention} attention, lm_head {args.lm_head}, {args.accounting} accounting")
    print(f"parameters {params['total']:,} ({to_gb(params['total'] * cfg.element_bytes):.2f} GB), "
          f"activated per decoded token {params['activated_per_decoded_token'] / 1e6:.1f}M\n")
    _print_costs(costs, layers)
    return 0
