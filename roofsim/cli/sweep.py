"""`roofsim sweep`: one cost sweep (CSV, JSON and figures), over crop grids or any decoder knob.

    roofsim sweep vision                                  # the specification's 47 crop grids
    roofsim sweep decode --decode-tokens 100 --out DIR
    roofsim sweep vision-prefill --grids 1x2,2x3,10x10
    roofsim sweep decode --vary prefill-tokens=512:32768 --vary batch=1,2,4,8
    roofsim sweep vision-prefill --model llama-3.1-8b --vary prompt-tokens=512:8192

Per point and source (analytic normal attention, analytic flash attention, the captured
reference): image tokens, tensor / CUDA-core FLOPs, I/O, arithmetic intensity, peak activations,
KV cache, and the latency predicted on --hardware. With --model (a transformers model), the
one source is its capture, and --vary sweeps prompt/prefill tokens, decode tokens or batch
(default: prefill-tokens=512:8192).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..objectives import Budgets
from ..sources import CAPTURED, SOURCE_NAMES
from ..sweep import (SWEEP_DIRS, SWEEP_KINDS, VARY_KNOBS, default_sources, grid_points,
                     parse_vary, run_sweep, vary_points, write_outputs)
from .common import add_hardware_args, add_json_arg, hardware_from_args, parse_amount
from .models import add_image_arg, add_model_arg, image_from_args, is_default_model
from .output import format_table, print_json

DEFAULT_OUT = "roofsim-sweep"


def add_workload_args(parser, *, grids_help: str) -> None:
    """Options shared by `sweep` and `report`: the request, sources, budgets, calibration."""
    add_model_arg(parser)
    add_image_arg(parser)
    parser.add_argument("--grids", metavar="RxC,...", help=grids_help)
    parser.add_argument("--decode-tokens", type=int, default=100, metavar="K",
                        help="decode steps K (default 100)")
    parser.add_argument("--prompt-tokens", type=int, default=None, metavar="P",
                        help="text prompt tokens besides the image (default 10)")
    parser.add_argument("--ttft", default="1.0", metavar="S",
                        help="TTFT budget in seconds, vision + prefill (default 1.0)")
    parser.add_argument("--tpot", default="0.05", metavar="S",
                        help="TPOT budget in seconds per token, decode (default 0.05)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the captured reference (no torch needed)")
    parser.add_argument("--accounting", choices=("model", "report"), default="model",
                        help="model: the real computation (default); report: the "
                             "specification's counting conventions")
    parser.add_argument("--lm-head", choices=("last", "all"), default=None,
                        help="LM head over the last prefill position (default) or all "
                             "(default with --accounting report)")
    add_hardware_args(parser)
    parser.add_argument("--calibration", metavar="DIR|NAME",
                        help="calibration folder (profile.json) or a shipped one's name; "
                             "default: the roofline alone")


def parse_grids(text: str | None):
    """'1x2,2x3' -> [(1, 2), (2, 3)]; None -> None (the specification's grids)."""
    if text is None:
        return None
    from ..workloads.deepseek_ocr import parse_grid
    grids = [parse_grid(g) for g in text.split(",") if g.strip()]
    if not grids:
        raise UserError(f"--grids {text!r}: expected ROWSxCOLS[,ROWSxCOLS...], e.g. 1x2,2x3")
    return grids


def budgets_from_args(args) -> Budgets:
    ttft = parse_amount("--ttft", args.ttft)
    tpot = parse_amount("--tpot", args.tpot)
    if ttft <= 0 or tpot <= 0:
        raise UserError("--ttft and --tpot must be > 0 seconds")
    return Budgets(ttft_s=ttft, tpot_s=tpot)


def check_counts(args) -> None:
    if args.decode_tokens < 1:
        raise UserError(f"--decode-tokens {args.decode_tokens}: expected an integer >= 1")
    if args.prompt_tokens is not None and args.prompt_tokens < 0:
        raise UserError(f"--prompt-tokens {args.prompt_tokens}: expected an integer >= 0")


def lm_head_of(args) -> str:
    return args.lm_head or ("all" if args.accounting == "report" else "last")


def calibration_of(args):
    if not getattr(args, "calibration", None):
        return None
    from ..calibration.profile import load_profile
    return load_profile(args.calibration)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="cost sweep over crop grids or decoder knobs (CSV, JSON, figures)",
        description="Cost of one stage over many input shapes, for analytic normal attention, "
                    "analytic flash attention and the captured reference: FLOPs (tensor, "
                    "CUDA core), activation I/O, arithmetic intensity, peak activations, KV "
                    "cache, required TFLOP/s and bandwidth for the budgets, and the latency "
                    "predicted on --hardware. Writes CSV + JSON (SI units) and SVG + PNG "
                    "figures into --out.")
    parser.add_argument("kind", choices=tuple(SWEEP_KINDS), help="the stage to report")
    add_workload_args(parser, grids_help="crop grids, comma separated (default: the "
                                         "specification's 47, workloads/sweep-grids.yaml); "
                                         "with --vary, one grid as the base request "
                                         "(default: the global view only)")
    parser.add_argument("--batch", type=int, default=1, metavar="B", help="batch size (default 1)")
    parser.add_argument("--vary", action="append", default=[], metavar="KNOB=VALUES",
                        help="sweep a knob instead of the crop grid; repeat for a product. "
                             f"Knobs: {', '.join(VARY_KNOBS)}. Values: 1,2,4 or LO:HI "
                             "(doubling) or LO:HI:STEP")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"output folder (default ./{DEFAULT_OUT}); files go to DIR/<sweep>/")
    parser.add_argument("--no-plots", action="store_true", help="write CSV and JSON only")
    add_json_arg(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    check_counts(args)
    if args.batch < 1:
        raise UserError(f"--batch {args.batch}: expected an integer >= 1")
    budgets = budgets_from_args(args)
    hw = hardware_from_args(args)
    profile = calibration_of(args)
    varies = [parse_vary(v) for v in args.vary]
    if not is_default_model(args):
        result, stem = _model_sweep(args, varies, hw, profile)
        return _write(args, result, stem, hw, budgets)
    grids = parse_grids(args.grids)
    sources, note = default_sources(not args.no_reference, accounting=args.accounting,
                                    lm_head=lm_head_of(args))
    if varies:
        if grids is not None and len(grids) != 1:
            raise UserError("--vary: give at most one crop grid with --grids (the base request)")
        points = vary_points(varies, grid=grids[0] if grids else None,
                             prompt_tokens=args.prompt_tokens, decode_tokens=args.decode_tokens,
                             batch=args.batch)
        stem = "_".join(n.replace("-", "_") for n, _ in varies)
        x_key = varies[0][0]
    else:
        from ..workloads.deepseek_ocr import sweep_grids
        points = grid_points(grids if grids is not None else sweep_grids(),
                             prompt_tokens=args.prompt_tokens, decode_tokens=args.decode_tokens,
                             batch=args.batch)
        stem, x_key = SWEEP_DIRS[args.kind], "image_tokens"
    result = run_sweep(args.kind, points, sources, hardware=hw, profile=profile,
                       notes={"reference": note} if note else None, x_key=x_key)
    return _write(args, result, stem, hw, budgets)


MODEL_DEFAULT_VARY = "prefill-tokens=512:8192"


def _model_sweep(args, varies, hw, profile):
    """A transformers model's sweep: its capture as the one source, over --vary knobs."""
    from ..sources import WorkloadSource
    from ..sweep import model_points
    from ..workloads import DEFAULT_PROMPT_TOKENS, workload
    if args.grids is not None:
        raise UserError("--grids is DeepSeek-OCR's crop grid; a transformers model takes "
                        "--image")
    wl = workload(args.model)
    varies = varies or [parse_vary(MODEL_DEFAULT_VARY)]
    prompt = args.prompt_tokens if args.prompt_tokens is not None else DEFAULT_PROMPT_TOKENS
    points = model_points(varies, wl, prompt_tokens=prompt, decode_tokens=args.decode_tokens,
                          batch=args.batch, image=image_from_args(args, wl))
    result = run_sweep(args.kind, points, [WorkloadSource(wl)], hardware=hw, profile=profile,
                       x_key=varies[0][0])
    stem = f"{wl.name}_" + "_".join(n.replace("-", "_") for n, _ in varies)
    return result, stem


def _write(args, result, stem, hw, budgets) -> int:
    folder = Path(args.out) / stem
    files = write_outputs(result, folder, stem=stem)
    figures = []
    if not args.no_plots:
        from ..plots import draw_all
        hw_name = getattr(hw, "name", "") or hw.id
        for _, paths in draw_all(result, folder, stem, budgets, hw_name):
            figures += [str(p) for p in paths]
    if args.json:
        from ..sweep import to_json
        doc = to_json(result)
        doc["files"] = {"csv": str(files["csv"]), "json": str(files["json"]), "figures": figures}
        print_json(doc)
        return 0
    print(render(result, budgets))
    print(f"\nwrote {files['csv']}, {files['json']}"
          + (f" and {len(figures)} figure files in {folder}" if figures else ""))
    for k, v in result.notes.items():
        print(f"note: {v}")
    return 0


def render(result, budgets) -> str:
    from .. import units
    from ..objectives import tpot_requirement, ttft_requirement
    main = "flash" if "flash" in result.sources else result.sources[0]
    headers = ["point", "image tokens"] + [f"{s} TFLOPs" for s in result.sources if
                                           s in SOURCE_NAMES + (CAPTURED,)]
    headers += [f"{main} TTFT req TFLOP/s", f"{main} TPOT req TFLOP/s"]
    pred = any(p is not None for p in result.predictions.get(main, ()))
    if pred:
        headers += [f"TTFT ms ({result.hardware})", "bound", f"TPOT ms ({result.hardware})",
                    "bound"]
    rows = []
    for i, p in enumerate(result.points):
        row = [p.label, p.image_tokens]
        for s in result.sources:
            c = result.stage_cost(s, i)
            row.append(round(units.to_tflops(c.flops), 6) if c is not None else "n/a")
        c = result.costs[main][i]
        row.append(round(units.to_tflops(ttft_requirement(c, budgets.ttft_s).flops_per_s), 4))
        row.append(round(units.to_tflops(tpot_requirement(c, p.request.decode_tokens,
                                                          budgets.tpot_s).flops_per_s), 4))
        if pred:
            f = result.predictions[main][i]
            row += [round(units.to_ms(f.ttft_s), 3), f.ttft_bound, round(units.to_ms(f.tpot_s), 4),
                    f.tpot_bound]
        rows.append(row)
    return format_table(headers, rows)

