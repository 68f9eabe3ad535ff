"""`roofsim serve`: a continuous-batching serving simulation (roofsim.serving).

    roofsim serve --model llama-3.1-8b --rate 4 --requests 1000 --prompt-tokens 1024 \
        --output-tokens 128 --hardware h200 --calibration h200 [--json]
    roofsim serve --model M --trace requests.csv --hardware H
    roofsim serve --model M --rates 1,2,4,8 --plot rates.png          # throughput vs latency
    roofsim serve --model M --ttft-target-ms 500 --tpot-target-ms 50  # the highest rate
    roofsim serve --model M --tp 2 ...                                # one server on 2 GPUs

Requests arrive at a Poisson rate (or at a trace CSV's times); a vLLM-like scheduler batches
them (chunked prefill under --max-batched-tokens, at most --max-num-seqs running, paged KV
blocks in the memory the weights leave, preemption when they run out). Step times are GPU
kernel time from the engine, cached per (batch, context) bucket. With --tp / --ep the server
spans several GPUs: its steps are sharded (roofsim.parallel) and its KV blocks are what one
GPU's share of the weights leaves for its share of the cache (roofsim.memory.kv_budget).
Pipeline stages (micro-batches in flight) and data-parallel replicas (sharing the arrivals)
are not simulated, so serve takes no --pp or --dp.
"""

from __future__ import annotations

import math

from ..errors import UserError
from ..io import check_output_file
from ..memory import DEFAULT_UTILIZATION, kv_budget
from ..parallel import MAX_DEGREE, ParallelPlan
from ..serving import SchedulerConfig, poisson_requests, read_trace, simulate
from ..serving.plot import plot_format
from ..serving.search import Target, max_rate, sweep_rates
from ..serving.steps import EngineStepTimes
from ..units import to_gb
from ..workloads import workload
from .args import amount, count, fill_defaults, given_options, nonempty
from .common import add_hardware_args, add_json_arg, hardware_from_args, load_calibration
from .limits import check_text_tokens
from .models import add_model_arg, is_default_model, parse_image
from .output import format_table, print_json

