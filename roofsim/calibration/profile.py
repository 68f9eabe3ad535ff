"""A calibration profile: the physical model's kernel-kind parameters fitted on one device, and
a bounded residual per measured shape.

For every measured (kind, dtype) group the profile keeps
- the kind's parameters (roofsim.perfmodel.KindParams: memory round trips, efficiencies, the
  share of the per-SM bandwidth kept in flight, sharpness, the unaligned fallback rate), each
  with a unit and a physical range;
- the measured shapes, their measured seconds, and the residual log(measured / physical model
  on the measuring device), clipped to +-RESIDUAL_BOUND;
- where a companion run timed shapes on fewer SMs, each such shape's SM-parallel share f.

Prediction of a record on a spec H (`predict_launch_s`):
    physical model on H (H's SMs, clock, peaks, bandwidth, latency, launch floor)
    x exp(residual interpolated at the record's shape).
The residual is what the physics does not explain about one library kernel at one shape
(algorithm choice, tile shape, a special path). TRANSFER RULE: it is interpolated in the
measuring device's own feature space (its SM count), so a shape carries the same correction to
any target, and it is applied to targets of the measuring device's architecture (the same
libraries pick the same kernels there); on another architecture it is dropped and the physical
model stands alone. The kind parameters carry as fitted, bar the tensor efficiency, which keeps
its share of what the target architecture's best kernels reach (the spec's efficiency.tensor_core
over the measuring device's: transfer_params; 1 between Hopper specs). A target with another SM count takes the measuring device's prediction
through the two-point law t(N) = t0 ((1 - f) + f s) (sm_scaling; s = N0 / N, or the ratio of
waves of a matrix kernel: roofsim.perfmodel.parallel_scale), f interpolated from the
companion's shapes as its departure from a share of the physics' own (SHARE_PHYSICS_PRIOR). `benchmarks/bench_transfer.py` checks this rule: fit on one device,
predict others.

`predict_launch_s` is what the harness timed: a launch inside a CUDA graph, the graph's gap
before the next node included; `graph_gap_s` (measured, calibration/<device>/gap/) is that gap,
which roofsim.engine takes off to give the kernel's duration.

Records of a kind the profile never measured get NaN (no opinion): the engine's roofline stays.
A dtype not measured borrows the group of the same-size sibling (float16 <-> bfloat16).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import UserError
from ..io import read_json, stored_file, write_stored_text
from ..hardware import (HardwareSpec, canonical_dtype, spec_from_dict, spec_to_dict,
                        with_sm_count)
from ..perfmodel import (MIN_WARM_SHARE, PARAM_INDEX, PARAMS, KindParams, UnitTerms,
                         launch_seconds, narrow_tile_cols, other_library_kernel,
                         parallel_scale, unit_terms, warm_steps)
from ..kernels._common import (CONV_LAYOUTS, ELEMENT_BYTES, INDEX_LAYOUTS, LAYOUT_KINDS,
                               LAYOUTS, REDUCTION_LAYOUTS, kernel_layout, layout_of)
from ..records import KINDS, SHAPE_PARAMS, RecordTable
from .features import features
from .gap import GAP_RANGE_S
from .warm import TRIPS_RANGE
from .interpolate import LocalLinear, LocalLinearSettings

PROFILE_FORMAT = "roofsim-calibration-profile"
PROFILE_VERSION = 3
SIBLING_DTYPES = {"float16": "bfloat16", "bfloat16": "float16"}
RESIDUAL_BOUND = math.log(4.0)   # the residual corrects by at most a factor of four
MAX_DISTANCE = 6.0               # feature distance (a factor 64 in one size) beyond which no residual
# How far the companions' SM-parallel share is trusted before the physics takes over: a
# prefill-sized MoE product (64 groups of 291 x 1792 x 1280) lies a few feature units from the
# smaller groups the companions timed and took their share outright: it ran 5.1x slower on 24
# SMs than on the whole chip, predicted 3.9x (4.3x with the blend). Chosen on the companions'
# held-out shapes (16 and 40 SMs, split 'holdout'; benchmarks/sm_blend_distance.py, which
# prints both): MAPE 18.6 / 15.8 % with the hard cutoff, 18.2 / 15.7 at 6, 18.2 / 15.8 at 4,
# 18.3 / 16.0 at 3, 19.2 / 16.5 at 2 (with the split-KV attention feature; before it, 18.8 /
# 16.0 with the cutoff and 18.3 / 15.9 at 4).
SM_BLEND_DISTANCE = 4.0
# The SM count as a coordinate of the SM-parallel share's interpolation: a distance of
# SM_COUNT_WEIGHT per factor 2 in SMs (1 would be like a factor 2 in one size). The share
# depends on the count: for the fit's shapes timed on 16 and 40 SMs, a matrix product's median
# f is 0.42 from 16 SMs and 0.28 from 40, and one f for both misses their 16-SM times by
# 10-14 % (gemm, linear, grouped_gemm; benchmarks/sm_share_count.py). Chosen on the
# companions' held-out shapes only (8 / 16 / 40 SMs, MAPE %): one share for all counts
# 22.25 / 17.97 / 16.13; weight 0.25: 21.86 / 17.86 / 15.85; 0.5: 21.90 / 17.78 / 15.54; 0.75:
# 22.17 / 17.73 / 15.40; 1: 22.49 / 17.74 / 15.32; 2: 24.13 / 18.09 / 15.27; 4 (about one
# interpolator per companion): 25.89 / 18.53 / 15.39. 0.5 has the least mean. (Those were
# the profile of commit ad0aba4; the later physics moves them by under 0.1 point.)
SM_COUNT_WEIGHT = 0.5
# The physics as the share's prior: what is interpolated over the companions' shapes is each
# share's departure from SHARE_PHYSICS_PRIOR times the share the physical model gives at that
# shape and SM count (the same two-point share `_predict` blends toward far from the
# companions), and a prediction adds that prior back at the target's shape and SM count. The
# physics knows what the shapes' neighbours do not: a launch's waves and rounds on the target's
# SMs, its bytes over the per-SM bandwidth, its launch floor. Interpolated alone, the share of a
# shape between two neighbours of other grids is their average; with the prior, only what the
# physics misses is. A dimensionless weight in [0, 1]: 0 interpolates the share itself (as
# before session 35), 1 its whole departure from the physics. Chosen by leave-one-shape-out over
# the H200's companion shapes alone, every group (each shape's share predicted from the other
# shapes, scored as the time error at the companion's SM count; `python
# benchmarks/share_metric_loo.py --prior`), MAPE % at 8 / 16 / 40 SMs and over all counts:
# 0: 12.46 / 8.54 / 6.22, 7.55; 0.25: 11.59 / 7.99 / 5.91, 7.15; 0.5: 11.04 / 7.73 / 5.76,
# 6.96; 0.75: 10.93 / 7.82 / 5.76, 7.01; 1: 11.29 / 8.18 / 5.91, 7.27 (0.5 has the least over
# all counts). The physical share alone, no interpolation, was 19.6 / 15.6 / 10.3, 12.9 (a
# scratch check). The H200's kernel test sets, not used to choose (kernel_set_bands.py, mean
# MAPE %): 8-16 SMs 13.20 -> 12.72, 24-48 11.73 -> 11.31, 56-128 10.45 -> 10.03.
SHARE_PHYSICS_PRIOR = 0.5
# Per-family settings of the residual's interpolation where they differ from the profile's
# (LocalLinearSettings): conv2d's cuDNN kernel choices make its residual two-valued between
# neighbouring shapes (fast or slow kernel, up to 2x apart), where the neighbours' weighted median
# (MAPE-optimal) beats a linear fit through both. Chosen by leave-one-out over the fit rows
# alone (benchmarks/loo_conv_estimator.py prints the table; H200 / H100 SXM, MAPE %): the
# implicit GEMM's median of 24 neighbours 22.5 / 22.2 against 24.6 / 24.0 for the default (linear,
# 12); the pointwise 1x1's linear fit over 32 neighbours 22.9 / 21.9 against 23.5 / 22.5. The
# patch embedding keeps the default: the median helps on one device and not the other (21.1 /
# 19.8 against 21.5 / 18.8).
FAMILY_SETTINGS: Mapping[str, Mapping[str, object]] = {
    "conv2d": {"estimator": "median", "neighbours": 24},
    "conv2d:pointwise": {"neighbours": 32},
}
FEATURE_DECIMALS = 9             # features rounded so that ties stay ties on every machine
RULES = ("same-arch", "always", "never")


def _param_columns(params: np.ndarray) -> dict[str, np.ndarray]:
    return {name: params[:, i] for i, name in enumerate(SHAPE_PARAMS)}


@dataclass(frozen=True, eq=False)
class GroupModel:
    """One (kind, dtype): fitted kind parameters, and the measured shapes with their residual."""

    kind: str
    dtype: str
    kind_params: KindParams
    params: np.ndarray          # (n, len(SHAPE_PARAMS)) measured shapes, NaN where unused
    measured: np.ndarray        # measured seconds per launch
    residual: np.ndarray        # log(measured / physical model on the measuring device), bounded
    sm_params: np.ndarray | None = None    # shapes also timed on fewer SMs (companions)
    sm_fraction: np.ndarray | None = None  # their SM-parallel share f of the time, in [0, 1]
    sm_counts: np.ndarray | None = None    # the companion's SM count behind each f (None: an
                                           # older profile, one share for every SM count)
    layout: str = ""                       # TensorIterator kernel of a layout kind (LAYOUTS)
    warm_trips: float = 0.0                # round trips an L2-resident input saves (warm.py)
    source: str = ""           # the device whose measurements these are, where not the
    sm_source: str = ""        # profile's own: a same-arch sibling's (roofsim.calibration.sibling)

    @property
    def family(self) -> str:
        """The group's name among a profile's groups: the kind, with its layout if any."""
        return family_name(self.kind, self.layout)

    @property
    def share_lender(self) -> str:
        """The sibling whose companions measured the group's SM shares (its shares' source, or
        the whole group's); '' where the profile's own device did."""
        return self.sm_source or self.source

    def table(self) -> RecordTable:
        return self._records(self.params)

    def companion_table(self) -> RecordTable:
        """The records of the shapes the companions timed on fewer SMs (sm_params)."""
        return self._records(self.sm_params)

    def _records(self, params: np.ndarray) -> RecordTable:
        from ..kernels import records_from_params, used_columns
        return records_from_params(self.kind, used_columns(_param_columns(params)), self.dtype)


def family_name(kind: str, layout: str) -> str:
    """'kind' for the vectorized (or only) kernel of a kind, 'kind:layout' otherwise."""
    return f"{kind}:{layout}" if layout else kind


def sm_scaling(fraction: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The two-point law: time on the target's SMs / time on the source's, for a shape whose
    time on the source is a share `fraction` SM-parallel work, which stretches by `scale`
    (roofsim.perfmodel.parallel_scale: n_source / n_target, or the ratio of waves of a matrix
    kernel), and the rest not."""
    return (1.0 - fraction) + fraction * scale


