"""`roofsim sweep`: one cost sweep (CSV, JSON and figures), over crop grids or any decoder knob.

    roofsim sweep vision                                  # the specification's 47 crop grids
    roofsim sweep decode --decode-tokens 100 --out DIR
    roofsim sweep vision-prefill --grids 1x2,2x3,10x10
    roofsim sweep decode --vary prefill-tokens=512:8192 --vary batch=1,2,4,8
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
from ..io import check_output_folder, output_folder
from ..objectives import Budgets
from ..sources import CAPTURED, SOURCE_NAMES
from ..sweep import (MAX_SWEEP_POINTS, SWEEP_DIRS, SWEEP_KINDS, VARY_KNOBS, default_sources,
                     grid_points, parse_vary, run_sweep, vary_points, write_outputs)
from .args import amount, count, fill_defaults, given_options, nonempty
from .common import add_hardware_args, add_json_arg, hardware_from_args, load_calibration
from .limits import check_memory, check_text_tokens, memory_of
from .models import (add_image_arg, add_model_arg, image_from_args, is_default_model,
                     refuse_deepseek_options)
from .output import format_table, print_json
from .request import flag_value

DEFAULT_OUT = "roofsim-sweep"
# The shortest TTFT / TPOT budget: a microsecond, below any launch; the rates a budget requires
# (FLOPs / budget) stay finite (1e-300 s printed 'inf TFLOP/s').
BUDGET_MIN_S = 1e-6
# The budgets when not given: --ttft in s (vision + prefill), --tpot in s per token (decode).
BUDGET_DEFAULTS = {"ttft": 1.0, "tpot": 0.05}
# DeepSeek-OCR's sources (its analytic models and captured reference) and their defaults:
# argparse leaves them None, so that a --model (its capture is the one source) refuses a given
# one instead of ignoring it; --lm-head's default follows --accounting (lm_head_of).
SOURCES = {"no_reference": False, "accounting": "model"}


def add_workload_args(parser, *, grids_help: str) -> None:
    """Options shared by `sweep` and `report`: the request, sources, budgets, calibration."""
    add_model_arg(parser)
    add_image_arg(parser)
    parser.add_argument("--grids", metavar="RxC,...", help=grids_help)
    parser.add_argument("--decode-tokens", type=count(1), default=100, metavar="K",
                        help="decode steps K (default 100)")
    parser.add_argument("--prompt-tokens", type=count(0), default=None, metavar="P",
                        help="text prompt tokens besides the image (default 10)")
    parser.add_argument("--ttft", default=None, type=amount(BUDGET_MIN_S, unit="s"),
                        metavar="S", help="TTFT budget in seconds, vision + prefill (default 1.0)")
    parser.add_argument("--tpot", default=None, type=amount(BUDGET_MIN_S, unit="s"),
                        metavar="S", help="TPOT budget in seconds per token, decode "
                                          "(default 0.05)")
    parser.add_argument("--no-reference", action="store_true", default=None,
                        help="skip the captured reference (no torch needed)")
    parser.add_argument("--accounting", choices=("model", "report"), default=None,
                        help="model: the real computation (default); report: the "
                             "specification's counting conventions")
    parser.add_argument("--lm-head", choices=("last", "all"), default=None,
                        help="LM head over the last prefill position (default) or all "
                             "(default with --accounting report)")
    add_hardware_args(parser)
    parser.add_argument("--calibration", metavar="DIR|NAME", type=nonempty("a calibration folder"),
                        help="calibration folder (profile.json) or a shipped one's name; "
                             "default: the roofline alone")


def parse_grids(text: str | None):
    """'1x2,2x3' -> [(1, 2), (2, 3)]; None -> None (the specification's grids)."""
    if text is None:
        return None
    from ..workloads.deepseek_ocr import parse_grid
    items = [g for g in text.split(",") if g.strip()]
    if len(items) > MAX_SWEEP_POINTS:
        raise UserError(f"--grids: {len(items):,} grids, more than the {MAX_SWEEP_POINTS} points "
                        f"a sweep may have")
    grids = [flag_value("--grids", g.strip(), parse_grid) for g in items]
    if not grids:
        raise UserError(f"--grids {text!r}: expected ROWSxCOLS[,ROWSxCOLS...], e.g. 1x2,2x3")
    return grids


def budgets_from_args(args) -> Budgets:
    return Budgets(ttft_s=BUDGET_DEFAULTS["ttft"] if args.ttft is None else args.ttft,
                   tpot_s=BUDGET_DEFAULTS["tpot"] if args.tpot is None else args.tpot)


def check_points(points, cfg, memory, *, varied: bool) -> None:
    """Every point's text tokens within the decoder's positions and its weights + KV cache
    within the device memory; messages name the flag that set the offending value. `cfg` is
    DeepSeek-OCR's config or a --model's (roofsim.cli.limits); positions are checked for every
    point first (they need no model built)."""
    for p in points:
        req = p.request
        knobs = getattr(p, "knobs", {}) or {}
        prompt_flag = next((f"--vary {k}={knobs[k]} (prompt tokens)" for k in
                            ("prefill-tokens", "prompt-tokens") if k in knobs), "--prompt-tokens")
        decode_flag = (f"--vary decode-tokens={knobs['decode-tokens']} (decode tokens)"
                       if "decode-tokens" in knobs else "--decode-tokens")
        image = getattr(req, "image", None)
        check_text_tokens(p.cfg if p.cfg is not None else cfg,
                          prompt=(prompt_flag, req.prompt_tokens),
                          decode=(decode_flag, req.decode_tokens),
                          image=(f"--image {image[1]}x{image[0]}" if image else "", image))
    for p in points:
        req = p.request
        what = (f"--vary {p.label}" if varied else f"--grids {p.label}") + \
            f" (prompt {req.prompt_tokens}, decode {req.decode_tokens}, batch {req.batch})"
        check_memory(p.cfg if p.cfg is not None else cfg, req, memory, what)


def reject_image(args) -> None:
    """--image of `sweep` and `report` is a vision-language --model's; DeepSeek-OCR's requests
    are crop grids."""
    if getattr(args, "image", None) is not None:
        raise UserError(f"--image {args.image}: the image of a vision-language --model; "
                        "DeepSeek-OCR takes crop grids (--grids)")


def check_sources(args, model: str | None, extra=()) -> None:
    """With a --model (`model`), refuse DeepSeek-OCR's source options given (and `extra`
    destinations of the command's own); then fill in their defaults."""
    if model is not None:
        refuse_deepseek_options(args, model, (*SOURCES, "lm_head", *extra))
    fill_defaults(args, SOURCES)


def lm_head_of(args) -> str:
    return args.lm_head or ("all" if args.accounting == "report" else "last")


def calibration_of(args):
    if not getattr(args, "calibration", None):
        return None
    return load_calibration(args.calibration)


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
    parser.add_argument("--batch", type=count(1), default=None, metavar="B",
                        help="batch size (default 1)")
    parser.add_argument("--vary", action="append", default=[], metavar="KNOB=VALUES",
                        help="sweep a knob instead of the crop grid; repeat for a product. "
                             f"Knobs: {', '.join(VARY_KNOBS)}. Values: 1,2,4 or LO:HI "
                             "(doubling) or LO:HI:STEP")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", type=nonempty("a folder"),
                        help=f"output folder (default ./{DEFAULT_OUT}); files go to DIR/<sweep>/, "
                             "replaced as a whole when the sweep is done")
    parser.add_argument("--no-plots", action="store_true", help="write CSV and JSON only")
    add_json_arg(parser)
    # None unless given, so that a --vary knob can refuse the option it would override
    # (refuse_varied_options); run fills in BASE_DEFAULTS.
    parser.set_defaults(func=run, decode_tokens=None)


