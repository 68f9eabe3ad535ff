"""Which device a profile was measured on, how the target relates to it, and how far off a
prediction has been measured to be for that relation (the uncertainty band).

Relations, from nearest to farthest:
- fitted:      the target is the measuring device (same spec id and SM count);
- fewer-sms:   the same chip on fewer SMs (an SM-restricted H200, say);
- more-sms:    the same chip given more SMs than it has (a --set sm_count past the chip's):
               a device nobody measured, so no band;
- same-arch:   another device of the measuring device's architecture (H100 <-> H200);
- other-arch:  anything else: the residual is dropped, the physics stands alone, and no
               transfer of that kind has been measured, so there is no band.
The band of a relation is the largest |error| per stage (vision, prefill, decode) that
`benchmarks/bench_transfer.py` measured for it with a profile of this device, read from
calibration/transfer.json (that benchmark's --json output). A relation never measured has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..data import data_dir
from ..hardware import HardwareSpec
from .profile import CalibrationProfile, arch_family

TRANSFER_FILE = "transfer.json"
RELATIONS = ("fitted", "fewer-sms", "more-sms", "same-arch", "other-arch")


@dataclass(frozen=True)
class ProfileNote:
    device_name: str                 # the measuring device, as NVML named it
    device_sms: int
    target: str                      # the target spec's id
    relation: str                    # one of RELATIONS
    band: Mapping[str, float] = field(default_factory=dict)   # stage -> largest |error| seen
    warning: str = ""                # '' when the target is the measuring device
    sibling: str = ""                # the same-arch profile that filled groups, '' if none
    borrowed: int = 0                # groups it filled (roofsim.calibration.sibling)
    shares: int = 0                  # own groups whose SM shares it filled

    def as_dict(self) -> dict:
        return {"calibration_device": self.device_name, "calibration_sms": self.device_sms,
                "calibration_relation": self.relation, "uncertainty": dict(self.band),
                "calibration_warning": self.warning,
                **({"calibration_sibling": self.sibling, "calibration_borrowed_groups":
                    self.borrowed, "calibration_borrowed_shares": self.shares}
                   if self.sibling else {})}

    def line(self) -> str:
        band = ", ".join(f"{s} +-{e:.0%}" for s, e in self.band.items())
        text = f"calibration: measured on {self.device_name} ({self.device_sms} SMs)"
        if self.sibling and self.borrowed:
            text += (f", with {self.sibling}'s data for {self.borrowed} kernel groups it never "
                     f"timed")
        if self.sibling and self.shares:
            whose = " and its" if self.borrowed else f", with {self.sibling}'s"
            text += f"{whose} SM shares for {self.shares} groups it never ran on fewer SMs"
        text += f"; target {self.target}: {self.relation}"
        if band:
            text += f"; measured error of such predictions: {band}"
        return text


def relation(profile: CalibrationProfile, hardware: HardwareSpec) -> str:
    if profile.describes(hardware):
        return "fitted"
    same_arch = arch_family(hardware) != "" and arch_family(hardware) == \
        arch_family(profile.hardware)
    base = profile.hardware.id
    if hardware.id == base or hardware.id.startswith(f"{base}-sm") or \
            hardware.id.startswith(f"{base}-derived"):
        if hardware.sm_count < profile.sm_count:
            return "fewer-sms"
        return "more-sms" if hardware.sm_count > profile.sm_count else "same-arch"
    return "same-arch" if same_arch else "other-arch"


def _sibling(profile: CalibrationProfile) -> Mapping:
    """The profile's meta.sibling (roofsim.calibration.sibling), {} without one."""
    sib = profile.meta.get("sibling") if isinstance(profile.meta, Mapping) else None
    return sib if isinstance(sib, Mapping) and sib.get("device") else {}


def band_key(profile: CalibrationProfile) -> str:
    """The profile's name in transfer.json: its device id, '+<sibling>' where a same-arch
    sibling filled groups (bench_transfer's SIBLINGS rows)."""
    sib = _sibling(profile)
    return f"{profile.device_id}+{sib['device']}" if sib else profile.device_id


def _target_relation(fit: str, target: str) -> str:
    fit = fit.split("+")[0]          # a profile with a sibling is still its device's
    if target == fit:
        return "fitted"
    if target.startswith(f"{fit}-sm"):
        return "fewer-sms"
    return "same-arch"


def measured_bands(path: Path | None = None) -> dict[tuple[str, str], dict[str, float]]:
    """(profile device id, relation) -> stage -> largest |error|, from transfer.json."""
    path = path or data_dir("calibration") / TRANSFER_FILE
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    out: dict[tuple[str, str], dict[str, float]] = {}
    for r in doc.get("stages", []) if isinstance(doc, dict) else []:
        try:
            key = (str(r["fit"]), _target_relation(str(r["fit"]), str(r["target"])))
            stage, err = str(r["stage"]), abs(float(r["error"]))
        except (KeyError, TypeError, ValueError):
            continue
        band = out.setdefault(key, {})
        band[stage] = max(band.get(stage, 0.0), err)
    return out


def profile_note(profile: CalibrationProfile, hardware: HardwareSpec,
                 bands: dict | None = None) -> ProfileNote:
    rel = relation(profile, hardware)
    bands = measured_bands() if bands is None else bands
    band = bands.get((band_key(profile), rel), {})
    warning = ""
    if rel != "fitted":
        warning = (f"the calibration profile was measured on {profile.device_name} "
                   f"({profile.sm_count} SMs), not on {hardware.id} ({hardware.sm_count} SMs)")
        if rel == "other-arch":
            warning += "; another architecture: its residuals are dropped"
            ratio = profile.tensor_efficiency_ratio(hardware)
            if ratio != 1.0:
                warning += (f", its tensor efficiencies scaled by {ratio:.3g} (the specs' "
                            f"efficiency.tensor_core)")
            warning += ", and no such transfer has been measured"
        elif not band:
            warning += "; no such transfer has been measured"
    sib = _sibling(profile)
    return ProfileNote(device_name=profile.device_name, device_sms=profile.sm_count,
                       target=hardware.id, relation=rel, band=band, warning=warning,
                       sibling=str(sib.get("device", "")), borrowed=len(sib.get("groups", ())),
                       shares=len(sib.get("sm_shares", ())))
