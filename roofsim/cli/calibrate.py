"""`roofsim calibrate`: time real kernels on this machine's GPU and fit a calibration profile.

    roofsim calibrate [--suite kernels/X.yaml ...] [--out calibration/DEVICE] [--resume]
                      [--time-budget S] [--hardware SPEC | --no-fit]
    roofsim calibrate --fit-only --out calibration/DEVICE [--hardware SPEC]   (no GPU needed)

Rows are written to OUT/measurements.csv as they are measured; a run cut short keeps them and
`--resume` continues it. After measuring, the profile (OUT/profile.json) is fitted on the rows
of the 'fit' split and checked on the 'holdout' rows.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import NeedsGPU, UserError
from ..io import check_output_folder
from .args import Parser, amount, count, fill_defaults, given_options, nonempty

# The measuring options that have a default, and their defaults (argparse leaves them None, so
# that --fit-only, which measures nothing, can tell a given one from a default and refuse it).
MEASURING = {"suite": [], "resume": False, "retry_failed": False, "device": "cuda",
             "no_fit": False}
# The measuring options without a default (None when not given).
MEASURING_UNSET = ("time_budget", "max_cases", "sample", "sms")
# The fitting options, which --no-fit (measure only) would leave unused: their defaults, and
# those without one.
FITTING = {"companion": [], "more": []}
FITTING_UNSET = ("hardware", "graph_gap", "warm_l2", "sibling")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", action="append", metavar="YAML",
                        type=nonempty("a kernel suite file"),
                        help="a kernel suite (repeatable); default: every kernels/*.yaml")
    parser.add_argument("--out", metavar="DIR", type=nonempty("a folder"),
                        help="output folder (default calibration/<device>, named for the GPU)")
    parser.add_argument("--resume", action="store_true", default=None,
                        help="continue a run: skip cases already in OUT/measurements.csv")
    parser.add_argument("--retry-failed", action="store_true", default=None,
                        help="with --resume, time again the cases that failed before")
    parser.add_argument("--time-budget", type=amount(0, strict=True, unit="s"), metavar="S",
                        help="stop cleanly after S seconds of measuring (--resume continues)")
    parser.add_argument("--max-cases", type=count(1), metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=amount(0, strict=True, unit="fraction"), metavar="F",
                        help="time a fixed pseudo-random fraction F of the cases (chosen by a "
                             "hash of the case id, the same on every machine)")
    parser.add_argument("--hardware", metavar="NAME|PATH", type=nonempty("a hardware id or file"),
                        help="hardware spec of the measuring device, for the profile's roofs "
                             "(default: the spec named like the device)")
    parser.add_argument("--device", choices=("cuda", "cpu"),
                        help="cuda (default) or cpu: host timers, to exercise the harness")
    parser.add_argument("--sms", type=count(1), metavar="N",
                        help="measure on N of the GPU's SMs (a CUDA green context): an "
                             "SM-restricted device, written to calibration/<device>-sm<N>")
    parser.add_argument("--companion", action="append", metavar="DIR",
                        type=nonempty("a calibration folder"),
                        help="a calibration folder of the same GPU measured on fewer SMs "
                             "(calibrate --sms N): the profile learns from it how each shape's "
                             "time scales with the SM count (repeatable)")
    parser.add_argument("--more", action="append", metavar="DIR",
                        type=nonempty("a calibration folder"),
                        help="another folder of this device's measurements on as many SMs (a "
                             "kernel test set taken into the calibration, say): its rows join "
                             "--out's, each shape fitted or held out by its case id (repeatable)")
    parser.add_argument("--graph-gap", metavar="CSV", type=nonempty("a file"),
                        help="the CUDA-graph node gap measured by benchmarks/"
                             "measure_graph_gap.py (default: <out>/gap/graph-gap-sm0.csv if "
                             "present); kernel time excludes it, wall time adds it back")
    parser.add_argument("--warm-l2", metavar="CSV", type=nonempty("a file"),
                        help="small kernels timed cold and warm by benchmarks/"
                             "measure_warm_l2.py (default: <out>/warm/warm-l2.csv if present): "
                             "what an L2-resident input saves each kernel group")
    parser.add_argument("--sibling", metavar="NAME|DIR", type=nonempty("a calibration"),
                        help="a profile of the same architecture (another GPU) whose groups "
                             "fill the kinds this device never timed, and whose SM shares "
                             "fill groups no run on fewer SMs informed "
                             "(roofsim.calibration.sibling); the profile marks them")
    parser.add_argument("--no-fit", action="store_true", default=None, help="measure only")
    parser.add_argument("--fit-only", action="store_true",
                        help="fit OUT/measurements.csv again; no measuring, no GPU")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="time real kernels on the GPU and fit a calibration profile",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def run(args: argparse.Namespace) -> int:
    from ..calibration.device import current_device_name, device_id
    from ..calibration.run import run_cases
    from ..calibration.suites import default_suite_paths, interleave_by_kind, load_suites

    argv = getattr(args, "argv", None)
    command = ("roofsim calibrate " + shlex.join(argv)) if argv is not None else \
        ("roofsim " + shlex.join(sys.argv[1:]))
    for mode, on, dests, what in (("--fit-only", args.fit_only, (*MEASURING, *MEASURING_UNSET),
                                   "measures nothing, so these measuring options"),
                                  ("--no-fit", args.no_fit, (*FITTING, *FITTING_UNSET),
                                   "fits nothing, so these fitting options")):
        given = given_options(args, dests) if on else []
        if given:
            raise UserError(f"{mode} {what} would do nothing: {', '.join(given)}; give them "
                            f"without {mode}")
    fill_defaults(args, {**MEASURING, **FITTING})
    if args.retry_failed and not args.resume:
        raise UserError("--retry-failed times again the failed cases of a run --resume "
                        "continues: give --resume too")
    if args.out is not None:
        check_output_folder(args.out)
    if args.hardware is not None:       # read now, not after an hour of measuring
        from ..hardware import load_hardware
        load_hardware(args.hardware)
    from ..io import stored_file
    for flag, folders, hint in (   # checked now, not after an hour of measuring
            ("--companion", args.companion, " (expected a calibration folder measured with "
                                            "`roofsim calibrate --sms N`)"),
            ("--more", args.more, "")):
        for folder in folders:
            if not stored_file(Path(folder) / "measurements.csv").is_file():
                raise UserError(f"{flag} {folder}: no measurements.csv there{hint}")
    if args.sibling is not None:        # read now, not after an hour of measuring
        from ..calibration import load_profile
        load_profile(args.sibling)
    if args.graph_gap is not None:      # read now, not after an hour of measuring
        from ..calibration.gap import graph_gap_s
        graph_gap_s(args.graph_gap)
    if args.warm_l2 is not None:        # read now, not after an hour of measuring
        from ..calibration.warm import short_cases
        short_cases(args.warm_l2)
    if args.fit_only:
        if not args.out:
            raise UserError("--fit-only needs --out DIR (the folder holding measurements.csv)")
        return _fit(Path(args.out), args.hardware, command, args.companion, args.graph_gap,
                    args.warm_l2, args.sibling, args.more)
    if args.device == "cuda" and not _cuda_available():
        raise NeedsGPU("roofsim calibrate needs a CUDA GPU, and torch sees none here; "
                       "refit committed measurements with --fit-only --out DIR, or exercise "
                       "the harness with --device cpu")
    suites = [Path(s) for s in args.suite] or default_suite_paths()
    if not suites:
        raise UserError("no kernel suites found (expected kernels/*.yaml or --suite FILE)")
    cases = interleave_by_kind(load_suites(suites))
    if args.sample is not None:
        if not 0 < args.sample <= 1:
            raise UserError(f"--sample {args.sample}: expected a fraction in (0, 1]")
        from ..calibration.measurements import sampled
        cases = [c for c in cases if sampled(c.case_id, args.sample)]
    name = current_device_name() if args.device == "cuda" else "cpu"
    restriction = None
    if args.sms is not None:
        if args.device != "cuda":
            raise UserError("--sms restricts a CUDA GPU's SMs; it does not apply to --device cpu")
        from ..calibration.green import restrict_sms
        restriction = restrict_sms(args.sms)
    ident = device_id(name) + (f"-sm{restriction.sms}" if restriction else "")
    out = Path(args.out) if args.out else Path("calibration") / ident
    if args.device == "cuda":
        from ..calibration.timing import CudaTimer
        timer = CudaTimer()
    else:
        from ..calibration.timing import CpuTimer
        timer = CpuTimer()
    print(f"calibrate: {len(cases)} cases from {len(suites)} suite(s) on {name} -> {out}",
          file=sys.stderr)
    report = run_cases(cases, out, timer=timer, device=args.device, resume=args.resume,
                       retry_failed=args.retry_failed, time_budget_s=args.time_budget,
                       max_cases=args.max_cases, command=command,
                       extra={"sm_restriction": restriction.as_dict()} if restriction else None)
    print(f"calibrate: {report.summary()}")
    for case_id, err in report.failed[:20]:
        print(f"  failed: {case_id}: {err}")
    if len(report.failed) > 20:
        print(f"  ... and {len(report.failed) - 20} more (see {out / 'provenance.json'})")
    if not args.no_fit:
        _fit(out, args.hardware, command, args.companion, args.graph_gap, args.warm_l2,
             args.sibling, args.more)
    return 0


def _fit(out: Path, hardware: str | None, command: str, companions=(), graph_gap=None,
         warm_l2=None, sibling=None, more=()) -> int:
    from ..calibration.fit import fit_directory
    summary = fit_directory(out, hardware=hardware, command=command,
                            companions=[Path(c) for c in companions],
                            graph_gap=Path(graph_gap) if graph_gap else None,
                            warm_l2=Path(warm_l2) if warm_l2 else None, sibling=sibling,
                            more=[Path(f) for f in more])
    print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run this subcommand alone (`python -m roofsim.cli.calibrate`), as the GPU script does."""
    parser = Parser(prog="roofsim calibrate", description=__doc__)
    add_arguments(parser)
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser.parse_args(argv)
        args.argv = argv
        return run(args)
    except UserError as err:
        print(f"roofsim: error: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print("roofsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
