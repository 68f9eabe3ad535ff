"""Argument parsing shared by every subcommand: the parser class (a mistake is one line, exit 2),
value types (integers, amounts, non-empty names) and the rewriting of option values that start
with a minus sign.

Types check what can be known from the value alone (an integer, >= its lower bound); bounds that
depend on the model config or the hardware (positions, memory) are checked after parsing, in
roofsim.cli.limits.
"""

from __future__ import annotations

import argparse
import math
import re

from ..errors import UserError


# "argument -o/--output: x.csv: expected ..." (a value type's error) -> "--output x.csv: expected"
_TYPE_ERROR = re.compile(r"argument (?:\S+/)*(\S+): (.*?): (expected .*)", re.S)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: a UserError (exit 2) instead of usage + message, and no
    abbreviated options: `serve --tpot 2` would otherwise be read as `--tpot-target-ms 2`
    (argparse completes a unique prefix), a silent wrong request where it should be an error."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)       # subparsers are built by this class too
        super().__init__(*args, **kwargs)

    def _get_values(self, action, arg_strings):  # noqa: D102 (argparse's hook)
        # `--flag=--` reaches here as ['--'], which argparse drops, handing the action an
        # empty list unchecked; check it as the value it is instead.
        if arg_strings == ["--"] and action.nargs in (None, argparse.OPTIONAL):
            return self._get_value(action, "--")
        return super()._get_values(action, arg_strings)

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        m = _TYPE_ERROR.fullmatch(message)
        if m:
            message = f"{m.group(1)} {m.group(2)}: {m.group(3)}"
        raise UserError(f"{message} (see `{self.prog} --help`)")


def integer_text(text: str) -> int | None:
    """'4096', '1e3', '1_000', '2.0' -> int; None when `text` is not an integral number."""
    t = str(text).strip().replace("_", "")
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    try:
        value = float(t)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    return int(value)


def count(lo: int = 0, hi: int | None = None):
    """argparse type: an integer >= lo (and <= hi); fractions, text, NaN refused."""
    def parse(text: str) -> int:
        value = integer_text(text)
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        if value is None or value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text}: expected an integer {rng}")
        return value
    parse.__name__ = "integer"
    parse.bounds = (lo, hi)             # read by the bad-input corpus (tests/test_bad_inputs.py)
    return parse


def amount(lo: float = 0.0, *, strict: bool = False, hi: float | None = None,
           unit: str = ""):
    """argparse type: a finite number >= lo (> lo when strict, < hi when given)."""
    def parse(text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            value = math.nan
        cmp = ">" if strict else ">="
        rng = f"{cmp} {lo:.10g}" + (f" and < {hi:.10g}" if hi is not None else "")
        ok = math.isfinite(value) and (value > lo if strict else value >= lo) and \
            (hi is None or value < hi)
        if not ok:
            raise argparse.ArgumentTypeError(f"{text}: expected a finite number {rng}"
                                             f"{' ' + unit if unit else ''}")
        return value
    parse.__name__ = "number"
    parse.bounds = (lo, hi, strict)
    return parse


def nonempty(what: str):
    """argparse type: a non-empty name or path (an empty value must not mean the default)."""
    def parse(text: str) -> str:
        if not str(text).strip():
            raise argparse.ArgumentTypeError(f"'': expected {what}, not an empty value")
        if "\0" in text:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what}, without a NUL byte")
        return text
    parse.__name__ = "name"
    parse.what = what
    return parse


def _value_options(parser: argparse.ArgumentParser, out: set[str]) -> set[str]:
    """Option strings (of `parser` and its subparsers) that take one value."""
    for action in parser._actions:  # noqa: SLF001 (argparse has no public walk)
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                _value_options(sub, out)
        elif action.option_strings and action.nargs is None:
            out.update(action.option_strings)
    return out


_DASH_VALUE = re.compile(r"-[\d.]")


def _once_options(parser: argparse.ArgumentParser) -> tuple[dict, dict]:
    """`parser`'s options that keep one value (option string -> action: a later value would
    replace an earlier one; appending options such as --set are left out), and its subcommands
    (name -> parser)."""
    once, subs = {}, {}
    for action in parser._actions:  # noqa: SLF001 (argparse has no public walk)
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            subs.update(action.choices)
        elif action.option_strings and action.nargs is None and \
                not isinstance(action, (argparse._AppendAction, argparse._ExtendAction)):  # noqa: SLF001
            once.update(dict.fromkeys(action.option_strings, action))
    return once, subs


def refuse_repeated_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """One line where an option that keeps one value is given twice (`--grid 2x3 ... --grid
    4x4`): argparse would keep the last one without a word, a request other than the one meant.
    Options that collect (--set) and flags may repeat. `argv` as attach_dash_values leaves it."""
    once, subs = _once_options(parser)
    seen: dict[str, tuple[str, str | None]] = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return
        if tok in subs:
            refuse_repeated_options(subs[tok], argv[i + 1:])
            return
        name, eq, attached = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        action = once.get(name)
        if action is not None:
            value = attached if eq else (argv[i + 1] if i + 1 < len(argv) else None)
            if action.dest in seen:
                first, before = seen[action.dest]
                raise UserError(f"{name} given twice ({first} {before}, then {name} {value}): "
                                f"an option of one value is given once")
            seen[action.dest] = (name, value)
            i += 0 if eq else 1
        i += 1


def attach_dash_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """['--grid', '-1x2'] -> ['--grid=-1x2']: argparse would take '-1x2' for an option and say
    only 'expected one argument'; attached, the value reaches its own check."""
    options = _value_options(parser, set())
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in options and i + 1 < len(argv) and _DASH_VALUE.match(argv[i + 1]):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


__all__ = ["Parser", "amount", "attach_dash_values", "count", "fill_defaults", "given_options",
           "integer_text", "nonempty", "refuse_repeated_options"]


# ---- options that only matter in some modes ----------------------------------------------------
# A mode that ignores some options (serve --trace, calibrate --fit-only / --no-fit) refuses them
# when given: argparse leaves such options None (their defaults live in a dict beside the
# parser), so that a given one can be told from a default; after the check the defaults fill in.

def given_options(args: argparse.Namespace, dests) -> list[str]:
    """The options among `dests` (argparse destinations) that were given, as --flags."""
    return [f"--{dest.replace('_', '-')}" for dest in dests if getattr(args, dest) is not None]


def fill_defaults(args: argparse.Namespace, defaults: dict) -> None:
    """Each destination of `defaults` left None takes its default."""
    for dest, value in defaults.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
