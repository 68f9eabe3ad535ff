"""The host model: what the CPU spends issuing a stage's kernels, and where it waits for the GPU.

Eager PyTorch is host-bound for small work: Python, module calls, the dispatcher and the launch
itself cost the host some microseconds per aten op, and a synchronizing op (a device-to-host
copy: `.item()`, `.tolist()`, `nonzero`) makes the host wait for the GPU to drain. The host is a
roof beside the engine's tensor, CUDA, memory and launch roofs; roofsim.wall turns it and the
engine's per-kernel times into wall time.

Parameters (SI units inside; each has a physical range, checked on load):
- `dispatch_s[class]`: host time to issue one kernel-launching aten op of a class, everything
  above it included (Python, nn.Module call, dispatcher, launch): `matrix` (matrix products,
  attention, convolution: a module call each) and `other` (elementwise, norms, copies, index,
  reductions). Range 0.5 .. 200 us.
- `forward_s`: fixed host time of one forward before its first launch and after its last
  (argument handling, cache bookkeeping, output assembly). Range 0 .. 50 ms.
- `sync_s`: host time of one synchronizing op once the GPU has drained (the copy, the return to
  Python). Range 0 .. 1 ms. Which records synchronize: `SYNC_OPS` (aten names).
- `graph_launch_s`: the launch latency a replay on an idle stream shows before its first node
  (CUDA events around graph.replay(), less the same replay timed with the GPU held busy until
  the host's launch is over). 0 .. 1 ms.
- `graph_launch_node_s`: host time per node of cudaGraphLaunch (perf_counter around
  graph.replay() over the graph's nodes: calibration/h200/graph-launch, 0.3-0.7 us per node for
  transformers' decode steps). The GPU mostly starts on the first nodes while the host still
  submits the rest, so this is the slow end of a replay's range, not its typical wall: on some
  graphs the idle stream waits for the whole launch (DeepSeek-V2-Lite's decode step at batch 1
  and 2: 0.76-0.78 ms of 0.8-0.9 ms; other models 0.04-0.14 ms), for a reason the measurements
  do not show. 0 .. 10 us; 0 where unmeasured (no range).
- `graph_node_s`: GPU time per graph node beyond the engine's per-launch time, which already
  holds the calibration profile's measured graph gap (roofsim.engine.Timing.issued_s). 0 .. 20 us.
- `speed_spread` (low, high): how much the host's speed varies between processes on the
  measuring machine, as factors on every host cost (dispatch, forward, sync). The same eager,
  host-bound case timed in separate processes spreads that wide (calibration/h200/host/noise:
  Llama 3.1 8B's decode step 31-59 ms over six processes, the same 7.7 ms of kernels); the
  fitted costs describe the typical process, and roofsim.wall gives an eager wall's range by
  running its timeline at both factors. 0.1 <= low <= 1 <= high <= 10; (1, 1) where unmeasured.
- `probe_s`: the host's speed the fitted costs hold at, as the host probe reads it
  (roofsim.calibration.hostprobe: seconds per eager dispatch of a one-element in-place add on
  the GPU, Python and dispatcher and launch, the GPU keeping up). A process's eager wall tracks
  its probe: DeepSeek-OCR's decode step over every committed set of the H200, 17-42 ms, is
  2,294 probes (std of its log 0.094 against 0.212 for the wall alone; log-log slope 0.98,
  correlation 0.90: `python benchmarks/summarize_eager_noise.py`), where the machine's
  processes run the same host work at speeds up to 2x apart. `at_probe` rescales every host
  cost (dispatch, forward, sync, graph launch) to another probe reading: the costs are host
  time, which a slower host stretches alike. Range 0.5 .. 200 us; 0 where the fit recorded
  none (no rescaling).

A fitted model lives in calibration/<device>/host/host.json (benchmarks/fit_host.py writes it,
with the data it was fitted on and its provenance); `DEFAULT_HOST` is a plain guess used only
when no fitted model is given and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from .capture.ops import H2D_COPY
from .errors import UserError

HOST_CLASSES: tuple[str, ...] = ("matrix", "other")
# Record kinds whose op is a module-level matrix call (roofsim.records.KINDS).
MATRIX_HOST_KINDS = frozenset({"gemm", "linear", "grouped_gemm", "attention", "conv2d"})
# aten ops (record names without the "aten." prefix) that make the host wait for the GPU.
SYNC_OPS = frozenset({"nonzero", "_local_scalar_dense", "item", "masked_select", "unique",
                      "_unique2", "unique_consecutive", "tolist",
                      H2D_COPY})   # a pageable host-to-device copy (roofsim.capture.ops)
HOST_FILE = "host.json"
PROBE_RANGE = (0.5e-6, 200e-6)   # probe_s, seconds per probed dispatch (0: not recorded)
# the host costs a host probe rescales (HostModel.at_probe): host time, not GPU time
HOST_COSTS = ("forward_s", "sync_s", "graph_launch_s", "graph_launch_node_s")
SPREAD_RANGE = (0.1, 10.0)    # speed_spread's low and high factors stay within these

# name -> (low, high) in SI units
RANGES: Mapping[str, tuple[float, float]] = {
    "dispatch_s": (0.5e-6, 200e-6), "forward_s": (0.0, 50e-3), "sync_s": (0.0, 1e-3),
    "graph_launch_s": (0.0, 1e-3), "graph_node_s": (0.0, 20e-6),
    "graph_launch_node_s": (0.0, 10e-6),
}


@dataclass(frozen=True)
class HostModel:
    dispatch_s: Mapping[str, float]          # host class -> seconds per launching op
    forward_s: float = 0.0
    sync_s: float = 0.0
    graph_launch_s: float = 5e-6
    graph_node_s: float = 0.0
    graph_launch_node_s: float = 0.0
    speed_spread: tuple[float, float] = (1.0, 1.0)   # host cost factors: fastest, slowest
    probe_s: float = 0.0                     # host probe the costs hold at (0: not recorded)
    device: str = ""                         # whose CPU it describes ("" for DEFAULT_HOST)
    fitted_on: tuple[str, ...] = ()          # the data that guided the fit
    provenance: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self):
        missing = set(HOST_CLASSES) - set(self.dispatch_s)
        if missing:
            raise UserError(f"host model: dispatch_s lacks class(es) {sorted(missing)}")
        checks = [("dispatch_s", self.dispatch_s[c], f"dispatch_s.{c}") for c in HOST_CLASSES]
        checks += [(n, getattr(self, n), n) for n in RANGES if n != "dispatch_s"]
        for key, v, label in checks:
            lo, hi = RANGES[key]
            if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                raise UserError(f"host model: {label} = {v!r} s, expected {lo:g} .. {hi:g} s")
        p = self.probe_s
        if not (isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p)
                and (p == 0 or PROBE_RANGE[0] <= p <= PROBE_RANGE[1])):
            raise UserError(f"host model: probe_s = {p!r} s, expected 0 (not recorded) or "
                            f"{PROBE_RANGE[0]:g} .. {PROBE_RANGE[1]:g} s")
        low, high = self.speed_spread
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                 for v in (low, high))
        if not (ok and SPREAD_RANGE[0] <= low <= 1.0 <= high <= SPREAD_RANGE[1]):
            raise UserError(f"host model: speed_spread = ({low!r}, {high!r}), expected "
                            f"{SPREAD_RANGE[0]:g} <= low <= 1 <= high <= {SPREAD_RANGE[1]:g}")

    def with_values(self, **kw) -> "HostModel":
        return replace(self, **kw)

    def at_probe(self, probe_s: float) -> "HostModel":
        """The model for a host whose probe reads `probe_s` (seconds per probed dispatch):
        every host cost (dispatch_s, HOST_COSTS) times probe_s / self.probe_s. UserError when
        the model recorded no probe, or a cost leaves its range."""
        if not self.probe_s:
            raise UserError("host model: no host probe recorded (probe_us), so it cannot be "
                            "rescaled to another host's speed")
        if not (isinstance(probe_s, (int, float)) and math.isfinite(probe_s)
                and PROBE_RANGE[0] <= probe_s <= PROBE_RANGE[1]):
            raise UserError(f"host probe {probe_s!r} s: expected {PROBE_RANGE[0] * 1e6:g} .. "
                            f"{PROBE_RANGE[1] * 1e6:g} us per dispatch")
        k = probe_s / self.probe_s
        return replace(self, dispatch_s={c: v * k for c, v in self.dispatch_s.items()},
                       probe_s=float(probe_s), **{n: getattr(self, n) * k for n in HOST_COSTS})

    def as_dict(self) -> dict:
        return {"dispatch_us": {c: self.dispatch_s[c] * 1e6 for c in HOST_CLASSES},
                "forward_ms": self.forward_s * 1e3, "sync_us": self.sync_s * 1e6,
                "graph_launch_us": self.graph_launch_s * 1e6,
                "graph_node_us": self.graph_node_s * 1e6,
                "graph_launch_node_us": self.graph_launch_node_s * 1e6,
                "speed_spread": {"low": self.speed_spread[0], "high": self.speed_spread[1]},
                "probe_us": self.probe_s * 1e6,
                "device": self.device,
                "fitted_on": list(self.fitted_on), "provenance": dict(self.provenance)}

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "host model") -> "HostModel":
        try:
            return cls._from_dict(d, where)
        except UserError as err:
            raise UserError(f"{where}: {err}") from None

    @classmethod
    def _from_dict(cls, d: Mapping, where: str = "host model") -> "HostModel":
        try:
            return cls(dispatch_s={c: float(d["dispatch_us"][c]) * 1e-6 for c in HOST_CLASSES},
                       forward_s=float(d["forward_ms"]) * 1e-3, sync_s=float(d["sync_us"]) * 1e-6,
                       graph_launch_s=float(d["graph_launch_us"]) * 1e-6,
                       graph_node_s=float(d["graph_node_us"]) * 1e-6,
                       graph_launch_node_s=float(d.get("graph_launch_node_us", 0.0)) * 1e-6,
                       speed_spread=_spread(d.get("speed_spread")),
                       probe_s=_probe(d.get("probe_us", 0.0)),
                       device=str(d.get("device", "")),
                       fitted_on=tuple(str(x) for x in d.get("fitted_on", ())),
                       provenance=dict(d.get("provenance", {})))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise UserError(f"expected dispatch_us.{{{','.join(HOST_CLASSES)}}}, "
                            f"forward_ms, sync_us, graph_launch_us, graph_node_us as numbers "
                            f"(bad or missing: {err})") from None


def _probe(value) -> float:
    """probe_us from host.json (absent: 0, not recorded) in seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"probe_us: expected a number of microseconds, got {value!r}")
    return float(value) * 1e-6