MAX_REQUESTS = 1_000_000
# The Poisson workload's options and their defaults (argparse leaves them None, so that --trace,
# which replays its own requests, can tell a given one from a default and refuse it).
POISSON = {"rate": 1.0, "requests": 1000, "prompt_tokens": 1024, "output_tokens": 128, "seed": 0}
# The targets' percentile, None unless given: without a target it bounds nothing.
TARGETS = {"target_percentile": 90}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serving simulation: continuous batching, latency percentiles, max rate",
        description="Requests at a Poisson rate or from a trace CSV through a vLLM-like "
                    "continuous-batching scheduler; TTFT, TPOT and latency percentiles, "
                    "throughput, GPU busy share; a sweep over rates; the highest rate meeting "
                    "a TTFT / TPOT target.")
    add_model_arg(p)
    p.add_argument("--implementation", choices=("reference", "flash", "normal"), default=None,
                   help="DeepSeek-OCR's records: flash (default: the reference captures each "
                        "batch and context bucket, slower) or normal; a --model is always "
                        "captured")
    p.add_argument("--rate", type=amount(0, strict=True, unit="requests/s"), metavar="R",
                   help=f"Poisson arrival rate in requests/s (default {POISSON['rate']:g})")
    p.add_argument("--requests", type=count(1, MAX_REQUESTS), metavar="N",
                   help=f"requests to simulate (default {POISSON['requests']})")
    p.add_argument("--prompt-tokens", type=count(1), metavar="P",
                   help=f"prompt tokens per request (default {POISSON['prompt_tokens']})")
    p.add_argument("--output-tokens", type=count(1), metavar="K",
                   help=f"generated tokens per request, the first included (default "
                        f"{POISSON['output_tokens']})")
    p.add_argument("--image", metavar="WxH", type=nonempty("an image size WxH"),
                   help="each request's image (DeepSeek-OCR: its crop grid is the one the "
                        "preprocessor picks; default the global view only)")
    p.add_argument("--trace", metavar="CSV", type=nonempty("a trace CSV file"),
                   help="requests from a CSV: arrival_s, prompt_tokens, output_tokens[, image]")
    p.add_argument("--seed", type=count(0), help=f"arrival seed (default {POISSON['seed']})")
    add_hardware_args(p)
    p.add_argument("--calibration", metavar="DIR|NAME", type=nonempty("a calibration folder"),
                   help="calibration folder or a shipped one's name; default: the roofline")
    p.add_argument("--max-num-seqs", type=count(1), default=256, metavar="N",
                   help="running sequences at most (default 256)")
    p.add_argument("--max-batched-tokens", type=count(1), default=8192, metavar="T",
                   help="tokens per step, prefill chunks included (default 8192)")
    p.add_argument("--block-size", type=count(1, 4096), default=16, metavar="N",
                   help="positions per KV block (default 16)")
    p.add_argument("--gpu-memory-utilization", type=amount(0, strict=True, hi=1.000001),
                   default=DEFAULT_UTILIZATION, metavar="F",
                   help=f"share of GPU memory for weights + KV cache (default "
                        f"{DEFAULT_UTILIZATION})")
    p.add_argument("--rates", metavar="R1,R2,...", type=nonempty("comma-separated rates"),
                   help="simulate each rate (Poisson) and tabulate throughput against latency")
    p.add_argument("--plot", metavar="PNG", type=nonempty("an output file"),
                   help="with --rates: plot throughput against latency percentiles (the "
                        "format the suffix names, e.g. .svg; PNG without one)")
    p.add_argument("--ttft-target-ms", type=amount(0, strict=True, unit="ms"), metavar="MS",
                   help="find the highest rate whose TTFT percentile is within this")
    p.add_argument("--tpot-target-ms", type=amount(0, strict=True, unit="ms"), metavar="MS",
                   help="find the highest rate whose TPOT percentile is within this")
    p.add_argument("--target-percentile", type=int, choices=(50, 90, 99), default=None,
                   help=f"the percentile the targets bound (default "
                        f"{TARGETS['target_percentile']})")
    for name, what in (("tp", "tensor"), ("ep", "expert")):
        p.add_argument(f"--{name}", metavar="N", type=count(1, MAX_DEGREE), default=1,
                       help=f"{what}-parallel degree of the one server (roofsim.parallel): "
                            f"sharded step times, one GPU's weights and KV cache; default 1")
    add_json_arg(p)
    p.set_defaults(func=run)


def _rates(text: str) -> list[float]:
    out = []
    for part in text.split(","):
        try:
            r = float(part)
        except ValueError:
            r = float("nan")
        if not (r == r and 0 < r < float("inf")):
            raise UserError(f"--rates {text}: {part!r}: expected finite rates > 0, "
                            "comma-separated")
        out.append(r)
    if len(out) > 64:
        raise UserError(f"--rates {text}: at most 64 rates")
    for i, r in enumerate(out):        # after the count: at most 64 x 64 comparisons
        if r in out[:i]:
            raise UserError(f"--rates {text}: rate {r:g} given twice")
    return out


def _setup(args):
    hw = hardware_from_args(args)
    if is_default_model(args):
        wl = workload(None, args.implementation or "flash")
        from ..workloads.deepseek_ocr import load_config
        cfg = wl.cfg if wl.cfg is not None else load_config()
    else:
        wl = workload(args.model, args.implementation or "reference")
        cfg = wl.config
    profile = load_calibration(args.calibration) if args.calibration is not None else None
    if args.tp % args.ep:               # ParallelPlan's message would name a --dp serve lacks
        raise UserError(f"--ep {args.ep}: serve's expert-parallel group is its --tp {args.tp} "
                        f"GPUs, so ep must divide tp (--tp {args.ep} or a multiple of it)")
    plan = ParallelPlan(tp=args.tp, ep=args.ep)
    sizes = wl.shard_sizes()
    plan.check_model(sizes)
    budget = kv_budget(cfg, hw.mem_capacity_bytes, args.gpu_memory_utilization,
                       owner=f"{hw.id} (--gpu-memory-utilization)", plan=plan, sizes=sizes)
    if budget.positions < args.block_size:      # no whole block: a KV cache that is not there
        raise UserError(f"--block-size {args.block_size}: the KV cache left on {hw.id} holds "
                        f"{budget.positions:,} positions, less than one block (a smaller "
                        f"--block-size or a larger --gpu-memory-utilization)")
    config = SchedulerConfig(kv_blocks=budget.positions // args.block_size,
                             block_size=args.block_size, max_seqs=args.max_num_seqs,
                             max_batched_tokens=args.max_batched_tokens)
    steps = EngineStepTimes(wl, hardware=hw, profile=profile, plan=plan)
    return hw, wl, cfg, profile, budget, config, steps, plan


