"""The `roofsim` command line. Each subcommand lives in its own module of this package and
exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.

User mistakes raise roofsim.errors.UserError: one line on stderr, exit status 2, no traceback.
Ctrl-C ends with one line and exit status 130; outputs are written atomically (roofsim.io), so
an interrupted run leaves the previous output as it was. A Ctrl-C that lands while Python runs a
finalizer (a weakref callback of the caches, a __del__) cannot propagate from there: Python
would print it as "Exception ignored" and go on. The command line (`main()` without argv)
delivers it again a moment later instead (_redeliver_interrupts), where it ends the run as any
other.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from .. import __version__
from ..errors import UserError
from ..io import output_error
from .args import Parser, attach_dash_values, refuse_repeated_options

# Subcommand modules, in the order `roofsim --help` lists them.
COMMAND_MODULES = (
    "hardware",
    "roofline",
    "calibrate",
    "predict_kernels",
    "predict",
    "host_probe",
    "models",
    "tokens",
    "cost",
    "verify",
    "sweep",
    "serve",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="roofsim",
        description="Roofline hardware simulator for transformer inference (DeepSeek-OCR by "
                    "default; any transformers model with --model).")
    parser.add_argument("--version", action="version", version=f"roofsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


EXIT_INTERRUPTED = 130
REDELIVER_S = 0.01      # how long after a lost Ctrl-C it is delivered again


def _redeliver_interrupts(previous):
    """sys.unraisablehook for the command line: a KeyboardInterrupt raised where Python cannot
    propagate it (a finalizer) is not printed but sent again as SIGINT, REDELIVER_S later, from
    another thread (the main thread then raises it where it runs); every other unraisable
    exception goes to `previous`. Marked so that it wraps only once."""
    if getattr(previous, "roofsim_redelivers", False):
        return previous

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            timer = threading.Timer(REDELIVER_S, os.kill, (os.getpid(), signal.SIGINT))
            timer.daemon = True     # a run that ends first is not held up to be interrupted
            timer.start()
            return
        previous(unraisable)

    hook.roofsim_redelivers = True
    return hook


def main(argv: list[str] | None = None) -> int:
    if argv is None:            # the command line itself, not a caller's in-process run
        sys.unraisablehook = _redeliver_interrupts(sys.unraisablehook)
    try:
        parser = build_parser()
        argv = attach_dash_values(parser, list(sys.argv[1:] if argv is None else argv))
        refuse_repeated_options(parser, argv)
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except UserError as err:
        return _fail(str(err), err.exit_status)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED, prefix="roofsim: ")
    except BrokenPipeError:
        return 0
    except OSError as err:      # an output or input path no check foresaw: still one line
        return _fail(str(output_error(err.filename or "roofsim", err, "file")), 2)
    except MemoryError:
        return _fail("out of memory: the request is too large for this machine", 2)


def _fail(message: str, status: int, prefix: str = "roofsim: error: ") -> int:
    try:
        print(prefix + " ".join(message.split()), file=sys.stderr)
    except (OSError, ValueError):
        pass
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
