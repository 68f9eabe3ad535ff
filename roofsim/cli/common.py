"""Argument helpers shared by the subcommands: choosing hardware (--hardware, --set) and --json."""

from __future__ import annotations

import sys

import argparse

from ..errors import UserError
from ..hardware import DEFAULT_HARDWARE, HardwareSpec, load_hardware, spec_with_overrides
from .args import nonempty

SET_HELP = ("override one field of the hardware spec, dotted for maps; repeatable, each key once "
            "(e.g. --set mem_bandwidth_gbps=6000 --set efficiency.memory=0.9 "
            "--set tensor_core_tflops.bfloat16=2000 --set launch_overhead_us.stream=4)")


def add_set_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="set", action="append", default=[], metavar="KEY=VALUE",
                        help=SET_HELP)


def add_hardware_args(parser: argparse.ArgumentParser) -> None:
    """--hardware NAME|PATH and repeatable --set KEY=VALUE. Not given: the device a
    --calibration profile was measured on, else DEFAULT_HARDWARE (hardware_from_args)."""
    parser.add_argument("--hardware", default=None, metavar="NAME|PATH",
                        type=nonempty("a hardware id or a YAML file"),
                        help=f"a shipped spec id (see `roofsim hardware list`) or a path to a "
                             f"YAML spec (schema: hardware/README.md); default: the device the "
                             f"--calibration profile was measured on, else {DEFAULT_HARDWARE}")
    add_set_arg(parser)


def add_json_arg(parser: argparse.ArgumentParser,
                 units: str = "SI units: FLOP, byte, second") -> None:
    parser.add_argument("--json", action="store_true",
                        help=f"print JSON instead of text ({units})")


def parse_set_args(items: list[str] | None) -> dict[str, str]:
    """['k=v', ...] -> {k: v}; the same key twice is refused (which one was meant?). The values
    stay text: roofsim.hardware reads them by their field (a number field in decimal)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UserError(f"--set {item}: expected KEY=VALUE (e.g. mem_bandwidth_gbps=6000)")
        if key in out:
            raise UserError(f"--set {item}: {key} is already set by an earlier --set "
                            f"{key}={out[key]}; give each key once")
        out[key] = value.strip()
    return out


def hardware_from_args(args: argparse.Namespace, given_as: str = "--hardware") -> HardwareSpec:
    """The spec named by --hardware, with the --set overrides applied and validated; `given_as`
    names where the name came from where that is not the --hardware option (a command's
    argument: 'hardware show'). Without --hardware: the spec of the device the --calibration
    profile was measured on (its `hardware`: `--calibration h200` alone predicts the H200, not
    another GPU with the H200's profile), else DEFAULT_HARDWARE."""
    hw = getattr(args, "hardware", None)
    overrides = parse_set_args(getattr(args, "set", None))
    calibration = getattr(args, "calibration", None)
    if hw is None and calibration is not None:
        from ..calibration.profile import measured_spec_fields
        fields, where = measured_spec_fields(calibration)
        return spec_with_overrides(fields, overrides, where)
    return load_hardware(DEFAULT_HARDWARE if hw is None else hw, overrides, given_as=given_as)


def load_calibration(name_or_dir: str):
    """The calibration profile of --calibration (a folder, its profile.json, or a shipped
    calibration's name). load_profile reads the file through roofsim.io (unreadable, not UTF-8,
    not JSON, a key twice: one line), and a structure it trips on is one line too."""
    from ..calibration.profile import load_profile, profile_file
    path = profile_file(name_or_dir)
    try:
        return load_profile(name_or_dir)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise UserError(f"{path}: not a calibration profile ({type(err).__name__}: {err})") \
            from None


def shipped_profile_hint(hardware: HardwareSpec) -> str | None:
    """Without --calibration on a GPU whose measured profile ships (calibration/<id>/), a line
    saying so: the roofline alone ignores what that GPU was measured to do (DeepSeek-OCR's
    decode step at grid 2x3 on the H200: 1.41 ms uncalibrated, 2.12 ms calibrated; 2.1-2.3 ms
    of kernels measured at such grids, calibration/h200*/e2e*). None where no such profile
    ships."""
    from ..calibration.profile import shipped_calibrations
    if hardware.id not in shipped_calibrations():
        return None
    return (f"calibration: none, the roofline alone; a profile measured on {hardware.id} ships: "
            f"add --calibration {hardware.id}")


def calibration_note(profile, hardware):
    """What a prediction's calibration rests on: the measuring device, the target's relation to
    it and the measured error band (roofsim.calibration.band); None without a profile. A target
    other than the measuring device is also said on stderr, as a warning."""
    if profile is None:
        return None
    from ..calibration.band import profile_note
    note = profile_note(profile, hardware)
    if note.warning:
        print(f"roofsim: warning: {note.warning}", file=sys.stderr)
    return note
