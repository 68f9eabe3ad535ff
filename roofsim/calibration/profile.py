"""A calibration profile: measured efficiencies of one device, and predictions from them.

For every measured (kind, dtype) the profile keeps the measured shapes and, per shape, its
efficiency relative to the measuring device's roofs: efficiency = roof time / measured time,
where roof time = max(tensor FLOPs / tensor peak, CUDA FLOPs / CUDA peak, bytes / bandwidth)
at datasheet peaks (the engine with efficiency 1 and no launch floor). Efficiencies, not
seconds, are what carries over to another spec.

Prediction for a record (`predict_launch_s`): interpolate log(1 / efficiency) from neighbouring
measured shapes (roofsim.calibration.interpolate, features in roofsim.calibration.features);
where no measured shape is near (distance over `max_distance`), use the group's fitted constant
(the median). Time on the measuring device = roof time there / efficiency, no less than the
group's launch floor (its fastest measured launch). On another spec, the part above the floor
scales with that spec's roof time over the measuring device's, and the floor with the launch
overheads' ratio; on the measuring device's own spec both ratios are 1.

Records of a kind the profile never measured get NaN (no opinion): the engine's roofline stays.
A dtype not measured borrows a measured dtype of the same element size (float16 <-> bfloat16).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import UserError
from ..hardware import HardwareSpec, canonical_dtype, spec_from_dict, spec_to_dict
from ..records import SHAPE_PARAMS, RecordTable
from .features import features
from .interpolate import LocalLinear, LocalLinearSettings

PROFILE_FORMAT = "roofsim-calibration-profile"
PROFILE_VERSION = 1
SIBLING_DTYPES = {"float16": "bfloat16", "bfloat16": "float16"}


def peak_roof_s(table: RecordTable, hardware: HardwareSpec) -> np.ndarray:
    """Per-launch roof time at datasheet peaks (no efficiency, no launch floor), from the engine."""
    from ..engine import simulate
    ideal = replace(hardware, efficiency={"tensor_core": 1.0, "cuda_core": 1.0, "memory": 1.0},
                    launch_overhead_us={"stream": 0.0, "cuda_graph": 0.0})
    return np.maximum(simulate(table, ideal).launch_time_s, 1e-12)


@dataclass(frozen=True, eq=False)
class GroupModel:
    """Measured shapes of one (kind, dtype) and their efficiencies on the measuring device."""

    kind: str
    dtype: str
    params: np.ndarray          # (n, len(SHAPE_PARAMS)), NaN where unused
    efficiency: np.ndarray      # roof time / measured time, per shape
    floor_s: float              # fastest measured launch of the group
    fallback_efficiency: float  # median efficiency: the constant where no neighbour is near

    def param_columns(self, params: np.ndarray | None = None) -> dict[str, np.ndarray]:
        p = self.params if params is None else params
        return {name: p[:, i] for i, name in enumerate(SHAPE_PARAMS) if not np.isnan(p[:, i]).all()}


@dataclass(frozen=True, eq=False)
class CalibrationProfile:
    device_name: str
    device_id: str
    hardware: HardwareSpec                  # the measuring device's spec (its roofs)
    groups: Mapping[tuple[str, str], GroupModel]
    settings: LocalLinearSettings = field(default_factory=LocalLinearSettings)
    max_distance: float = 3.0               # no neighbour this near -> fallback constant
    meta: Mapping[str, object] = field(default_factory=dict)

    # ---- prediction ------------------------------------------------------------------
    def _interpolator(self, g: GroupModel) -> LocalLinear:
        cache = self.__dict__.setdefault("_cache", {})
        key = (g.kind, g.dtype)
        if key not in cache:
            x = features(g.kind, g.param_columns(), g.dtype, self.hardware.sm_count)
            cache[key] = LocalLinear(x, -np.log(g.efficiency), self.settings)
        return cache[key]

    def group_for(self, kind: str, dtype: str) -> GroupModel | None:
        dtype = canonical_dtype(dtype)
        g = self.groups.get((kind, dtype))
        if g is None and dtype in SIBLING_DTYPES:
            g = self.groups.get((kind, SIBLING_DTYPES[dtype]))
        return g

    def predict_efficiency(self, kind: str, dtype: str, params: np.ndarray,
                           sm_count: float) -> np.ndarray:
        """Efficiency relative to the measuring device's roofs for rows of one kind and dtype
        (params: (n, len(SHAPE_PARAMS))); NaN where the profile has no data for the kind."""
        g = self.group_for(kind, dtype)
        n = len(params)
        if g is None or n == 0:
            return np.full(n, np.nan)
        cols = {name: params[:, i] for i, name in enumerate(SHAPE_PARAMS)}
        x = features(kind, cols, dtype, sm_count)
        log_inv, nearest = self._interpolator(g).predict(x)
        log_inv = np.where(nearest <= self.max_distance, log_inv, -np.log(g.fallback_efficiency))
        return np.exp(-log_inv)

    def predict_launch_s(self, table: RecordTable, hardware: HardwareSpec) -> np.ndarray:
        """Per-launch seconds of each record on `hardware`; NaN where the profile has no data."""
        n = len(table)
        out = np.full(n, np.nan)
        if n == 0:
            return out
        src_roof = peak_roof_s(table, self.hardware)
        dst_roof = src_roof if hardware is self.hardware else peak_roof_s(table, hardware)
        launch_ratio = hardware.launch_overhead_s("cuda_graph") / \
            max(self.hardware.launch_overhead_s("cuda_graph"), 1e-12)
        keys = np.array([f"{k}|{canonical_dtype(str(d))}" for k, d in zip(table.kind, table.dtype)])
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            kind, dtype = key.split("|", 1)
            g = self.group_for(kind, dtype)
            if g is None:
                continue
            eff = self.predict_efficiency(kind, dtype, table.params[rows], hardware.sm_count)
            t_src = np.maximum(src_roof[rows] / eff, g.floor_s)
            floor = np.minimum(g.floor_s, t_src)
            out[rows] = floor * launch_ratio + (t_src - floor) * dst_roof[rows] / src_roof[rows]
        return out

    # ---- description -------------------------------------------------------------------
    def summary_rows(self) -> list[dict]:
        return [{"kind": g.kind, "dtype": g.dtype, "shapes": len(g.efficiency),
                 "floor_us": g.floor_s * 1e6, "median_efficiency": g.fallback_efficiency,
                 "max_efficiency": float(np.max(g.efficiency))}
                for g in self.groups.values()]

    # ---- I/O -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        groups = []
        for g in self.groups.values():
            cols = g.param_columns()
            groups.append({
                "kind": g.kind, "dtype": g.dtype, "floor_s": g.floor_s,
                "fallback_efficiency": g.fallback_efficiency,
                "params": {k: [None if np.isnan(v) else float(v) for v in col]
                           for k, col in cols.items()},
                "efficiency": [float(f"{e:.6g}") for e in g.efficiency],
            })
        return {
            "format": PROFILE_FORMAT, "version": PROFILE_VERSION,
            "device": {"name": self.device_name, "id": self.device_id},
            "hardware": spec_to_dict(self.hardware),
            "model": {"method": "local linear regression over log-shape features",
                      "neighbours": self.settings.neighbours, "ridge": self.settings.ridge,
                      "margin": self.settings.margin,
                      "bandwidth_floor": self.settings.bandwidth_floor,
                      "max_distance": self.max_distance},
            "meta": dict(self.meta),
            "groups": groups,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path


def profile_from_dict(doc: Mapping, where: str = "<profile>") -> CalibrationProfile:
    if not isinstance(doc, Mapping) or doc.get("format") != PROFILE_FORMAT:
        raise UserError(f"{where}: not a roofsim calibration profile (format {PROFILE_FORMAT!r})")
    if doc.get("version") != PROFILE_VERSION:
        raise UserError(f"{where}: profile version {doc.get('version')!r}, expected {PROFILE_VERSION}")
    hw = spec_from_dict(doc["hardware"], f"{where}: hardware")
    m = doc.get("model", {})
    settings = LocalLinearSettings(neighbours=int(m.get("neighbours", 12)),
                                   ridge=float(m.get("ridge", 0.3)),
                                   margin=float(m.get("margin", 0.15)),
                                   bandwidth_floor=float(m.get("bandwidth_floor", 0.5)))
    groups = {}
    for i, g in enumerate(doc.get("groups", [])):
        eff = np.asarray(g["efficiency"], dtype=np.float64)
        p = np.full((len(eff), len(SHAPE_PARAMS)), np.nan)
        for name, values in g["params"].items():
            if name not in SHAPE_PARAMS or len(values) != len(eff):
                raise UserError(f"{where}: groups[{i}].params.{name}: expected one value per "
                                f"shape of a known parameter")
            p[:, SHAPE_PARAMS.index(name)] = [np.nan if v is None else v for v in values]
        if len(eff) == 0 or not (np.isfinite(eff).all() and (eff > 0).all()):
            raise UserError(f"{where}: groups[{i}].efficiency: expected positive numbers")
        groups[(g["kind"], g["dtype"])] = GroupModel(
            kind=g["kind"], dtype=g["dtype"], params=p, efficiency=eff,
            floor_s=float(g["floor_s"]), fallback_efficiency=float(g["fallback_efficiency"]))
    dev = doc.get("device", {})
    return CalibrationProfile(device_name=dev.get("name", ""), device_id=dev.get("id", ""),
                              hardware=hw, groups=groups, settings=settings,
                              max_distance=float(m.get("max_distance", 3.0)),
                              meta=doc.get("meta", {}))


def resolve_calibration_dir(name_or_dir: str | Path) -> Path:
    """A folder path, or the name of a shipped calibration (calibration/<name>)."""
    p = Path(name_or_dir)
    if p.is_dir():
        return p
    from ..data import data_dir
    shipped = data_dir("calibration") / str(name_or_dir)
    if shipped.is_dir():
        return shipped
    known = sorted(d.name for d in data_dir("calibration").iterdir() if d.is_dir()) \
        if data_dir("calibration").is_dir() else []
    raise UserError(f"--calibration {name_or_dir}: no such folder (shipped calibrations: "
                    f"{', '.join(known) or 'none'})")


def load_profile(path: str | Path) -> CalibrationProfile:
    """The profile in a calibration folder (profile.json), a profile file, or a shipped
    calibration's name (e.g. 'h100-sxm')."""
    p = Path(path)
    if not p.is_file():
        p = resolve_calibration_dir(path) / "profile.json"
    if not p.is_file():
        raise UserError(f"{p}: no profile.json (fit one with `roofsim calibrate --fit-only "
                        f"--out {p.parent}`)")
    try:
        doc = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{p}: not valid JSON ({err.msg} at line {err.lineno})") from None
    return profile_from_dict(doc, str(p))