def two_point_share(ratio: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The SM-parallel share f that makes the two-point law give `ratio` (time on the target /
    on the source) where the parallel part stretches by `scale`; within [0, 1], and 0 where the
    parallel part does not stretch (scale 1: nothing to tell)."""
    moves = np.abs(scale - 1.0) > 1e-12
    return np.where(moves, np.clip((ratio - 1.0) / np.where(moves, scale - 1.0, 1.0), 0.0, 1.0),
                    0.0)


def busy_seconds(u: UnitTerms, params: np.ndarray) -> np.ndarray:
    """launch_seconds without the idle blocks (perfmodel.idle_block_seconds): the part a
    residual or an SM share describes (calibration timed equal inputs, so they had none)."""
    return launch_seconds(u, params) - u.empty_s


def group_features(kind: str, params: np.ndarray, dtype: str, sm_count: float,
                   share: bool = False, narrow_cols: float | None = None) -> np.ndarray:
    x = features(kind, _param_columns(params), dtype, sm_count, share, narrow_cols)
    return np.round(x, FEATURE_DECIMALS)


def sm_count_feature(counts: np.ndarray) -> np.ndarray:
    """The SM count's coordinate in the share's interpolation (SM_COUNT_WEIGHT)."""
    return np.round(SM_COUNT_WEIGHT * np.log2(np.asarray(counts, dtype=np.float64)),
                    FEATURE_DECIMALS)


def arch_family(spec: HardwareSpec) -> str:
    """The architecture a spec names ('Hopper (GH100, sm_90)' -> 'hopper'); '' if none."""
    return spec.arch.split("(")[0].strip().lower() if spec.arch else ""


@dataclass(frozen=True, eq=False)
class CalibrationProfile:
    device_name: str
    device_id: str
    hardware: HardwareSpec                  # the measuring device's spec
    groups: Mapping[tuple[str, str], GroupModel]
    settings: LocalLinearSettings = field(default_factory=LocalLinearSettings)
    rule: str = "same-arch"
    meta: Mapping[str, object] = field(default_factory=dict)
    # Seconds the GPU leaves between two dependent nodes of a CUDA graph on the measuring
    # device: part of every per-launch time the harness measures (a graph of R launches timed
    # between events), not of the kernel's duration that torch.profiler reports. Measured by
    # benchmarks/measure_graph_gap.py; the engine subtracts it, wall time adds it back.
    graph_gap_s: float = 0.0
    # The spec of each device whose SM shares a group borrowed (a sibling's, GroupModel.source
    # or sm_source: roofsim.calibration.sibling): the shares describe that device, so a
    # launch's SM count changes there (_predict).
    share_devices: Mapping[str, HardwareSpec] = field(default_factory=dict)

    @property
    def sm_count(self) -> int:
        return self.hardware.sm_count

    def share_device(self, g: GroupModel) -> HardwareSpec:
        """The spec of the device whose companions measured `g`'s SM shares: the sibling's
        where the group or its shares are borrowed (share_devices), else the measuring
        device's."""
        lender = g.share_lender
        return self.share_devices.get(lender, self.hardware) if lender else self.hardware

    def describes(self, hardware: HardwareSpec) -> bool:
        """Whether `hardware` is the device the profile was measured on (same id and SMs)."""
        return hardware.id == self.hardware.id and hardware.sm_count == self.hardware.sm_count

    def residual_applies(self, hardware: HardwareSpec) -> bool:
        if self.rule == "always":
            return True
        if self.rule == "never":
            return self.describes(hardware)
        return self.describes(hardware) or (
            arch_family(hardware) != "" and arch_family(hardware) == arch_family(self.hardware))

    # ---- prediction ------------------------------------------------------------------
    def tensor_efficiency_ratio(self, hardware: HardwareSpec) -> float:
        """The target's tensor efficiency over the measuring device's (spec field
        efficiency.tensor_core: the share of the tensor peak the architecture's libraries reach
        on their best shapes, the published MAMF over the peak): 1 on the same device and on
        every spec that states the same share."""
        return float(hardware.efficiency["tensor_core"]) / \
            float(self.hardware.efficiency["tensor_core"])

    def transfer_params(self, kp: np.ndarray, hardware: HardwareSpec) -> np.ndarray:
        """A group's kind parameters (PARAMS order) as they carry to `hardware`: the tensor
        efficiency eta_tensor scaled by tensor_efficiency_ratio, within its range (a kernel
        keeps its share of what its architecture's best kernels reach: cuBLAS's reach 0.80 of
        the tensor peak on Hopper and 0.87 on the A100, the MAMF table of hardware/*.yaml S13);
        the others as fitted."""
        ratio = self.tensor_efficiency_ratio(hardware)
        if ratio == 1.0:
            return kp
        out = np.array(kp, dtype=np.float64)
        spec = PARAMS[PARAM_INDEX["eta_tensor"]]
        out[PARAM_INDEX["eta_tensor"]] = min(max(out[PARAM_INDEX["eta_tensor"]] * ratio,
                                                 spec.low), spec.high)
        return out

    def _interpolator(self, g: GroupModel) -> LocalLinear:
        cache = self.__dict__.setdefault("_cache", {})
        key = (g.family, g.dtype)
        if key not in cache:
            x = group_features(g.kind, g.params, g.dtype, self.sm_count)
            cache[key] = LocalLinear(x, g.residual, self.residual_settings(g.family))
        return cache[key]

    def residual_settings(self, family: str) -> LocalLinearSettings:
        """The residual interpolation's settings for a family: the profile's, with
        FAMILY_SETTINGS' changes for that family."""
        return replace(self.settings, **FAMILY_SETTINGS.get(family, {}))

    def _sm_interpolator(self, g: GroupModel) -> tuple[LocalLinear, tuple[float, ...]] | None:
        """The share f over the companions' shapes and SM counts (SM_COUNT_WEIGHT x log2 of
        the count beside the shape features; 0 for an older profile that did not record the
        counts), with the SM counts the companions ran; None without 3 shapes."""
        if g.sm_fraction is None or len(g.sm_fraction) < 3:
            return None
        cache = self.__dict__.setdefault("_sm_cache", {})
        key = (g.family, g.dtype)
        if key not in cache:
            x = self.share_features(g, g.sm_params, g.dtype)
            counts = g.sm_counts if g.sm_counts is not None else np.ones(len(x))
            prior = SHARE_PHYSICS_PRIOR * self.companion_physical_shares(g) \
                if g.sm_counts is not None else 0.0
            cache[key] = (LocalLinear(np.column_stack([x, sm_count_feature(counts)]),
                                      g.sm_fraction - prior, self.settings),
                          tuple(float(c) for c in np.unique(counts)))
        return cache[key]

    def share_features(self, g: GroupModel, params: np.ndarray, dtype: str) -> np.ndarray:
        """The coordinates of g's SM-parallel share at these shapes: the share features with
        the launch grid the share device's library gives (narrow_tile_cols)."""
        return group_features(g.kind, params, dtype, self.sm_count, share=True,
                              narrow_cols=narrow_tile_cols(self.share_device(g)))

    def companion_physical_shares(self, g: GroupModel) -> np.ndarray:
        """The physical model's SM-parallel share of each of g's companion shapes at the SM
        count its companion ran, on the device that measured the shares (share_device): the
        two-point share of busy_seconds there and on a restriction of that device (its grid
        the whole chip's, as in a green context)."""
        spec = self.share_device(g)
        table = g.companion_table()
        own = g.kind_params.as_array()
        on_whole = busy_seconds(unit_terms(table, spec), own)
        on_fewer = np.zeros(len(table))
        for c in np.unique(g.sm_counts):
            rows = np.flatnonzero(g.sm_counts == c)
            target = replace(with_sm_count(spec, int(c), digits=6), grid_sm_count=spec.grid_sms)
            on_fewer[rows] = busy_seconds(unit_terms(table.select(rows),
                                                     self.source_at(spec, target)), own)
        return two_point_share(on_fewer / on_whole, self.companion_scales(g))

    def companion_scales(self, g: GroupModel) -> np.ndarray:
        """How the SM-parallel part of each of g's companion shapes stretches from the profile's
        SM count to the count its companion ran (perfmodel.parallel_scale, the grid the share
        device's whole chip)."""
        table = g.companion_table()
        grid = float(self.share_device(g).grid_sms)
        out = np.empty(len(table))
        for c in np.unique(g.sm_counts):
            rows = np.flatnonzero(g.sm_counts == c)
            out[rows] = parallel_scale(table.select(rows), float(self.sm_count), float(c), grid)
        return out

    def sm_fraction_at(self, g: GroupModel, params: np.ndarray, dtype: str,
                       physical: np.ndarray, target_sms: float) -> np.ndarray:
        """SM-parallel share f of each shape's time on the measuring device, for a target of
        `target_sms` SMs: interpolated from the shapes the companions timed on fewer SMs (their
        departure from SHARE_PHYSICS_PRIOR x `physical`, added back at these shapes), and
        blended toward `physical` (the share the physical model gives) as the nearest of them
        gets farther: weight exp(-(distance / SM_BLEND_DISTANCE)^2) on the interpolation;
        beyond MAX_DISTANCE (a shape unlike any the companion timed: another size range, or a
        strided case of other `dims`, whose index work the physics scales with the SMs), and
        for a kind no companion timed, `physical` alone.
        The share depends on the SM count (the two-point law is exact only between the two
        counts it was measured at; see SM_COUNT_WEIGHT), so the SM count is a coordinate of
        the interpolation. It is read at each SM count a companion ran, and a target between
        two takes it linear in log(SMs); beyond them, the nearest one's (no companion tells how
        it moves further). Fewer SMs never get a smaller share than more (read from the most
        SMs down, each count keeps at least the share of the count above it), so that, with
        waves that never shrink as SMs go, a launch is never faster on fewer SMs."""
        found = self._sm_interpolator(g)
        if found is None:
            return physical
        interp, counts = found
        x = self.share_features(g, params, dtype)
        prior = SHARE_PHYSICS_PRIOR * physical if g.sm_counts is not None else 0.0
        down = sorted(counts, reverse=True)           # the counts of `shares`, most SMs first
        shares, nearest = [], np.full(len(x), np.inf)
        for c in down:
            f, near = interp.predict(np.column_stack([x, sm_count_feature(np.full(len(x), c))]))
            f = np.clip(f + prior, 0.0, 1.0)
            shares.append(np.maximum(f, shares[-1]) if shares else f)
            nearest = np.minimum(nearest, near)
        n = float(target_sms)
        if n >= down[0]:
            f = shares[0]
        elif n <= down[-1]:
            f = shares[-1]
        else:
            i = next(i for i in range(1, len(down)) if down[i] <= n)
            u = np.log(down[i - 1] / n) / np.log(down[i - 1] / down[i])
            f = (1.0 - u) * shares[i - 1] + u * shares[i]
        w = np.exp(-(nearest / SM_BLEND_DISTANCE) ** 2)
        return np.where(nearest <= MAX_DISTANCE, w * f + (1.0 - w) * physical, physical)

    def group_for(self, kind: str, dtype: str, layout: str = "",
                  fallback: str = "") -> GroupModel | None:
        """The group of a kind, dtype and layout: that dtype's, else its same-size sibling's;
        a strided layout no group describes borrows the same layout's bfloat16 group, else
        the `fallback` layout's (the one a cast record's stride names), else the kind's
        vectorized one (the kernel it was fitted into before layouts had groups); a row
        gather (INDEX_LAYOUTS) or an outer reduction (REDUCTION_LAYOUTS) none: the engine's
        roofline then times it."""
        dtype = canonical_dtype(dtype)
        tries = [(family_name(kind, layout), dtype)]
        if dtype in SIBLING_DTYPES:
            tries.append((family_name(kind, layout), SIBLING_DTYPES[dtype]))
        if layout:
            tries.append((family_name(kind, layout), "bfloat16"))
            if fallback and fallback != layout:
                tries += [(family_name(kind, fallback), dtype),
                          (family_name(kind, fallback), "bfloat16")]
            if layout not in INDEX_LAYOUTS + REDUCTION_LAYOUTS:   # no kin of the default
                tries.append((kind, dtype))       # kernel: without its group, the roofline
                if dtype in SIBLING_DTYPES:
                    tries.append((kind, SIBLING_DTYPES[dtype]))
        for key in tries:
            if key in self.groups:
                return self.groups[key]
        return None

    def residual_at(self, g: GroupModel, params: np.ndarray, dtype: str) -> np.ndarray:
        """The residual at these shapes: interpolated from measured neighbours, 0 where none is
        within MAX_DISTANCE (the physics alone, rather than a guess from far away)."""
        r, nearest = self._interpolator(g).predict(
            group_features(g.kind, params, dtype, self.sm_count))
        return np.where(nearest <= MAX_DISTANCE, np.clip(r, -RESIDUAL_BOUND, RESIDUAL_BOUND), 0.0)

    @staticmethod
    def source_at(device: HardwareSpec, hardware: HardwareSpec) -> HardwareSpec:
        """`device` with `hardware`'s SM count and library grid: every other field the
        device's own. Built as roofsim hardware derive builds a restriction (peaks to six
        decimals), so that on the device's own restrictions it is the target's spec exactly
        and the device term of _predict is 1."""
        return replace(with_sm_count(device, hardware.sm_count, digits=6),
                       grid_sm_count=hardware.grid_sms)

    def physical_launch_s(self, table: RecordTable, hardware: HardwareSpec) -> np.ndarray:
        """The physical model alone on `hardware` (NaN where the profile has no group)."""
        return self._predict(table, hardware, residual=False)

    def predict_launch_s(self, table: RecordTable, hardware: HardwareSpec,
                         resident: np.ndarray | None = None) -> np.ndarray:
        """Per-launch seconds of each record on `hardware`; NaN where the profile has no data.
        `resident`: records whose inputs sit in L2 (roofsim.perfmodel.l2_resident; None: all
        cold, as the harness timed them): their group's warm_trips round trips per dependent
        step (perfmodel.warm_steps) take the L2 latency instead of the DRAM latency (at most
        MIN_WARM_SHARE of the launch saved)."""
        return self._predict(table, hardware, residual=self.residual_applies(hardware),
                             resident=resident)

    def table_groups(self, table: RecordTable) -> tuple[np.ndarray, dict[str, GroupModel]]:
        """Each record's group key ('kind|dtype|layout|fallback': a cast record no group
        describes falls back to its stride's layout) and the group of every key the profile
        speaks for (group_for); a record whose key is missing gets the roofline."""
        layouts = layout_of(table.kind, table.param)
        stride_layouts = kernel_layout(table.kind, table.param("stride"))
        keys = np.array([f"{k}|{canonical_dtype(str(d))}|{lay}|{fb}"
                         for k, d, lay, fb in zip(table.kind, table.dtype, layouts,
                                                  stride_layouts)])
        found = {}
        for key in np.unique(keys):
            g = self.group_for(*key.split("|", 3))
            if g is not None:
                found[key] = g
        return keys, found

    def covers(self, table: RecordTable) -> np.ndarray:
        """Which records a group of this profile times (the rest: NaN, the roofline's)."""
        keys, found = self.table_groups(table)
        return np.isin(keys, list(found)) if len(keys) else np.zeros(0, dtype=bool)

    def _predict(self, table: RecordTable, hardware: HardwareSpec, residual: bool,
                 resident: np.ndarray | None = None) -> np.ndarray:
        n = len(table)
        out = np.full(n, np.nan)
        if n == 0:
            return out
        keys, found = self.table_groups(table)
        if not found:
            return out
        covered = np.flatnonzero(np.isin(keys, list(found)))
        sub = table.select(covered)
        n_src, n_tgt = float(self.sm_count), float(hardware.sm_count)
        rescale = residual and n_src != n_tgt
        # Another SM count: the SM count changes on the device whose companions measured the
        # group's SM shares f (share_device: the measuring device, or the sibling that lent
        # them), through the two-point law (sm_scaling), and every other field at the
        # target's SM count, through the physics (source_at). A share describes the device it
        # was measured on: an H200 launch that HBM binds on the whole chip keeps a small serial
        # share, and on an H100 (0.70x the HBM) that share of a longer whole-chip time is not
        # what 8 SMs, bound by their bytes in flight on either chip, run at. Chosen in session
        # 32 on the H100's first SM-restricted sets (calibration/h100-sxm-sm*/: the H200's
        # profile had narrow-fresh3 on 8 SMs at 30.3 % MAPE, the decode step +24.7 %); see
        # calibration/README.md.
        base_hw = with_sm_count(hardware, self.sm_count) if rescale else hardware
        u = unit_terms(sub, self.hardware if rescale else hardware)
        u_tgt = unit_terms(sub, hardware) if rescale else None
        scale_all = parallel_scale(sub, n_src, n_tgt, hardware.grid_sms) if rescale else None
        share_terms = {}          # the share device's terms: (whole chip, target's SMs)
        # A residual and an SM share describe the kernel the measuring (or lending) device's
        # library ran for a shape; where the target's library runs another kernel for a record
        # (other_library_kernel: a short linear's column tile, spec field
        # library_narrow_tile_cols), neither carries: that record takes the physics alone, its
        # residual 0 and its share the physical one. Chosen in session 44 on the H100's
        # narrow-fresh13 (calibration/README.md): the H200 profile on its 48 such shapes
        # went +38.9 / +38.0 / +29.1 / +40.3 % (median, the whole H100 / 8 / 16 / 24 SMs)
        # -> +18.4 / +15.1 / +7.1 / +20.8 %.
        other = other_library_kernel(sub, self.hardware, hardware)
        other_share = {}          # the share device's other_library_kernel

        def on_share_device(g: GroupModel):
            spec = self.share_device(g)
            if spec.id not in share_terms:
                share_terms[spec.id] = (u if spec is self.hardware else unit_terms(sub, spec),
                                        unit_terms(sub, self.source_at(spec, hardware)))
                other_share[spec.id] = other if spec is self.hardware else \
                    other_library_kernel(sub, spec, hardware)
            return share_terms[spec.id]
        # An L2-resident launch: the cold prediction times the ratio of the launch's physics
        # with its memory roof through the L2 (perfmodel.memory_roof_s) to its cold physics,
        # on the target's SMs (where a green context leaves the per-SM term binding, the L2 does
        # not help), or on the measuring device's where the target has more: there the time is
        # the device's scaled by the companions' SM share, and so must its warm share be, for
        # a faster memory never to slow a launch.
        warm = resident[covered] if resident is not None else None
        u_warm = u_cold = None
        if warm is not None and warm.any():
            if not rescale:
                warm_hw, u_cold = hardware, u
            elif n_tgt < n_src:
                warm_hw, u_cold = hardware, u_tgt
            else:
                warm_hw, u_cold = base_hw, unit_terms(sub, base_hw)
            u_warm = unit_terms(sub, warm_hw, resident=warm)
        pos = np.full(n, -1)
        pos[covered] = np.arange(len(covered))
        for key, g in found.items():
            rows = np.flatnonzero(keys == key)
            at = pos[rows]
            own = g.kind_params.as_array()
            kp = self.transfer_params(own, hardware)
            dtype = key.split("|", 2)[1]
            ua = u.select(at)
            # idle blocks (perfmodel.idle_block_seconds) are physics on the target's
            # SMs alone: calibration timed equal inputs, so no residual or SM share has them
            physics = busy_seconds(ua, own if rescale else kp)
            t = physics
            if residual:
                t = t * np.exp(np.where(other[at], 0.0,
                                        self.residual_at(g, table.params[rows], dtype)))
            if rescale:
                whole, fewer = (x.select(at) for x in on_share_device(g))
                ut = u_tgt.select(at)
                share_whole = busy_seconds(whole, own)
                at_tgt = busy_seconds(fewer, own)
                scale = scale_all[at]
                physical = two_point_share(at_tgt / share_whole, scale)
                f = self.sm_fraction_at(g, table.params[rows], dtype, physical, n_tgt)
                f = np.where(other_share[self.share_device(g).id][at], physical, f)
                # measuring device -> share device (whole chips), its SM count -> the target's,
                # share device -> target (target's SMs)
                device = (share_whole / physics) * \
                    busy_seconds(ut, kp) / at_tgt
                t = t * sm_scaling(f, scale) * device + ut.empty_s
            else:
                t = t + ua.empty_s
            if u_warm is not None and warm[at].any():
                cold_u = u_cold.select(at)
                warm_u = u_warm.select(at)
                ratio = busy_seconds(warm_u, kp) / busy_seconds(cold_u, kp)
                t = np.where(warm[at], t * np.minimum(ratio, 1.0), t)
            if resident is not None and g.warm_trips > 0:
                saved = g.warm_trips * (hardware.mem_latency_s - hardware.l2_latency_s) * \
                    warm_steps(sub.select(at), hardware)
                t = np.where(resident[rows], np.maximum(t - saved, MIN_WARM_SHARE * t), t)
            out[rows] = t
        return out

    # ---- description -------------------------------------------------------------------
    def summary_rows(self) -> list[dict]:
        return [{"kind": g.family, "dtype": g.dtype, "shapes": len(g.measured),
                 **g.kind_params.as_dict(),
                 "residual_rms": float(np.sqrt(np.mean(g.residual ** 2)))}
                for g in self.groups.values()]

    # ---- I/O -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        groups = []
        for g in self.groups.values():
            groups.append({
                "kind": g.kind, **({"layout": g.layout} if g.layout else {}),
                **({"warm_trips": g.warm_trips} if g.warm_trips else {}),
                **({"source": g.source} if g.source else {}),
                **({"sm_source": g.sm_source} if g.sm_source else {}),
                "dtype": g.dtype, "kind_params": g.kind_params.as_dict(),
                "params": _shape_lists(g.params),
                "measured_s": [float(t) for t in g.measured],
                "residual": [float(r) for r in g.residual],
                **({} if g.sm_fraction is None else {
                    "sm_params": _shape_lists(g.sm_params),
                    "sm_fraction": [float(f) for f in g.sm_fraction],
                    **({} if g.sm_counts is None else
                       {"sm_counts": [int(c) for c in g.sm_counts]})}),
            })
        return {
            "format": PROFILE_FORMAT, "version": PROFILE_VERSION,
            "device": {"name": self.device_name, "id": self.device_id,
                       "sm_count": self.sm_count, "arch": self.hardware.arch,
                       "graph_gap_us": self.graph_gap_s * 1e6},
            "hardware": spec_to_dict(self.hardware),
            "model": {"method": "physical per-kernel model (roofsim.perfmodel) with kind "
                                "parameters fitted on this device, x a residual per measured "
                                "shape interpolated by locally weighted linear regression",
                      "parameters": {p.name: {"unit": p.unit, "range": [p.low, p.high]}
                                     for p in PARAMS},
                      "neighbours": self.settings.neighbours, "ridge": self.settings.ridge,
                      "margin": self.settings.margin,
                      "bandwidth_floor": self.settings.bandwidth_floor,
                      "bandwidth_scale": self.settings.bandwidth_scale,
                      "residual_bound": RESIDUAL_BOUND, "residual_rule": self.rule},
            "meta": dict(self.meta),
            **({"share_devices": {k: spec_to_dict(v) for k, v in self.share_devices.items()}}
               if self.share_devices else {}),
            "groups": groups,
        }

    def save(self, path: str | Path) -> Path:
        """Write the profile to `path`, or into its gzip-compressed copy where that is what is
        stored (roofsim.io.write_stored_text). The path written."""
        return write_stored_text(path, json.dumps(self.to_dict(), separators=(",", ":")) + "\n",
                                 what="calibration profile")


# ---- reading, with every field checked --------------------------------------------------------

def _need(doc: Mapping, key: str, where: str, kind: type | tuple, what: str):
    if not isinstance(doc, Mapping) or key not in doc:
        raise UserError(f"{where}: missing field {key!r} (expected {what})")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise UserError(f"{where}.{key}: expected {what}, got {type(value).__name__}")
    return value


def _number(value, where: str, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or not low <= value <= high:
        raise UserError(f"{where} = {value!r}: expected {what} between {low:g} and {high:g}")
    return float(value)


def _numbers(values, where: str, n: int | None, low: float, high: float, what: str) -> np.ndarray:
    if not isinstance(values, list) or (n is not None and len(values) != n) or not values:
        size = f"{n} " if n is not None else ""
        raise UserError(f"{where}: expected a list of {size}{what}")
    for i, v in enumerate(values):
        _number(v, f"{where}[{i}]", low, high, what)
    return np.asarray(values, dtype=np.float64)


def _group_from_dict(g, at: str) -> GroupModel:
    kind = _need(g, "kind", at, str, "a kernel kind")
    if kind not in KINDS:
        raise UserError(f"{at}.kind = {kind!r}: expected one of {', '.join(KINDS)}")
    layout = g.get("layout", "")
    special = (kind == "conv2d" and layout in CONV_LAYOUTS) or \
        (kind == "index" and layout in INDEX_LAYOUTS) or \
        (kind == "reduction" and layout in REDUCTION_LAYOUTS)
    if not special and (layout not in LAYOUTS or (layout and kind not in LAYOUT_KINDS)):
        raise UserError(f"{at}.layout = {layout!r}: expected one of "
                        f"{', '.join(repr(x) for x in LAYOUTS)} "
                        f"(on {', '.join(sorted(LAYOUT_KINDS))}) or, on conv2d, "
                        f"{', '.join(repr(x) for x in CONV_LAYOUTS)}, on index, "
                        f"{', '.join(repr(x) for x in INDEX_LAYOUTS)}, on reduction, "
                        f"{', '.join(repr(x) for x in REDUCTION_LAYOUTS)}")
    dtype = _need(g, "dtype", at, str, "a dtype name")
    if canonical_dtype(dtype) not in ELEMENT_BYTES:      # a group no record could ever match
        raise UserError(f"{at}.dtype = {dtype!r}: expected one of "
                        f"{', '.join(sorted(ELEMENT_BYTES))}")
    trips = _number(g.get("warm_trips", 0.0), f"{at}.warm_trips", TRIPS_RANGE[0], TRIPS_RANGE[1],
                    "round trips")
    kp = _need(g, "kind_params", at, dict, "the kind's fitted parameters")
    unknown = sorted(set(kp) - {p.name for p in PARAMS})
    if unknown:
        raise UserError(f"{at}.kind_params.{unknown[0]}: not a kind parameter (expected "
                        f"{', '.join(p.name for p in PARAMS)})")
    values = {}
    for p in PARAMS:
        values[p.name] = _number(_need(kp, p.name, f"{at}.kind_params", (int, float), p.unit),
                                 f"{at}.kind_params.{p.name}", p.low, p.high, p.unit)
    measured = _numbers(_need(g, "measured_s", at, list, "measured seconds"), f"{at}.measured_s",
                        None, 1e-9, 100.0, "seconds per launch")
    n = len(measured)
    residual = _numbers(_need(g, "residual", at, list, "residuals"), f"{at}.residual", n,
                        -RESIDUAL_BOUND - 1e-9, RESIDUAL_BOUND + 1e-9, "log residuals")
    p = _shapes(_need(g, "params", at, dict, "shape parameters"), n, f"{at}.params")
    sm_params = sm_fraction = sm_counts = None
    if "sm_fraction" in g:
        sm_fraction = _numbers(g["sm_fraction"], f"{at}.sm_fraction", None, 0.0, 1.0,
                               "SM-parallel shares")
        sm_params = _shapes(_need(g, "sm_params", at, dict, "shape parameters"),
                            len(sm_fraction), f"{at}.sm_params")
        if "kind_sm_share" in g:     # written by profiles before 2026-12-02, never read
            _number(g["kind_sm_share"], f"{at}.kind_sm_share", 0.0, 1.0, "a share")
        if "sm_counts" in g:
            sm_counts = _numbers(g["sm_counts"], f"{at}.sm_counts", len(sm_fraction), 1, 1e6,
                                 "SM counts")
            if np.any(sm_counts != np.round(sm_counts)):
                raise UserError(f"{at}.sm_counts: expected whole SM counts")
    source, sm_source = (g.get(k, "") for k in ("source", "sm_source"))
    for k, v in (("source", source), ("sm_source", sm_source)):
        if not isinstance(v, str):
            raise UserError(f"{at}.{k}: expected a device id (text), got {type(v).__name__}")
    if sm_source and sm_fraction is None:
        raise UserError(f"{at}.sm_source: names the source of SM shares the group does not have")
    return GroupModel(kind=kind, dtype=canonical_dtype(dtype), kind_params=KindParams(**values),
                      params=p, measured=measured, residual=residual, sm_params=sm_params,
                      sm_fraction=sm_fraction, sm_counts=sm_counts, layout=layout,
                      warm_trips=trips, source=source, sm_source=sm_source)


def _shape_lists(params: np.ndarray) -> dict[str, list]:
    """Shape parameters as the profile file holds them: one list per used parameter, whole
    numbers as int, unused entries as None (the reader is _shapes)."""
    return {k: [None if np.isnan(v) else int(v) if v == int(v) else float(v) for v in col]
            for k, col in _param_columns(params).items() if not np.isnan(col).all()}


def _shapes(shape: Mapping, n: int, at: str) -> np.ndarray:
    p = np.full((n, len(SHAPE_PARAMS)), np.nan)
    for name, col in shape.items():
        if name not in SHAPE_PARAMS:
            raise UserError(f"{at}.{name}: unknown shape parameter (expected one of "
                            f"{', '.join(SHAPE_PARAMS)})")
        if not isinstance(col, list) or len(col) != n:
            raise UserError(f"{at}.{name}: expected a list of {n} sizes")
        for i, v in enumerate(col):
            if v is not None:
                _number(v, f"{at}.{name}[{i}]", 0, 1e12, "a size")
        p[:, SHAPE_PARAMS.index(name)] = [np.nan if v is None else v for v in col]
    return p


def _check_format(doc, where: str) -> None:
    if not isinstance(doc, Mapping) or doc.get("format") != PROFILE_FORMAT:
        raise UserError(f"{where}: not a roofsim calibration profile (format {PROFILE_FORMAT!r})")


def profile_from_dict(doc: Mapping, where: str = "<profile>") -> CalibrationProfile:
    _check_format(doc, where)
    if doc.get("version") != PROFILE_VERSION:
        raise UserError(f"{where}: profile version {doc.get('version')!r}, expected "
                        f"{PROFILE_VERSION} (refit with `roofsim calibrate --fit-only`)")
    hw = spec_from_dict(_need(doc, "hardware", where, dict, "the measuring device's spec"),
                        f"{where}: hardware")
    dev = _need(doc, "device", where, dict, "the measuring device")
    name = _need(dev, "name", f"{where}.device", str, "the device's name")
    ident = _need(dev, "id", f"{where}.device", str, "the device's id")
    sms = dev.get("sm_count", hw.sm_count)
    if isinstance(sms, bool) or not isinstance(sms, int) or sms != hw.sm_count:
        raise UserError(f"{where}.device.sm_count = {sms!r}: expected the SM count of the "
                        f"profile's hardware spec, {hw.sm_count} (the two describe one device)")
    gap_s = _number(dev.get("graph_gap_us", 0.0), f"{where}.device.graph_gap_us",
                    GAP_RANGE_S[0] * 1e6, GAP_RANGE_S[1] * 1e6, "microseconds") * 1e-6
    m = _need(doc, "model", where, dict, "the model settings")
    neighbours = _number(m.get("neighbours", 12), f"{where}.model.neighbours", 1, 1000,
                         "neighbours")
    if neighbours != int(neighbours):
        raise UserError(f"{where}.model.neighbours = {neighbours!r}: expected a whole number")
    settings = LocalLinearSettings(
        neighbours=int(neighbours),
        ridge=_number(m.get("ridge", 0.3), f"{where}.model.ridge", 0, 100, "a ridge"),
        margin=_number(m.get("margin", 0.15), f"{where}.model.margin", 0, 10, "log units"),
        bandwidth_floor=_number(m.get("bandwidth_floor", 0.5), f"{where}.model.bandwidth_floor",
                                1e-6, 100, "feature units"),
        # profiles written before the setting existed interpolated at the full distance
        bandwidth_scale=_number(m.get("bandwidth_scale", 1.0), f"{where}.model.bandwidth_scale",
                                0.05, 10, "a share of the k-th neighbour's distance"))
    rule = m.get("residual_rule", "same-arch")
    if rule not in RULES:
        raise UserError(f"{where}.model.residual_rule = {rule!r}: expected one of "
                        f"{', '.join(RULES)}")
    groups = {}
    listed = _need(doc, "groups", where, list, "a list of kernel groups")
    if not listed:       # a profile that calibrates nothing would still read as 'calibrated'
        raise UserError(f"{where}.groups: empty (expected the fitted kernel groups)")
    for i, g in enumerate(listed):
        model = _group_from_dict(g, f"{where}: groups[{i}]")
        if (model.family, model.dtype) in groups:
            raise UserError(f"{where}: groups[{i}]: a second {model.family} {model.dtype} group "
                            f"(each (kind, layout, dtype) once)")
        groups[(model.family, model.dtype)] = model
    meta = doc.get("meta", {})
    sibling = meta.get("sibling") if isinstance(meta, Mapping) else None
    for key in ("groups", "sm_shares") if isinstance(sibling, Mapping) else ():
        lent = sibling.get(key, [])      # what a sibling lent (roofsim.calibration.sibling)
        if not isinstance(lent, list) or not all(isinstance(x, str) for x in lent):
            raise UserError(f"{where}.meta.sibling.{key} = {lent!r}: expected a list of kernel "
                            f"groups ('family|dtype')")
    shares = doc.get("share_devices", {})
    if not isinstance(shares, Mapping):
        raise UserError(f"{where}.share_devices: expected a map of device ids to specs")
    share_devices = {str(k): spec_from_dict(v, f"{where}: share_devices.{k}")
                     for k, v in shares.items()}
    for g in groups.values():
        lender = g.share_lender
        if lender and g.sm_fraction is not None and lender not in share_devices:
            raise UserError(f"{where}: the {g.family} {g.dtype} group's SM shares come from "
                            f"{lender!r}, whose spec share_devices does not hold (refit "
                            f"with `roofsim calibrate --fit-only --sibling ...`)")
    return CalibrationProfile(device_name=name, device_id=ident, hardware=hw, groups=groups,
                              settings=settings, rule=rule,
                              meta=meta if isinstance(meta, Mapping) else {}, graph_gap_s=gap_s,
                              share_devices=share_devices)


def shipped_calibrations() -> list[str]:
    """Names of the shipped calibrations (calibration/<name>/ folders holding a profile)."""
    from ..data import data_dir
    root = data_dir("calibration")
    return sorted(d.name for d in root.iterdir() if d.is_dir() and
                  stored_file(d / "profile.json").is_file()) if root.is_dir() else []


def resolve_calibration_dir(name_or_dir: str | Path) -> Path:
    """A folder path, or the name of a shipped calibration (calibration/<name>)."""
    if not str(name_or_dir).strip():
        raise UserError("--calibration: empty name (expected a calibration folder or the name "
                        "of a shipped calibration)")
    p = Path(name_or_dir)
    if p.is_dir():
        return p
    from ..data import data_dir
    root = data_dir("calibration")
    shipped = root / str(name_or_dir)
    if shipped.is_dir():
        return shipped
    raise UserError(f"calibration {name_or_dir}: no such folder (shipped calibrations: "
                    f"{', '.join(shipped_calibrations()) or 'none'})")


def load_profile(path: str | Path) -> CalibrationProfile:
    """The profile in a calibration folder (profile.json), a profile file, or a shipped
    calibration's name (e.g. 'h200')."""
    doc, p = _profile_doc(path)
    return profile_from_dict(doc, str(p))


def _profile_doc(path: str | Path):
    """The parsed JSON of the profile file `path` names (profile_file), and that file."""
    p = profile_file(path)
    if not p.is_file():
        raise UserError(f"{p}: no profile.json (fit one with `roofsim calibrate --fit-only "
                        f"--out {p.parent}`)")
    return read_json(p, expected="a calibration profile (profile.json)"), p


def measured_spec_fields(path: str | Path) -> tuple[Mapping, str]:
    """The spec fields of the device a profile (as load_profile finds it) was measured on, its
    `hardware`, and where they sit ('<file>: hardware'), for a command whose target defaults to
    that device."""
    doc, p = _profile_doc(path)
    _check_format(doc, str(p))
    return _need(doc, "hardware", str(p), dict, "the measuring device's spec"), f"{p}: hardware"


def profile_file(path: str | Path) -> Path:
    """The profile file a --calibration value names: a file itself, else the profile.json of a
    calibration folder or a shipped calibration's name, or its stored .gz copy
    (roofsim.io.stored_file)."""
    p = Path(path)
    if p.is_file():
        return p
    return stored_file(resolve_calibration_dir(path) / "profile.json")
