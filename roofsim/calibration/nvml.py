"""Device state beside every measurement, read through pynvml (nvidia-ml-py).

`device_snapshot()` is the provenance of a run (name, driver, clocks, limits); `device_state()`
is the cheap per-row reading (clocks, power, temperature, throttle reasons) written next to
each measured kernel. Both return plain dicts and never raise: without NVML (CPU runs, tests)
they say so in a field instead, so a calibration never dies on a missing sensor.
"""

from __future__ import annotations

from typing import Any

# Throttle-reason bits as NVML defines them (nvml.h, nvmlClocksEventReasons*); the names are
# written instead of the bit mask so a reader needs no header to interpret a row.
THROTTLE_REASONS = {
    0x1: "gpu_idle",
    0x2: "app_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal",
    0x40: "hw_thermal",
    0x80: "hw_power_brake",
    0x100: "display_clocks",
}

STATE_FIELDS = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "temp_c", "throttle")


def throttle_names(mask: int) -> str:
    """'+'-joined reason names for a throttle bit mask ('none' for 0)."""
    names = [name for bit, name in THROTTLE_REASONS.items() if mask & bit]
    rest = mask & ~sum(THROTTLE_REASONS)
    if rest:
        names.append(f"0x{rest:x}")
    return "+".join(names) if names else "none"


class Nvml:
    """A handle on one GPU through NVML; `available` is False where NVML cannot start."""

    def __init__(self, index: int = 0):
        self.available = False
        self.error = ""
        try:
            import pynvml
            pynvml.nvmlInit()
            self._nv = pynvml
            self._h = pynvml.nvmlDeviceGetHandleByIndex(index)
            self.available = True
        except Exception as err:  # no driver, no library, no GPU: record why
            self.error = f"{type(err).__name__}: {err}"

    def _try(self, fn, *args, default=None):
        try:
            return fn(*args)
        except Exception:
            return default

    def state(self) -> dict[str, Any]:
        """Clocks, power, temperature and throttle reasons now (empty strings without NVML)."""
        if not self.available:
            return {f: "" for f in STATE_FIELDS}
        nv, h = self._nv, self._h
        power = self._try(nv.nvmlDeviceGetPowerUsage, h)
        reasons_fn = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            nv.nvmlDeviceGetCurrentClocksThrottleReasons
        mask = self._try(reasons_fn, h)
        return {
            "sm_clock_mhz": self._try(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_SM, default=""),
            "mem_clock_mhz": self._try(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_MEM, default=""),
            "power_w": round(power / 1000.0, 1) if power is not None else "",
            "temp_c": self._try(nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU,
                                default=""),
            "throttle": throttle_names(mask) if mask is not None else "",
        }

    def snapshot(self) -> dict[str, Any]:
        """Provenance of the device: identity, driver, clock and power limits, and state now."""
        if not self.available:
            return {"nvml": "unavailable", "nvml_error": self.error}
        nv, h = self._nv, self._h

        def text(v):
            return v.decode() if isinstance(v, bytes) else v

        limit = self._try(nv.nvmlDeviceGetEnforcedPowerLimit, h)
        mem = self._try(nv.nvmlDeviceGetMemoryInfo, h)
        snap = {
            "nvml": "ok",
            "name": text(self._try(nv.nvmlDeviceGetName, h, default="")),
            "driver": text(self._try(nv.nvmlSystemGetDriverVersion, default="")),
            "cuda_driver": self._try(nv.nvmlSystemGetCudaDriverVersion_v2, default=""),
            "max_sm_clock_mhz": self._try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM,
                                          default=""),
            "max_mem_clock_mhz": self._try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_MEM,
                                           default=""),
            "app_sm_clock_mhz": self._try(nv.nvmlDeviceGetApplicationsClock, h, nv.NVML_CLOCK_SM,
                                          default=""),
            "power_limit_w": round(limit / 1000.0, 1) if limit is not None else "",
            "memory_total_bytes": getattr(mem, "total", ""),
            "persistence_mode": self._try(nv.nvmlDeviceGetPersistenceMode, h, default=""),
        }
        snap.update(self.state())
        return snap


def device_snapshot(index: int = 0) -> dict[str, Any]:
    return Nvml(index).snapshot()
