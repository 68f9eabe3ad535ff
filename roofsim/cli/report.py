"""`roofsim report`: the specification's report, regenerated offline (no GPU), plus the latency
predicted on a hardware spec.

    roofsim report                                   # ./roofsim-report/report.md, RTX 5090
    roofsim report --hardware h100-sxm --out DIR --calibration h100-sxm
    roofsim report --model llama-3.1-8b --hardware h200 --calibration h200   # a model's report

Sections: per-layer check, cost sweeps (vision; decode; vision+prefill; prefill length, K, B,
heads), named workload profiles, objectives (TTFT / TPOT: TFLOP/s and bandwidth required),
StageCost definitions, and predicted TTFT / TPOT with the dominating bound. Every table and
figure (SVG + PNG) is generated; the sweeps' data is written beside them as CSV and JSON.
The report is assembled in a temporary folder and moved into --out when it is complete.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import UserError
from ..io import check_output_folder
from ..report import DEFAULT_OUT, ReportOptions, build_report
from .args import count, nonempty
from .common import hardware_from_args
from .limits import check_crop_limits, check_memory, check_text_tokens, memory_of
from .models import image_from_args, is_default_model
from .request import check_model_request
from .sweep import (add_workload_args, budgets_from_args, calibration_of, check_points,
                    check_sources, lm_head_of, parse_grids, reject_image)

MAX_JOBS = max(os.cpu_count() or 1, 1) * 4


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write the full Markdown report (tables, figures, predicted latency)",
        description="Regenerate the specification's DeepSeek-OCR report with roofsim's own "
                    "numbers: per-layer check, sweeps, workload profiles, objectives, StageCost "
                    "definitions, plus the latency predicted on --hardware. Offline, no GPU.")
    add_workload_args(parser, grids_help="crop grids, comma separated (default: the "
                                         "specification's 47, workloads/sweep-grids.yaml)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", type=nonempty("a folder"),
                        help=f"output folder (default ./{DEFAULT_OUT}); its report files are "
                             "replaced when the new report is complete")
    parser.add_argument("--profiles", metavar="FILE", type=nonempty("a profiles file"),
                        help="workload profiles (default workloads/profiles.yaml)")
    parser.add_argument("--no-decoder-sweeps", action="store_true", default=None,
                        help="skip the prefill-length, K, batch and heads sweeps")
    parser.add_argument("--jobs", type=count(0, MAX_JOBS), default=0, metavar="N",
                        help="processes drawing figures (default 0: one per core, at most 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def check_requests(args, hw) -> None:
    """The crop grids and the named profiles within the decoder's positions and the GPU's
    memory, before any work."""
    from ..sweep import grid_points, load_profiles, profile_points
    from ..workloads.deepseek_ocr import load_config, sweep_grids
    cfg = load_config()
    grids = parse_grids(args.grids)
    memory = memory_of(hw)
    check_points(grid_points(grids if grids is not None else sweep_grids(),
                             prompt_tokens=args.prompt_tokens, decode_tokens=args.decode_tokens,
                             cfg=cfg), cfg, memory, varied=False)
    path = args.profiles or "workloads/profiles.yaml"
    for prof in load_profiles(args.profiles):
        where = f"{path}: profile {prof.name!r}"
        if prof.max_crops is not None:
            check_crop_limits(cfg, None, prof.max_crops, names=("", f"{where}: max_crops"))
        check_text_tokens(cfg, prompt=(f"{where}: prompt_tokens", prof.prompt_tokens),
                          decode=(f"{where}: decode_tokens", prof.decode_tokens))
        request = profile_points([prof], cfg)[0].request
        check_memory(cfg, request, memory, f"{where} (batch {prof.batch})")


def check_model_report(args, hw) -> tuple[str, tuple | None]:
    """A --model report's request within the model config's positions and the GPU's memory:
    (model, image)."""
    from ..workloads import DEFAULT_PROMPT_TOKENS, Request, workload
    wl = workload(args.model)
    if args.grids is not None:
        raise UserError(f"--grids is DeepSeek-OCR's crop grid; {wl.name} takes --image")
    if args.profiles is not None:
        raise UserError(f"--profiles are DeepSeek-OCR's workload profiles; {wl.name}'s report "
                        "takes --prompt-tokens, --decode-tokens and --image")
    check_sources(args, wl.name, extra=("no_decoder_sweeps",))
    image = image_from_args(args, wl)
    prompt = args.prompt_tokens if args.prompt_tokens is not None else DEFAULT_PROMPT_TOKENS
    check_model_request(wl, Request(prompt_tokens=prompt, decode_tokens=args.decode_tokens,
                                    image=image), memory_of(hw))
    return args.model, image


def run(args) -> int:
    budgets = budgets_from_args(args)
    check_output_folder(args.out)
    hw = hardware_from_args(args)
    model = image = None
    if is_default_model(args):
        reject_image(args)
        check_sources(args, None)
        check_requests(args, hw)
    else:
        model, image = check_model_report(args, hw)
    opts = ReportOptions(
        model=model, image=image,
        hardware=hw, out_dir=Path(args.out), grids=parse_grids(args.grids),
        decode_tokens=args.decode_tokens, prompt_tokens=args.prompt_tokens,
        budgets=budgets, reference=not args.no_reference,
        accounting=args.accounting, lm_head=lm_head_of(args),
        knob_sweeps=not args.no_decoder_sweeps, profiles_path=args.profiles,
        calibration=calibration_of(args), calibration_name=args.calibration or "",
        jobs=args.jobs, progress=not args.quiet,
        command="roofsim " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["report"]
        else "roofsim report")
    result = build_report(opts)
    print(f"wrote {result.path} ({len(result.figures)} figure files, "
          f"{len(result.tables)} tables) in {result.elapsed_s:.1f} s")
    for note in sorted(set(result.notes.values())):
        print(f"note: {note}")
    return 0