# The base request's options a --vary knob replaces, and their defaults (argparse leaves them
# None: a given one is told from its default).
VARIED_OPTIONS = {"prefill-tokens": "prompt_tokens", "prompt-tokens": "prompt_tokens",
                  "decode-tokens": "decode_tokens", "batch": "batch"}
BASE_DEFAULTS = {"decode_tokens": 100, "batch": 1}


def refuse_varied_options(args, varies, default: str = "") -> None:
    """A --vary knob sets the base request's value at every point; the same value given by its
    own option (--batch 4 with --vary batch=1,2) would be silently ignored. `default`: the
    --vary the command chose, where none was given."""
    for knob, _ in varies:
        dest = VARIED_OPTIONS.get(knob)
        if dest is not None and getattr(args, dest, None) is not None:
            flag = f"--{dest.replace('_', '-')}"
            by = f"the default --vary {default}" if default else f"--vary {knob}"
            raise UserError(f"{flag} {getattr(args, dest)}: {by} sets it at every point; "
                            f"give one of the two")


def run(args) -> int:
    if args.json and args.no_plots:
        given = given_options(args, BUDGET_DEFAULTS)
        if given:
            raise UserError(f"{' and '.join(given)}: the budgets set the required TFLOP/s and "
                            f"bandwidth of the text table and the figures; --json with "
                            f"--no-plots prints and writes neither (drop {', '.join(given)}, or "
                            f"--no-plots)")
    budgets = budgets_from_args(args)
    check_output_folder(args.out)
    hw = hardware_from_args(args)
    varies = [parse_vary(v) for v in args.vary]
    refuse_varied_options(args, varies)
    fill_defaults(args, BASE_DEFAULTS)
    if not is_default_model(args):
        from ..sources import WorkloadSource
        wl, points, stem, x_key = _model_points(args, varies)
        check_points(points, wl.config, memory_of(hw), varied=True)
        cfg, sources, notes = None, [WorkloadSource(wl)], None
    else:
        from ..workloads.deepseek_ocr import load_config
        cfg = load_config()
        check_sources(args, None)
        points, stem, x_key = _deepseek_points(args, varies, cfg)
        check_points(points, cfg, memory_of(hw), varied=bool(varies))
        sources, note = default_sources(not args.no_reference, accounting=args.accounting,
                                        lm_head=lm_head_of(args))
        notes = {"reference": note} if note else None
    profile = calibration_of(args)
    folder = Path(args.out) / stem
    figures = []
    with output_folder(folder, option="--out") as staged:     # locked from here on
        result = run_sweep(args.kind, points, sources, cfg=cfg, hardware=hw, profile=profile,
                           notes=notes, x_key=x_key)
        written = write_outputs(result, staged, stem=stem)
        if not args.no_plots:
            from ..plots import draw_all
            hw_name = getattr(hw, "name", "") or hw.id
            for _, paths in draw_all(result, staged, stem, budgets, hw_name):
                figures += [str(folder / p.name) for p in paths]
    files = {k: folder / p.name for k, p in written.items()}
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


