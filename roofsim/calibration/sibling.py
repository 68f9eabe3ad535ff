"""A same-architecture sibling fills what a profile never measured.

The kind parameters of a group describe the software (the library's kernel for that kind and
dtype on that architecture: cuBLAS, cuDNN and PyTorch ship one sm_90 binary for every Hopper
part), and a shape's SM-parallel share is a property of that kernel on that SM. So where a
profile has no group (a kind its device never timed: until session 49 the H100 SXM had not run
kernels/sort.yaml, cat.yaml or moe_routing.yaml), or a group with no SM shares (its device never
ran on fewer SMs), the group or the shares of a profile of the same architecture are the
physical answer; the roofline's defaults, or the profile's own whole-chip kind fit, are not.
The borrowed group keeps its kind parameters and residual and is timed on the target's spec
like any other; the device quantities (SMs, clocks, HBM, latencies) still come from the spec.

`with_sibling(profile, sibling)` returns the profile with the sibling's groups it lacks and the
sibling's SM shares where its own groups have none, each marked with the sibling's device id
(`source`, `sm_source`), and the sibling's spec (share_devices), on which a borrowed share's SM
count changes; nothing the profile measured itself is replaced. Checked by
benchmarks/bench_transfer.py (the H100 SXM's profile with the H200's as sibling, on the H100's
own end-to-end measurements and on SM-restricted H200s).
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import UserError
from .profile import CalibrationProfile, arch_family


def with_sibling(profile: CalibrationProfile, sibling: CalibrationProfile) -> CalibrationProfile:
    """`profile` with `sibling`'s groups it lacks and its SM shares where it has none."""
    arch, other = arch_family(profile.hardware), arch_family(sibling.hardware)
    if not arch or arch != other:
        raise UserError(f"a sibling profile must be of the same architecture: "
                        f"{profile.device_id} is {arch or 'unknown'}, {sibling.device_id} is "
                        f"{other or 'unknown'}")
    if sibling.device_id == profile.device_id:
        raise UserError(f"a profile cannot be its own sibling ({profile.device_id})")
    groups = dict(profile.groups)
    borrowed, shares = [], []
    for key, g in sibling.groups.items():
        if g.source:            # only what the sibling measured itself
            continue
        own = groups.get(key)
        if own is None:
            groups[key] = replace(g, source=sibling.device_id, sm_source="")
            borrowed.append(f"{g.family}|{g.dtype}")
        elif own.sm_fraction is None and g.sm_fraction is not None and not g.sm_source:
            groups[key] = replace(own, sm_params=g.sm_params, sm_fraction=g.sm_fraction,
                                  sm_counts=g.sm_counts, sm_source=sibling.device_id)
            shares.append(f"{g.family}|{g.dtype}")
    meta = dict(profile.meta)
    meta["sibling"] = {"device": sibling.device_id, "groups": sorted(borrowed),
                       "sm_shares": sorted(shares)}
    devices = dict(profile.share_devices)
    if any(g.sm_fraction is not None and g.share_lender == sibling.device_id
           for g in groups.values()):
        devices[sibling.device_id] = sibling.hardware
    return replace(profile, groups=groups, meta=meta, share_devices=devices)
