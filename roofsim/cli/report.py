"""`roofsim report`: the specification's report, regenerated offline (no GPU), plus the latency
predicted on a hardware spec.

    roofsim report                                   # ./roofsim-report/report.md, RTX 5090
    roofsim report --hardware h100-sxm --out DIR --calibration h100-sxm
    roofsim report --model llama-3.1-8b --hardware h200 --calibration h200   # a model's report

Sections: per-layer check, cost sweeps (vision; decode; vision+prefill; prefill length, K, B,
heads), named workload profiles, objectives (TTFT / TPOT: TFLOP/s and bandwidth required),
StageCost definitions, and predicted TTFT / TPOT with the dominating bound. Every table and
figure (SVG + PNG) is generated; the sweeps' data is written beside them as CSV and JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from ..report import DEFAULT_OUT, ReportOptions, build_report
from .sweep import (add_workload_args, budgets_from_args, calibration_of, check_counts,
                    lm_head_of, parse_grids)
from .common import hardware_from_args
from .models import image_from_args, is_default_model


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write the full Markdown report (tables, figures, predicted latency)",
        description="Regenerate the specification's DeepSeek-OCR report with roofsim's own "
                    "numbers: per-layer check, sweeps, workload profiles, objectives, StageCost "
                    "definitions, plus the latency predicted on --hardware. Offline, no GPU.")
    add_workload_args(parser, grids_help="crop grids, comma separated (default: the "
                                         "specification's 47, workloads/sweep-grids.yaml)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"output folder (default ./{DEFAULT_OUT})")
    parser.add_argument("--profiles", metavar="FILE",
                        help="workload profiles (default workloads/profiles.yaml)")
    parser.add_argument("--no-decoder-sweeps", action="store_true",
                        help="skip the prefill-length, K, batch and heads sweeps")
    parser.add_argument("--jobs", type=int, default=0, metavar="N",
                        help="processes drawing figures (default: one per core, at most 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    check_counts(args)
    hw = hardware_from_args(args)
    model = image = None
    if not is_default_model(args):
        from ..workloads import workload
        if args.grids is not None:
            raise UserError("--grids is DeepSeek-OCR's crop grid; a transformers model takes "
                            "--image")
        model = args.model
        image = image_from_args(args, workload(model))
    opts = ReportOptions(
        model=model, image=image,
        hardware=hw, out_dir=Path(args.out), grids=parse_grids(args.grids),
        decode_tokens=args.decode_tokens, prompt_tokens=args.prompt_tokens,
        budgets=budgets_from_args(args), reference=not args.no_reference,
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