def _deepseek_points(args, varies, cfg):
    """DeepSeek-OCR's sweep points: the crop grids, or the --vary knobs around one grid;
    (points, file stem, x key)."""
    from ..workloads.deepseek_ocr import sweep_grids
    reject_image(args)
    grids = parse_grids(args.grids)
    if varies:
        if grids is not None and len(grids) != 1:
            raise UserError("--vary: give at most one crop grid with --grids (the base request)")
        points = vary_points(varies, grid=grids[0] if grids else None,
                             prompt_tokens=args.prompt_tokens, decode_tokens=args.decode_tokens,
                             batch=args.batch, cfg=cfg)
        return points, "_".join(n.replace("-", "_") for n, _ in varies), varies[0][0]
    points = grid_points(grids if grids is not None else sweep_grids(),
                         prompt_tokens=args.prompt_tokens, decode_tokens=args.decode_tokens,
                         batch=args.batch, cfg=cfg)
    return points, SWEEP_DIRS[args.kind], "image_tokens"


MODEL_DEFAULT_VARY = "prefill-tokens=512:8192"


def _model_points(args, varies):
    """A transformers model's sweep points over the --vary knobs (its capture is the one
    source): (workload, points, file stem, x key)."""
    from ..sweep import model_points
    from ..workloads import DEFAULT_PROMPT_TOKENS, workload
    wl = workload(args.model)
    if args.grids is not None:
        raise UserError(f"--grids is DeepSeek-OCR's crop grid; {wl.name} takes --image")
    check_sources(args, wl.name)
    image = image_from_args(args, wl)
    if args.kind == "vision" and image is None:
        raise UserError(f"sweep vision: {wl.name} has no vision stage "
                        f"({'--image none' if wl.config.is_vision_language else 'a text model'}); "
                        "sweep vision-prefill, prefill or decode instead")
    if not varies:
        varies = [parse_vary(MODEL_DEFAULT_VARY)]
        refuse_varied_options(args, varies, default=MODEL_DEFAULT_VARY)
    prompt = args.prompt_tokens if args.prompt_tokens is not None else DEFAULT_PROMPT_TOKENS
    points = model_points(varies, wl, prompt_tokens=prompt, decode_tokens=args.decode_tokens,
                          batch=args.batch, image=image)
    stem = f"{wl.name}_" + "_".join(n.replace("-", "_") for n, _ in varies)
    return wl, points, stem, varies[0][0]


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