def _spread(doc) -> tuple[float, float]:
    """speed_spread from host.json: {"low": x, "high": y}; absent: (1, 1), no spread known."""
    if doc is None:
        return (1.0, 1.0)
    if not isinstance(doc, Mapping) or not {"low", "high"} <= set(doc):
        raise UserError(f"speed_spread: expected {{\"low\": number, \"high\": number}}, "
                        f"got {doc!r}")
    return (doc["low"], doc["high"])


# A plain guess (an eager transformers forward on a server CPU): used only without a fitted one.
DEFAULT_HOST = HostModel(dispatch_s={"matrix": 30e-6, "other": 20e-6}, forward_s=1e-3,
                         sync_s=20e-6, graph_launch_s=5e-6, graph_node_s=0.0)


def host_class(kind: str) -> str:
    return "matrix" if kind in MATRIX_HOST_KINDS else "other"


def op_name(name: str) -> str:
    """'aten.addmm' / 'aten::addmm' / 'aten.addmm.default' -> 'addmm'."""
    base = name.replace("::", ".")
    parts = base.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "aten" else parts[0]


def is_sync(name: str) -> bool:
    return op_name(name) in SYNC_OPS


def is_matrix_launch(kinds) -> np.ndarray:
    """Whether each record's launch is of the host's matrix class (MATRIX_HOST_KINDS)."""
    return np.isin(np.asarray(kinds).astype(str), list(MATRIX_HOST_KINDS))