def run(args) -> int:
    if args.plot and not args.rates:
        raise UserError("--plot draws a --rates sweep: give --rates too")
    targets = args.ttft_target_ms or args.tpot_target_ms
    if args.trace and (args.rates or targets):
        raise UserError("--trace replays its own arrival times: --rates and the targets "
                        "take Poisson arrivals")
    if args.trace:
        given = given_options(args, (*POISSON, "image"))
        if given:
            raise UserError(f"--trace replays its own requests (arrivals, tokens, images): "
                            f"{', '.join(given)} describe Poisson arrivals; give them without "
                            f"--trace")
    if args.target_percentile is not None and not targets:
        raise UserError(f"--target-percentile {args.target_percentile}: the percentile that "
                        f"--ttft-target-ms / --tpot-target-ms bound; give a target too")
    if args.rates and targets:
        raise UserError("--rates simulates the rates given; --ttft-target-ms / "
                        "--tpot-target-ms search for the highest rate: give one or the other")
    if args.rates and args.rate is not None:
        raise UserError(f"--rate {args.rate:g}: --rates {args.rates} gives the rates to "
                        f"simulate; give one or the other")
    fill_defaults(args, POISSON | TARGETS)
    if args.tpot_target_ms and args.output_tokens == 1:
        raise UserError(f"--tpot-target-ms {args.tpot_target_ms:g}: with --output-tokens 1 no "
                        f"request has a TPOT (the time per output token after the first), so "
                        f"every rate would meet it; more --output-tokens, or a TTFT target")
    rates = _rates(args.rates) if args.rates else None
    if args.plot:
        check_output_file(args.plot, option="--plot")
        plot_format(args.plot)
    hw, wl, cfg, profile, budget, config, steps, plan = _setup(args)
    image = parse_image("--image", args.image) if args.image else None
    if image is not None and not is_default_model(args) and \
            not getattr(wl.config, "is_vision_language", False):
        raise UserError(f"--image {args.image}: {wl.name} has no vision encoder")
    check_text_tokens(cfg, prompt=("--prompt-tokens", args.prompt_tokens),
                      decode=("--output-tokens", args.output_tokens),
                      image=(f"--image {args.image}", image))

    def at(rate):
        reqs = poisson_requests(rate, args.requests, args.prompt_tokens, args.output_tokens,
                                seed=args.seed, image=image)
        return simulate(reqs, steps, config).metrics()

    head = {"model": wl.name, "implementation": wl.implementation, "hardware": hw.id,
            "calibration": getattr(profile, "device_id", None) if profile else None,
            "scheduler": {"max_num_seqs": config.max_seqs,
                          "max_batched_tokens": config.max_batched_tokens,
                          "block_size": config.block_size, "kv_blocks": config.kv_blocks},
            "memory": budget.as_dict(), "parallel": plan.as_dict()}
    if targets:
        target = Target(args.ttft_target_ms and args.ttft_target_ms * 1e-3,
                        args.tpot_target_ms and args.tpot_target_ms * 1e-3,
                        args.target_percentile)
        found = max_rate(at, target, start=args.rate)
        return _out(args, head | {"search": found.as_dict()}, _render_search(found))
    if rates:
        points = sweep_rates(rates, at)
        if args.plot:
            from ..serving.plot import save_rate_plot
            save_rate_plot(points, args.plot, title=f"{wl.name} on {hw.id}")
        return _out(args, head | {"rates": [p.as_dict() for p in points]},
                    _render_sweep(points))
    if args.trace:
        reqs = read_trace(args.trace, check=lambda where, r: check_text_tokens(
            cfg, prompt=(f"{where}: prompt_tokens", r.prompt_tokens),
            decode=(f"{where}: output_tokens", r.output_tokens),
            image=(f"{where}: image {r.image[1]}x{r.image[0]}" if r.image else "", r.image)))
        m = simulate(reqs, steps, config).metrics()
        return _out(args, head | {"trace": args.trace, **m.as_dict()}, _render(m))
    m = at(args.rate)
    return _out(args, head | {"rate_per_s": args.rate, **m.as_dict()}, _render(m))


