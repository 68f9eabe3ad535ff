"""`roofsim predict`: TTFT and TPOT of one request on a GPU, stage by stage.

    roofsim predict --grid 2x3 --prompt-tokens 16 --decode-tokens 100 --hardware h100-sxm \
        --calibration h100-sxm [--implementation reference|flash|normal] [--json]
    roofsim predict --model llama-3.1-8b --prompt-tokens 4096 --decode-tokens 16 \
        --hardware h200 --calibration h200 [--batch B] [--image WxH] [--json]

The model is DeepSeek-OCR unless --model names a transformers model (roofsim models list, or a
config.json), captured from its implementation on meta (cached: a repeat needs no torch).

vision_s, prefill_s, ttft_s (= vision + prefill) and tpot_s (the mean decode step), each the
sum of per-kernel times (GPU kernel time), with kernel counts and the time per bound. With
--host-overhead-us (or --eager, the hardware's stream launch overhead) an eager wall-time
estimate is added (roofsim.predict.eager_wall_s).
"""

from __future__ import annotations

from .. import memory as _memory
from .. import predict as _predict
from .. import wall as _wall
from ..parallel import MAX_DEGREE, ParallelPlan, shard_stage_records
from ..workloads import DEFAULT_MODEL, StageRecords, workload
from ..workloads.deepseek_ocr import load_config
from ..engine import BOUNDS
from ..errors import UserError
from .args import amount, count, nonempty
from .common import (add_hardware_args, add_json_arg, calibration_note, hardware_from_args,
                     load_calibration, shipped_profile_hint)
from .limits import check_fit, memory_of, positions_of
from .models import is_default_model
from .output import format_table, print_json
from .request import add_token_args, add_view_args, model_request_from_args, request_from_args

# --host-overhead-us: a host's per-launch cost is a few to tens of microseconds (calibration/h200/
# host: 7-16 us per eager dispatch); 10 ms per launch is beyond any, and keeps the estimate finite.
HOST_OVERHEAD_MAX_US = 1e4


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="TTFT and TPOT of one request (vision, prefill, decode step)",
        description="Per-stage GPU kernel time of one request: vision, prefill, "
                    "TTFT = vision + prefill, TPOT = mean decode step; kernel counts and the "
                    "time per bound. DeepSeek-OCR by default: 'reference' times the kernels "
                    "captured from the transformers-based reference; 'flash' / 'normal' the "
                    "analytic model. --model: a transformers model, captured.")
    add_view_args(parser, modes=False, models=True)
    add_token_args(parser, batch=True)
    add_hardware_args(parser)
    parser.add_argument("--calibration", metavar="DIR|NAME", type=nonempty("a calibration folder"),
                        help="calibration folder (profile.json) or a shipped one's name "
                             "(calibration/<name>); default: the roofline alone")
    parser.add_argument("--implementation", default="reference",
                        choices=_predict.IMPLEMENTATIONS,
                        help="reference (captured transformers reference), flash or normal "
                             "(analytic model); default reference")
    parser.add_argument("--host-overhead-us", metavar="US",
                        type=amount(0, hi=HOST_OVERHEAD_MAX_US, unit="us"),
                        help="per-launch host overhead: adds an eager wall-time estimate")
    parser.add_argument("--eager", action="store_true",
                        help="eager wall-time estimate with the hardware's stream launch overhead")
    parser.add_argument("--wall", choices=_wall.MODES,
                        help="wall time in an execution mode (eager: the host feeds one stream; "
                             "graph: CUDA-graph replay), with the host model (roofsim.host)")
    parser.add_argument("--host-model", metavar="DIR|FILE", type=nonempty("a host model file"),
                        help="host model (host.json; default: the one beside --calibration, "
                             "else calibration/<hardware>/host)")
    parser.add_argument("--host-probe-us", metavar="US", type=amount(0.5, hi=200.0, unit="us"),
                        help="the host probe of the machine to predict (seconds per eager "
                             "dispatch of a one-element add, in us: `roofsim host-probe` on it "
                             "prints it); the host model's costs are rescaled to it "
                             "(roofsim.host.HostModel.at_probe). With --wall")
    parser.add_argument("--no-cache", action="store_true",
                        help="capture again instead of using the capture cache")
    for name, what in (("tp", "tensor"), ("ep", "expert"), ("pp", "pipeline")):
        parser.add_argument(f"--{name}", metavar="N", type=count(1, MAX_DEGREE), default=1,
                            help=f"{what}-parallel degree (roofsim.parallel); default 1")
    parser.add_argument("--dp", metavar="N", type=count(1, MAX_DEGREE), default=1,
                        help="data-parallel replicas (roofsim.parallel), each running its own "
                             "--batch: the prediction is one replica's, which dp changes only "
                             "through the expert-parallel group (--ep) it forms with tp; "
                             "default 1")
    add_json_arg(parser)
    parser.set_defaults(func=run)


