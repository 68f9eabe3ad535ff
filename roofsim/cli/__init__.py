"""The `roofsim` command line. Each subcommand lives in its own module of this package and
exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.

User mistakes raise roofsim.errors.UserError: one line on stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import UserError

# Subcommand modules, in the order `roofsim --help` lists them.
COMMAND_MODULES = (
    "hardware",
    "roofline",
    "calibrate",
    "predict_kernels",
    "predict",
    "models",
    "tokens",
    "cost",
    "verify",
    "sweep",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roofsim",
        description="Roofline hardware simulator for transformer inference (DeepSeek-OCR by "
                    "default; any transformers model with --model).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"roofsim: error: {err}", file=sys.stderr)
        return err.exit_status
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
