"""A calibration profile: measured efficiencies of one device, and predictions from them.

For every measured (kind, dtype) group the profile keeps the measured shapes and, per shape,
its efficiency relative to the measuring device's roofs (roof time at datasheet peaks /
measured time) and the measured time itself (so a later change of a cost formula cannot shift
what was measured), plus the group's fitted model:
- a baseline (roofsim.calibration.baseline): launch floor + smooth roofline with fitted
  efficiencies per resource;
- a residual surface: log(measured / baseline) at the measured shapes, interpolated by locally
  weighted linear regression over shape features (features.py, interpolate.py), with feature
  weights and a MAPE offset learned on the fit rows by leave-one-out.

Prediction for a record on a spec H (`predict_launch_s`): baseline on H (its peaks, the floor
scaled by H's launch overhead over the measuring device's) x exp(interpolated residual +
offset). The residual is 0 where no measured shape is within `max_distance` (the fallback:
roofline x fitted constants). On the measuring device's own spec this reproduces the fit; on
another spec the efficiencies carry over, not the seconds.

Records of a kind the profile never measured get NaN (no opinion): the engine's roofline stays.
A dtype not measured borrows a measured dtype of the same size (float16 <-> bfloat16); a
measured one also takes its sibling's shapes as neighbours (the same kernels, templated on the
dtype), kept apart by a learned feature.
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
from .baseline import Baseline, peak_terms
from .features import features
from .interpolate import LocalLinear, LocalLinearSettings

PROFILE_FORMAT = "roofsim-calibration-profile"
PROFILE_VERSION = 2
SIBLING_DTYPES = {"float16": "bfloat16", "bfloat16": "float16"}


def _param_columns(params: np.ndarray) -> dict[str, np.ndarray]:
    return {name: params[:, i] for i, name in enumerate(SHAPE_PARAMS)}


@dataclass(frozen=True, eq=False)
class GroupModel:
    """Measured shapes of one (kind, dtype), their efficiencies on the measuring device, and
    the group's fitted model."""

    kind: str
    dtype: str
    params: np.ndarray          # (n, len(SHAPE_PARAMS)), NaN where unused
    efficiency: np.ndarray      # roof time at the measuring device's peaks / measured time
    measured: np.ndarray        # measured seconds per launch (what the fit saw)
    baseline: Baseline
    weights: np.ndarray         # feature scale factors (features.py order)
    offset: float = 0.0         # log-time offset that minimizes MAPE (learned)
    estimator: str = "linear"   # local estimator of the residual (interpolate.py), learned
    neighbours: int = 12        # neighbours per prediction, learned
    borrowed: np.ndarray | None = None   # per shape: measured in the sibling dtype
    sibling: str = ""                    # that dtype (float16 <-> bfloat16), '' if none

    def is_borrowed(self) -> np.ndarray:
        return np.zeros(len(self.measured), bool) if self.borrowed is None else self.borrowed

    def table(self) -> RecordTable:
        from ..kernels import records_from_params
        cols = {k: v for k, v in _param_columns(self.params).items() if not np.isnan(v).all()}
        dtypes = np.where(self.is_borrowed(), self.sibling or self.dtype, self.dtype)
        return records_from_params(self.kind, cols, dtypes.astype(object))

    def features(self, params: np.ndarray, dtype: str, sm_count: float,
                 borrowed: np.ndarray | None = None) -> np.ndarray:
        """Weighted features (the group's own shapes: borrowed = 0)."""
        flag = np.zeros(len(params)) if borrowed is None else borrowed.astype(float)
        from .fit import BORROW_WEIGHT
        x = np.column_stack([features(self.kind, _param_columns(params), dtype, sm_count),
                             flag * BORROW_WEIGHT])
        if x.shape[1] != len(self.weights):
            raise UserError(f"calibration profile: group {self.kind} {self.dtype} was fitted on "
                            f"{len(self.weights)} shape features, this roofsim computes "
                            f"{x.shape[1]}; refit it with `roofsim calibrate --fit-only --out DIR`")
        return x * self.weights