def _host_overhead(args, hw) -> float | None:
    if args.eager and args.host_overhead_us is not None:
        raise UserError(f"--eager: takes the hardware's stream launch overhead as the host's, "
                        f"and --host-overhead-us {args.host_overhead_us:g} another one: give "
                        f"one of them")
    if args.host_overhead_us is not None:
        return args.host_overhead_us * 1e-6
    if args.eager:
        return hw.launch_overhead_s("stream")
    return None


def _host_model(args, hw):
    """(the host model of a wall-time prediction, where it comes from), read, rescaled to
    --host-probe-us and checked before any prediction work; (None, '') without --wall and
    --host-model."""
    if args.host_probe_us is not None and args.wall is None:
        raise UserError("--host-probe-us rescales the host model of a wall-time prediction: "
                        "give --wall eager (or graph) too")
    if args.wall is None and args.host_model is None:
        return None, ""
    from ..host import resolve_host_model
    host, source = resolve_host_model(args.host_model, args.calibration, hw.id)
    if args.host_probe_us is not None:
        fitted_us = host.probe_s * 1e6
        try:
            host = host.at_probe(args.host_probe_us * 1e-6)
        except UserError as err:
            raise UserError(f"--host-probe-us {args.host_probe_us:g}: {err} ({source})") \
                from None
        source += f", at host probe {args.host_probe_us:g} us (fitted at {fitted_us:.2f})"
    if args.wall is None:           # after reading it: a broken file is named as such
        raise UserError(f"--host-model {args.host_model}: the host model times a wall-time "
                        f"prediction: give --wall eager (or graph) too")
    return host, source