def _out(args, data, text: str) -> int:
    if args.json:
        print_json(data)
        return 0
    mem, par = data["memory"], data["parallel"]
    gpus = f" x {par['gpus']} (tp {par['tp']}, ep {par['ep']})" if par["gpus"] > 1 else ""
    per = " per GPU" if gpus else ""
    print(f"{data['model']} ({data['implementation']}) on {data['hardware']}{gpus}"
          f"{' (calibration ' + data['calibration'] + ')' if data['calibration'] else ''}: "
          f"weights {to_gb(mem['weight_bytes']):.4g} GB{per}, KV cache "
          f"{to_gb(mem['kv_bytes']):.4g} GB{per} = {mem['kv_positions']:,} positions; max "
          f"{data['scheduler']['max_num_seqs']} sequences, "
          f"{data['scheduler']['max_batched_tokens']} tokens per step")
    print(text)
    print("time is GPU kernel time (engine step times)" +
          ("; a sharded step's collectives included, on the critical path" if gpus else ""))
    return 0


def _ms(s: float) -> float | str:
    """Seconds as milliseconds in a table; 'n/a' where no request gives the figure (TPOT of
    one-token outputs: NaN)."""
    return round(s * 1e3, 3) if math.isfinite(s) else "n/a"


def _render(m) -> str:
    rows = [[name, _ms(p.p50), _ms(p.p90), _ms(p.p99), _ms(p.mean)]
            for name, p in (("TTFT", m.ttft), ("TPOT", m.tpot), ("latency", m.latency))]
    return "\n".join([
        format_table(["ms", "p50", "p90", "p99", "mean"], rows), "",
        f"{m.requests:,} requests in {m.duration_s:.4g} s: {m.throughput_tokens_per_s:.5g} "
        f"output tokens/s, {m.request_throughput_per_s:.4g} requests/s; GPU busy "
        f"{m.busy_share:.1%}; {m.steps:,} steps, {m.preemptions:,} preemptions"])


def _sweep_rows(points):
    return [[p.rate, round(p.metrics.throughput_tokens_per_s, 1), _ms(p.metrics.ttft.p50),
             _ms(p.metrics.ttft.p99), _ms(p.metrics.tpot.p50), _ms(p.metrics.tpot.p99),
             _ms(p.metrics.latency.p99), f"{p.metrics.busy_share:.0%}", p.metrics.preemptions]
            for p in points]


SWEEP_HEADERS = ["rate/s", "tokens/s", "TTFT p50 ms", "TTFT p99 ms", "TPOT p50 ms",
                 "TPOT p99 ms", "latency p99 ms", "busy", "preempted"]


def _render_sweep(points) -> str:
    return format_table(SWEEP_HEADERS, _sweep_rows(points))


def _render_search(found) -> str:
    t = found.target
    what = " and ".join(f"{n} p{t.percentile} <= {v * 1e3:g} ms"
                        for n, v in (("TTFT", t.ttft_s), ("TPOT", t.tpot_s)) if v is not None)
    tried = sorted(found.tried, key=lambda p: p.rate)
    lines = [format_table(SWEEP_HEADERS, _sweep_rows(tried)), ""]
    if found.best is None:
        lines.append(f"no rate tried meets {what}")
    elif found.unbounded:
        lines.append(f"every rate tried meets {what}, up to {found.best.rate:.4g} requests/s: "
                     f"there the requests all arrive at once, so no rate is the highest for "
                     f"this many requests; the GPU then serves "
                     f"{found.best.metrics.throughput_tokens_per_s:.5g} output tokens/s "
                     f"(more --requests, or a tighter target, bound it)")
    else:
        lines.append(f"highest rate meeting {what}: {found.best.rate:.4g} requests/s "
                     f"({found.best.metrics.throughput_tokens_per_s:.5g} output tokens/s)")
    return "\n".join(lines)