@dataclass(frozen=True, eq=False)
class CalibrationProfile:
    device_name: str
    device_id: str
    hardware: HardwareSpec                  # the measuring device's spec (its roofs)
    groups: Mapping[tuple[str, str], GroupModel]
    settings: LocalLinearSettings = field(default_factory=LocalLinearSettings)
    max_distance: float = 6.0               # no neighbour this near -> baseline alone
    meta: Mapping[str, object] = field(default_factory=dict)

    # ---- prediction ------------------------------------------------------------------
    def _interpolator(self, g: GroupModel) -> LocalLinear:
        cache = self.__dict__.setdefault("_cache", {})
        key = (g.kind, g.dtype)
        if key not in cache:
            table = g.table()
            residual = np.log(g.measured / g.baseline.time_s(peak_terms(table, self.hardware)))
            x = g.features(g.params, g.dtype, self.hardware.sm_count, g.is_borrowed())
            cache[key] = LocalLinear(x, residual,
                                     replace(self.settings, estimator=g.estimator,
                                             neighbours=g.neighbours))
        return cache[key]

    def group_for(self, kind: str, dtype: str) -> GroupModel | None:
        dtype = canonical_dtype(dtype)
        g = self.groups.get((kind, dtype))
        if g is None and dtype in SIBLING_DTYPES:
            g = self.groups.get((kind, SIBLING_DTYPES[dtype]))
        return g

    def residual(self, g: GroupModel, params: np.ndarray, dtype: str,
                 sm_count: float) -> np.ndarray:
        """Interpolated log(time / baseline) (+ offset) for rows of shape parameters."""
        r, nearest = self._interpolator(g).predict(g.features(params, dtype, sm_count))
        return np.where(nearest <= self.max_distance, r, 0.0) + g.offset

    def predict_launch_s(self, table: RecordTable, hardware: HardwareSpec) -> np.ndarray:
        """Per-launch seconds of each record on `hardware`; NaN where the profile has no data."""
        n = len(table)
        out = np.full(n, np.nan)
        if n == 0:
            return out
        keys = np.array([f"{k}|{canonical_dtype(str(d))}" for k, d in zip(table.kind, table.dtype)])
        covered = np.zeros(n, dtype=bool)
        found = {}
        for key in np.unique(keys):
            kind, dtype = key.split("|", 1)
            g = self.group_for(kind, dtype)
            if g is not None:
                found[key] = g
                covered |= keys == key
        if not covered.any():
            return out
        rows_all = np.flatnonzero(covered)
        terms = peak_terms(table.select(rows_all), hardware)
        pos = np.full(n, -1)
        pos[rows_all] = np.arange(len(rows_all))
        launch_ratio = hardware.launch_overhead_s("cuda_graph") / \
            max(self.hardware.launch_overhead_s("cuda_graph"), 1e-12)
        for key, g in found.items():
            rows = np.flatnonzero(keys == key)
            dtype = key.split("|", 1)[1]
            base = g.baseline.time_s(terms[pos[rows]], launch_ratio)
            out[rows] = base * np.exp(self.residual(g, table.params[rows], dtype,
                                                    hardware.sm_count))
        return out

    # ---- description -------------------------------------------------------------------
    def summary_rows(self) -> list[dict]:
        return [{"kind": g.kind, "dtype": g.dtype, "shapes": len(g.efficiency),
                 "floor_us": g.baseline.floor_s * 1e6, "eff_tensor": g.baseline.eff_tensor,
                 "eff_cuda": g.baseline.eff_cuda, "eff_memory": g.baseline.eff_memory,
                 "median_efficiency": float(np.median(g.efficiency)),
                 "max_efficiency": float(np.max(g.efficiency))}
                for g in self.groups.values()]

    # ---- I/O -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        groups = []
        for g in self.groups.values():
            cols = {k: v for k, v in _param_columns(g.params).items() if not np.isnan(v).all()}
            groups.append({
                "kind": g.kind, "dtype": g.dtype, "baseline": g.baseline.as_dict(),
                "feature_weights": [float(w) for w in g.weights], "offset": g.offset,
                "estimator": g.estimator, "neighbours": g.neighbours,
                "sibling": g.sibling, "borrowed": [int(b) for b in g.is_borrowed()],
                "params": {k: [None if np.isnan(v) else int(v) if v == int(v) else float(v)
                               for v in col] for k, col in cols.items()},
                "efficiency": [float(f"{e:.6g}") for e in g.efficiency],
                "measured_s": [float(f"{t:.6g}") for t in g.measured],
            })
        return {
            "format": PROFILE_FORMAT, "version": PROFILE_VERSION,
            "device": {"name": self.device_name, "id": self.device_id},
            "hardware": spec_to_dict(self.hardware),
            "model": {"method": "fitted roofline x locally weighted linear interpolation of "
                                "the residual over shape features",
                      "neighbours": self.settings.neighbours, "ridge": self.settings.ridge,
                      "margin": self.settings.margin,
                      "bandwidth_floor": self.settings.bandwidth_floor,
                      "max_distance": self.max_distance},
            "meta": dict(self.meta),
            "groups": groups,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")
        return path


def profile_from_dict(doc: Mapping, where: str = "<profile>") -> CalibrationProfile:
    if not isinstance(doc, Mapping) or doc.get("format") != PROFILE_FORMAT:
        raise UserError(f"{where}: not a roofsim calibration profile (format {PROFILE_FORMAT!r})")
    if doc.get("version") != PROFILE_VERSION:
        raise UserError(f"{where}: profile version {doc.get('version')!r}, expected "
                        f"{PROFILE_VERSION} (refit with `roofsim calibrate --fit-only`)")
    hw = spec_from_dict(doc["hardware"], f"{where}: hardware")
    m = doc.get("model", {})
    settings = LocalLinearSettings(neighbours=int(m.get("neighbours", 8)),
                                   ridge=float(m.get("ridge", 0.3)),
                                   margin=float(m.get("margin", 0.15)),
                                   bandwidth_floor=float(m.get("bandwidth_floor", 0.5)))
    groups = {}
    for i, g in enumerate(doc.get("groups", [])):
        at = f"{where}: groups[{i}]"
        try:
            eff = np.asarray(g["efficiency"], dtype=np.float64)
            p = np.full((len(eff), len(SHAPE_PARAMS)), np.nan)
            for name, values in g["params"].items():
                if name not in SHAPE_PARAMS or len(values) != len(eff):
                    raise UserError(f"{at}.params.{name}: expected one value per shape of a "
                                    f"known parameter")
                p[:, SHAPE_PARAMS.index(name)] = [np.nan if v is None else v for v in values]
            b = g["baseline"]
            baseline = Baseline(floor_s=float(b["floor_s"]), eff_tensor=float(b["eff_tensor"]),
                                eff_cuda=float(b["eff_cuda"]), eff_memory=float(b["eff_memory"]),
                                p=float(b.get("p", 4.0)))
            weights = np.asarray(g["feature_weights"], dtype=np.float64)
            measured = np.asarray(g["measured_s"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{at}: malformed group ({type(err).__name__}: {err})") from None
        for name, arr in (("efficiency", eff), ("measured_s", measured)):
            if len(arr) != len(eff) or len(arr) == 0 or \
                    not (np.isfinite(arr).all() and (arr > 0).all()):
                raise UserError(f"{at}.{name}: expected one positive number per shape")
        groups[(g["kind"], g["dtype"])] = GroupModel(
            kind=g["kind"], dtype=g["dtype"], params=p, efficiency=eff, measured=measured,
            baseline=baseline,
            weights=weights, offset=float(g.get("offset", 0.0)),
            estimator=str(g.get("estimator", "linear")),
            neighbours=int(g.get("neighbours", settings.neighbours)),
            borrowed=np.asarray(g.get("borrowed", [0] * len(eff)), dtype=bool),
            sibling=str(g.get("sibling", "")))
    dev = doc.get("device", {})
    return CalibrationProfile(device_name=dev.get("name", ""), device_id=dev.get("id", ""),
                              hardware=hw, groups=groups, settings=settings,
                              max_distance=float(m.get("max_distance", 6.0)),
                              meta=doc.get("meta", {}))


def resolve_calibration_dir(name_or_dir: str | Path) -> Path:
    """A folder path, or the name of a shipped calibration (calibration/<name>)."""
    p = Path(name_or_dir)
    if p.is_dir():
        return p
    from ..data import data_dir
    root = data_dir("calibration")
    shipped = root / str(name_or_dir)
    if shipped.is_dir():
        return shipped
    known = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    raise UserError(f"calibration {name_or_dir}: no such folder (shipped calibrations: "
                    f"{', '.join(known) or 'none'})")


def load_profile(path: str | Path) -> CalibrationProfile:
    """The profile in a calibration folder (profile.json), a profile file, or a shipped
    calibration's name (e.g. 'h200')."""
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