def run(args) -> int:
    hw = hardware_from_args(args)
    host_overhead_s = _host_overhead(args, hw)
    host, source = _host_model(args, hw)
    plan = ParallelPlan(tp=args.tp, ep=args.ep, pp=args.pp, dp=args.dp)
    if is_default_model(args):
        # the plan first: it is checked against the model, and the memory check takes one
        # GPU's share under it
        cfg = load_config(args.config)
        wl = workload(None, args.implementation, cfg=cfg)
        sizes = wl.shard_sizes()
        plan.check_model(sizes)
        cfg, _, ds_request = request_from_args(args, memory_of(hw), cfg=cfg, plan=plan,
                                               sizes=sizes)
        request = _predict.request_for(wl, ds_request.grid, ds_request.prompt_tokens,
                                       ds_request.decode_tokens, ds_request.batch)
        memory_request = ds_request
    else:
        wl = workload(args.model, args.implementation)
        sizes = wl.shard_sizes()
        plan.check_model(sizes)
        request = model_request_from_args(args, wl, memory_of(hw), plan=plan, sizes=sizes)
        cfg, memory_request = wl.config, request
    profile = None
    if args.calibration is not None:
        profile = load_calibration(args.calibration)
    records = wl.stage_records(request, use_cache=not args.no_cache)
    fit = None
    if plan.is_single:          # a sharded plan's per-GPU weights and KV are not modelled here
        fit = _memory.memory_fit(cfg, memory_request,
                                 _memory.activation_peak_bytes(wl, request, records),
                                 hw.mem_capacity_bytes)
        check_fit(fit, memory_of(hw), f"batch {request.batch}")
    else:
        records = shard_stage_records(records, plan)
    p = _predict.predict_request(wl, request, hardware=hw, profile=profile,
                                 host_overhead_s=host_overhead_s, records=records)
    note = calibration_note(profile, hw)
    walls = None
    if args.wall is not None:
        graph = shard_stage_records(StageRecords(wl.graph_parts(request,
                                                                use_cache=not args.no_cache)),
                                    plan).parts
        walls = _wall.stage_walls(records.parts, hw, profile, host, graph_parts=graph)
        summary = _wall.wall_summary(walls, args.wall, host, source)
    if args.json:
        print_json({**p.as_dict(), "dtype": timed_dtype(cfg),
                    **({"dtype_note": line} if (line := dtype_note(cfg)) is not None else {}),
                    **({"generation_note": g} if (g := generation_note(cfg)) is not None
                       else {}),
                    "memory": fit.as_dict() if fit else None,
                    **(summary if walls is not None else {}),
                    "parallel": plan.as_dict(), **(note.as_dict() if note else {})})
        return 0
    print(render(p))
    if fit is not None:
        print(render_memory(fit, positions_of(cfg)[0]))
    for line in (dtype_note(cfg), generation_note(cfg)):
        if line is not None:
            print(line)
    if walls is not None:
        print()
        headers, rows, lines = _wall.wall_table(walls, args.wall, source,
                                                spread_measured=host.speed_spread != (1.0, 1.0))
        print("\n".join([format_table(headers, rows), ""] + lines))
    if plan.gpus > 1:
        print(f"parallel: tp {plan.tp}, ep {plan.ep}, pp {plan.pp}, dp {plan.dp} "
              f"({plan.gpus} GPUs{_replicas(plan, request.batch)}); communication per stage: "
              + ", ".join(f"{s} {_ms(t.comm_s)} ms" for s, t in p.stages.items()))
    if note:
        print(note.line())
    elif (hint := shipped_profile_hint(hw)) is not None:
        print(hint)
    return 0


def _replicas(plan: ParallelPlan, batch: int) -> str:
    """What the prediction is of a plan with data-parallel replicas: one replica's batch."""
    if plan.dp == 1:
        return ""
    return f"; the times are one of the {plan.dp} replicas', each running a batch of {batch}"


def _ms(s) -> float | str:
    return "-" if s is None else round(s * 1e3, 4)


def _input(p: _predict.Prediction) -> str:
    if p.model == DEFAULT_MODEL:
        grid = f"{p.grid[0]}x{p.grid[1]}" if p.grid else "global view only"
        return f"grid {grid}, {p.image_tokens} image tokens + "
    if p.image is not None:
        return f"image {p.image[1]}x{p.image[0]}, {p.image_tokens} image tokens + "
    return ""


def render_throughput(p: _predict.Prediction) -> str:
    """Per-request latency and the batch's token throughput."""
    per = f"per request (batch {p.batch})" if p.batch != 1 else "request"
    return (f"{per}: latency {_ms(p.latency_s)} ms (TTFT + K x TPOT); throughput "
            f"{p.throughput_tokens_per_s:.5g} tokens/s (B x K / latency), "
            f"{p.decode_throughput_tokens_per_s:.5g} tokens/s while decoding (B / TPOT)")


