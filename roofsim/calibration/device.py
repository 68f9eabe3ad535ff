"""The measuring device's name -> folder name under calibration/ and hardware spec id.

NVML and torch report marketing names ("NVIDIA H100 80GB HBM3", "NVIDIA H200"); calibration
folders are named like the hardware specs (hardware/<id>.yaml) so that a profile and the spec
of the device that measured it line up. An unknown device gets a slug of its name.
"""

from __future__ import annotations

import re

# (pattern on the reported name, id). Order matters: the first match wins.
# "H100 80GB HBM3" is the SXM5 board; the PCIe board reports "H100 PCIe" and the NVL "H100 NVL".
KNOWN_DEVICES: tuple[tuple[str, str], ...] = (
    (r"H100.*PCIe", "h100-pcie"),
    (r"H100.*NVL", "h100-nvl"),
    (r"H100", "h100-sxm"),
    (r"H200", "h200"),
    (r"RTX 5090", "rtx-5090"),
    (r"RTX 4090", "rtx-4090"),
)


def device_id(name: str) -> str:
    for pattern, ident in KNOWN_DEVICES:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return ident
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("nvidia", "")).strip("-")
    return slug or "unknown-device"


def current_device_name() -> str:
    """The CUDA device's name (NVML first, torch second), or 'cpu' without one."""
    from .nvml import Nvml
    nv = Nvml()
    if nv.available:
        name = nv.snapshot().get("name")
        if name:
            return name
    try:
        import torch
        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return "cpu"


if __name__ == "__main__":  # used by benchmarks/gpu_calibrate.sh
    print(device_id(current_device_name()))