def sync_flags(names) -> np.ndarray:
    return np.array([is_sync(n) for n in np.asarray(names).astype(str)], dtype=bool)


def load_host_model(path) -> HostModel:
    """A host model from calibration/<device>/host/ (or its host.json, or a calibration folder
    holding host/host.json)."""
    from .io import read_json
    p = Path(path)
    for cand in (p, p / HOST_FILE, p / "host" / HOST_FILE):
        try:
            found = cand.is_file()
        except OSError:                      # a name too long, a loop
            found = False
        if found:
            doc = read_json(cand, expected="a host model (host.json)")
            if not isinstance(doc, dict):
                raise UserError(f"{cand}: expected a host model (a JSON object), "
                                f"got {type(doc).__name__}")
            return HostModel.from_dict(doc, str(cand))
    raise UserError(f"{path}: no host model ({HOST_FILE}; benchmarks/fit_host.py writes it)")


def find_host_model(calibration) -> HostModel | None:
    """The host model beside a calibration folder, if it has one."""
    if calibration is None:
        return None
    p = Path(calibration)
    p = p.parent if p.is_file() else p
    f = p / "host" / HOST_FILE
    return load_host_model(f) if f.is_file() else None


def _shipped_label(path: Path) -> str:
    """A host model's file as output names it: calibration/<device>/host/host.json for a shipped
    one (wherever the package is installed), else the path as given."""
    from .data import data_dir
    try:
        rel = Path(path).resolve().relative_to(data_dir("calibration").resolve())
    except ValueError:
        return str(path)
    return str(Path("calibration") / rel)


def resolve_host_model(host_model=None, calibration=None,
                       hardware_id: str = "") -> tuple[HostModel, str]:
    """(host model, where it came from): --host-model if given, else the one beside the
    calibration folder, else the shipped calibration/<hardware>/host/, else DEFAULT_HOST."""
    if host_model is not None:
        return load_host_model(host_model), str(host_model)
    if calibration is not None:
        from .calibration.profile import resolve_calibration_dir
        p = Path(calibration)
        folder = p.parent if p.is_file() else resolve_calibration_dir(str(calibration))
        found = find_host_model(folder)
        if found is not None:
            return found, _shipped_label(folder / "host" / HOST_FILE)
    if hardware_id:
        from .data import data_dir
        f = data_dir("calibration") / hardware_id / "host" / HOST_FILE
        if f.is_file():
            return load_host_model(f), _shipped_label(f)
    return DEFAULT_HOST, "default guess (no fitted host model for this device)"