def render_memory(fit, limit: int | None = None) -> str:
    """The memory line; `limit`: the decoder's positions per sequence (limits.positions_of),
    which the context line never exceeds (memory alone may hold more than the model reads)."""
    m = fit.as_dict()
    ctx = f", {m['max_context']:,} positions at batch {fit.batch}" if m["max_context"] else ""
    if m["max_context"] and limit and m["max_context"] > limit:
        ctx = (f", {limit:,} positions at batch {fit.batch} (the model's limit; the memory "
               f"would hold {m['max_context']:,})")
    return (f"memory: weights {m['weights_gb']:.4g} + KV cache {m['kv_cache_gb']:.4g} + "
            f"activation peak {m['activation_peak_gb']:.4g} = {m['total_gb']:.4g} of "
            f"{m['capacity_gb']:.4g} GB; fits at most batch {m['max_batch']:,} at "
            f"{fit.positions:,} positions{ctx}")


def timed_dtype(cfg) -> str:
    """The dtype the prediction times: DeepSeek-OCR's config's, a --model's cases.DTYPE."""
    from ..workloads.hf.cases import DTYPE
    return str(cfg.dtype) if hasattr(cfg, "dtype") else DTYPE


def dtype_note(cfg) -> str | None:
    """A line where a --model's config declares weights in a dtype other than the one every
    model is timed in (roofsim.workloads.hf.cases.DTYPE), or quantized weights (its
    quantization_config, not modelled): the prediction is of that dtype."""
    from ..workloads.hf.cases import DTYPE
    declared = getattr(cfg, "declared_dtype", None)
    quant = getattr(cfg, "declared_quantization", None)
    said = [f"{declared} for its weights"] if declared is not None and declared != DTYPE else []
    if quant is not None:
        said.append(f"weights quantized by {quant}, which roofsim does not model")
    if not said:
        return None
    return f"dtype: timed in {DTYPE}, as every model is; {cfg.source} declares {'; '.join(said)}"


def generation_note(cfg) -> str | None:
    """A line where a --model's config names only heads that do not generate text (an encoder
    such as BertForMaskedLM): its decode step and TPOT time layers no such model runs so."""
    if getattr(cfg, "generates", None) is not False:
        return None
    names = ", ".join(a for a in cfg.raw.get("architectures", []) if isinstance(a, str))
    return (f"decode: {cfg.source} names {names}, which does not generate text; the decode "
            f"step and TPOT time its layers as a causal LM would run them")


def render(p: _predict.Prediction) -> str:
    who = p.implementation if p.model == DEFAULT_MODEL else f"{p.model} ({p.implementation})"
    head = (f"{who} on {p.hardware}"
            f"{' (calibration ' + p.calibration + ')' if p.calibration else ' (roofline, uncalibrated)'}"
            f": {_input(p)}{p.prompt_tokens} prompt tokens, K = {p.decode_tokens}"
            f"{f', batch {p.batch}' if p.batch != 1 else ''}")
    headers = ["stage", "kernel ms", "kernels", "bound"] + [f"{b} ms" for b in BOUNDS] + \
        ["calibrated"]
    eager = p.host_overhead_s is not None
    if eager:
        headers.insert(2, "eager ms")
    rows = []
    for name, t in p.stages.items():
        label = "decode step" if name == "decode" else name
        row = [label, _ms(t.kernel_s), round(t.launches, 1), t.bound] + \
            [_ms(t.by_bound[b]) for b in BOUNDS] + [f"{t.calibrated_fraction:.0%}"]
        if eager:
            row.insert(2, _ms(t.eager_s))
        rows.append(row)
    ttft = "vision + prefill" if "vision" in p.stages else "prefill"
    lines = [head, "", format_table(headers, rows), "",
             f"TTFT ({ttft}): {_ms(p.ttft_s)} ms"
             + (f"   eager estimate {_ms(p.eager_ttft_s)} ms" if eager else ""),
             f"TPOT (mean decode step): {_ms(p.tpot_s)} ms"
             + (f"   eager estimate {_ms(p.eager_tpot_s)} ms" if eager else "")]
    if p.decode_tokens:
        lines.append(render_throughput(p))
    if eager:
        lines.append(f"eager estimate: {p.host_overhead_s * 1e6:.3g} us host overhead per launch")
    lines.append("time is GPU kernel time: the sum of per-kernel times")
    return "\n".join(lines)
