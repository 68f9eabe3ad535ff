"""Argument helpers shared by the subcommands: choosing hardware (--hardware, --set) and --json."""

from __future__ import annotations

import argparse
import math

from ..errors import UserError
from ..hardware import DEFAULT_HARDWARE, HardwareSpec, load_hardware

SET_HELP = ("override one field of the hardware spec, dotted for maps; repeatable "
            "(e.g. --set mem_bandwidth_gbps=6000 --set efficiency.memory=0.9 "
            "--set tensor_core_tflops.bfloat16=2000 --set launch_overhead_us.stream=4)")


def add_set_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="set", action="append", default=[], metavar="KEY=VALUE",
                        help=SET_HELP)


def add_hardware_args(parser: argparse.ArgumentParser) -> None:
    """--hardware NAME|PATH (default rtx-5090) and repeatable --set KEY=VALUE."""
    parser.add_argument("--hardware", default=DEFAULT_HARDWARE, metavar="NAME|PATH",
                        help=f"a shipped spec id (see `roofsim hardware list`) or a path to a "
                             f"YAML spec (schema: hardware/README.md); default {DEFAULT_HARDWARE}")
    add_set_arg(parser)


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (SI units) instead of text")


def parse_set_args(items: list[str] | None) -> dict[str, str]:
    """['k=v', ...] -> {k: v}; a later --set of the same key wins."""
    out: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UserError(f"--set {item}: expected KEY=VALUE (e.g. mem_bandwidth_gbps=6000)")
        out[key] = value.strip()
    return out


def hardware_from_args(args: argparse.Namespace) -> HardwareSpec:
    """The spec named by --hardware, with the --set overrides applied and validated."""
    return load_hardware(getattr(args, "hardware", None) or DEFAULT_HARDWARE,
                         parse_set_args(getattr(args, "set", None)))


def parse_amount(option: str, text: str) -> float:
    """A non-negative finite number given on the command line (1e12, 2.5e9, 4096)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UserError(f"{option} {text}: expected a number (e.g. 1e12)") from None
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{option} {text}: expected a finite number >= 0")
    return value
