"""Fit a calibration profile from a measurements CSV, and check it on the held-out rows.

`fit_profile` fits, per (kind, dtype), the physical model's kind parameters on the shapes of
the 'fit' split and keeps each shape's residual (see roofsim.calibration.profile).
`fit_directory` does the whole step for a calibration folder: read measurements.csv, name the
hardware spec, fit, write profile.json and accuracy.json (held-out MAPE per kind, calibrated and
uncalibrated), and return a printable summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..io import read_text, stored_file
from ..kernels._common import layout_of
from ..hardware import HardwareSpec, derive_sm_restricted, load_hardware
from ..records import RecordTable
from .accuracy import accuracy_table, evaluate, format_accuracy
from .device import device_id
from ..perfmodel import (PARAM_BY_NAME, STREAM_ALIGN_KINDS, KindParams, idle_block_seconds,
                         launch_seconds, parallel_scale, unit_terms)
from .interpolate import LocalLinearSettings
from .measurements import (FIT, HOLDOUT, SPLIT_SEED, HOLDOUT_FRACTION, Measurements,
                           concat_measurements, measurement_table, read_measurements,
                           split_of)
from .gap import GAP_FILE, graph_gap_s
from .warm import WARM_FILE, WarmCase, case_savings_s, short_cases, warm_trips
from .physfit import fit_kind
from .profile import RESIDUAL_BOUND, CalibrationProfile, GroupModel, two_point_share
from .run import MEASUREMENTS_FILE, PROFILE_FILE, PROVENANCE_FILE, provenance_runs

ACCURACY_FILE = "accuracy.json"
MIN_GROUP_SHAPES = 3    # fewer measured shapes: no opinion on the group
# Kinds whose launch is TensorIterator's vectorized elementwise loop, as the plain elementwise
# group's is (aten/src/ATen/native/cuda/CUDALoops.cuh, vectorized_elementwise_kernel: the same
# vector loads and stores, the same blocks; gelu and silu differ in the arithmetic per element
# alone). The HBM efficiency is the access pattern's, so they take the plain elementwise
# group's eta_memory of the same dtype (STREAMING_REFERENCE) instead of fitting their own. On a
# whole chip a slow activation fits as well with a low eta_memory as with an SM-side term
# (CUDA-core work, bytes in flight), and only the SM-side one scales with the SMs: the H100's
# whole-chip fit gave gelu eta_memory 0.89 (its plain elementwise group 0.96), and on the SM-
# restricted H200 samples (calibration/h200-sm*/), where gelu's time grows nearly as the SMs
# fall, it missed by 27-39 % at 8-40 SMs. Held at the plain group's: the H100 profile's gelu on
# the H200's 8 / 16 / 40-SM samples 39.1 / 33.8 / 27.2 -> 22.0 / 17.9 / 15.3 % MAPE, silu
# 29.8 / 29.1 / 22.9 -> 21.2 / 19.6 / 16.3, every row's at 8 SMs 26.7 -> 25.8 (`python
# benchmarks/kernel_set_bands.py --samples --fit h100-sxm --kind gelu`, before in a checkout of
# 3ffb416, after in one of 61412c4; every row's at 8 SMs reads 26.1 since session 33's attention
# change), its whole chip unchanged (9.4 %) (session 32; those samples guided it, the fresh
# sets came after).
SHARED_HBM_KINDS = ("gelu", "silu")
# The library's 16-bit matrix products (cuBLAS's nvjet kernels: one 384-thread block per SM with
# about 210 KB of shared memory in TMA stages) keep the SM's bytes in flight at its limit: large
# skinny products of 128-byte rows streamed at 108 / 103 GB/s per SM (linear, 8 / 16 SMs) and 131
# / 125 (bmm) on the H200 (calibration/h200-sm8, -sm16/stream-align), 108-110 on 8 H100 SMs (the
# narrow sets; benchmarks/stream_alignment.py), against the spec's 130 (sm_mem_bandwidth_gbps).
# The whole chip cannot tell it (HBM binds its large products), and its fits put eta_parallel
# at 0.58-0.70, where the soft p-norm at 132 SMs stood in for HBM's shortfall: a 1 GB stream on
# 8 SMs then took 1.6x its measured time in the physics. So eta_parallel is held at the
# hardware's limit (1: the spec's per-SM bandwidth) for these groups and the rest is fitted.
# Chosen with STREAM_ALIGN_SHARE on the selection sets narrow-fresh13, -14, -17 (calibration/
# README.md, session 47: the H100-only profile on 8 H100 SMs 19.0 / 16.3 / 19.7 -> 13.9 / 12.8 /
# 16.5 % MAPE, the H200's 18.0 / 15.7 / 17.3 -> 14.6 / 11.9 / 16.1); checked after on
# narrow-fresh15 (H200), -16 (H100) and -18 (H200).
FULL_STREAM_KINDS = STREAM_ALIGN_KINDS          # the same cuBLAS / nvjet products
FULL_STREAM_DTYPES = ("bfloat16", "float16")
STREAMING_REFERENCE = "elementwise"


@dataclass(frozen=True)
class Companion:
    """Measurements of the same chip run on fewer SMs (roofsim calibrate --sms N). For every
    shape timed both whole (t0 on N0 SMs) and restricted (t1 on N1), the two-point law
    t(N) = t0 ((1 - f) + f N0 / N) gives f, the share of the shape's time that is SM-parallel
    work (the rest: launch, latency chains, HBM-bound streaming). Whole-chip timings alone
    cannot tell the two apart; profile.py carries f to other SM counts."""

    measurements: Measurements
    sm_count: int


def sm_fractions(t0: np.ndarray, t1: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """f of the two-point law from times t0 on the whole chip and t1 on fewer SMs, where the
    SM-parallel part stretches by `scale` (roofsim.perfmodel.parallel_scale), within [0, 1]."""
    return two_point_share(np.asarray(t1) / np.asarray(t0), np.asarray(scale))


@dataclass(frozen=True)
class CompanionPoints:
    """Shapes of one group that a companion also timed: their rows in the group's table, their
    SM-parallel share f, and the companion's times and SM counts (one per row)."""

    rows: np.ndarray
    fraction: np.ndarray
    seconds: np.ndarray
    sm_counts: np.ndarray


def fit_group(kind: str, dtype: str, table: RecordTable, measured_s: np.ndarray,
              hardware: HardwareSpec, sm_points: CompanionPoints | None = None,
              layout: str = "", eta_memory: float | None = None) -> GroupModel:
    """One (kind, dtype, layout): the physical model's kind parameters by robust least squares
    on the whole chip's times and the companion's (the same shapes on fewer SMs: what tells
    SM-bound work from HBM-bound work), then the residual of every measured shape against the
    fitted model on the whole chip, bounded; the companion's shapes keep their f and the SM
    count it was measured at."""
    u = unit_terms(table, hardware)
    extra = []
    if sm_points is not None:
        for n in np.unique(sm_points.sm_counts):
            sel = sm_points.sm_counts == n
            rows = sm_points.rows[sel]
            restricted = derive_sm_restricted(hardware, int(n))
            extra.append((unit_terms(table.select(rows), restricted), sm_points.seconds[sel]))
    held = {}
    if eta_memory is not None:
        held["eta_memory"] = eta_memory
    if kind in FULL_STREAM_KINDS and dtype in FULL_STREAM_DTYPES and not layout:
        held["eta_parallel"] = PARAM_BY_NAME["eta_parallel"].high
    params = fit_kind(u, measured_s, fixed=KindParams(**held), hold=tuple(held), extra=extra)
    model = launch_seconds(u, params.as_array())
    residual = np.clip(np.log(measured_s / model), -RESIDUAL_BOUND, RESIDUAL_BOUND)
    sm_params = sm_fraction = sm_counts = None
    if sm_points is not None:
        sm_params, sm_fraction = table.params[sm_points.rows], sm_points.fraction
        sm_counts = sm_points.sm_counts.astype(float)
    return GroupModel(kind=kind, dtype=dtype, kind_params=params, params=table.params,
                      measured=np.asarray(measured_s, dtype=np.float64), residual=residual,
                      sm_params=sm_params, sm_fraction=sm_fraction, sm_counts=sm_counts,
                      layout=layout)


def _group_keys(m: Measurements) -> np.ndarray:
    """'kind|dtype|layout' of every row: the group (roofsim.calibration.profile) it fits."""
    layouts = layout_of(m["kind"], lambda name: m[name])
    return np.array([f"{k}|{d}|{lay}" for k, d, lay in zip(m["kind"], m["dtype"], layouts)],
                    dtype=object)


def fit_profile(m: Measurements, hardware: HardwareSpec, *, device_name: str = "",
                ident: str = "", settings: LocalLinearSettings | None = None,
                meta: dict | None = None,
                companions: tuple[Companion, ...] = ()) -> CalibrationProfile:
    """A profile from the stable rows of `m` (pass only the rows to fit on), with the
    SM-parallel share f of every shape also timed by a companion (fewer SMs)."""
    m = m.select(m.stable)
    if len(m) == 0:
        raise UserError(f"{m.path or 'measurements'}: no successful measurements to fit")
    table = measurement_table(m)
    row_of = {cid: i for i, cid in enumerate(m["case_id"])}
    keys = _group_keys(m)
    points: dict[str, list] = {}
    # idle blocks are physics of the SMs a launch runs on (the profile adds them at the target,
    # perfmodel.idle_block_seconds): a companion's share f is of the rest of each time
    idle_whole = idle_block_seconds(table, hardware) if companions else None
    for c in companions:
        if c.sm_count >= hardware.sm_count:
            raise UserError(f"{c.measurements.path}: a companion must run on fewer SMs than "
                            f"{hardware.sm_count} (got {c.sm_count})")
        cm = c.measurements.select(c.measurements.stable)
        scale = parallel_scale(table, hardware.sm_count, c.sm_count, hardware.grid_sms)
        idle = idle_block_seconds(table, derive_sm_restricted(hardware, c.sm_count))
        for j, cid in enumerate(cm["case_id"]):
            i = row_of.get(cid)
            if i is None:
                continue
            f = sm_fractions(m["kernel_s"][i] - idle_whole[i], cm["kernel_s"][j] - idle[i],
                             scale[i])
            points.setdefault(keys[i], []).append((i, float(f), float(cm["kernel_s"][j]),
                                                   c.sm_count))
    fitted = {}
    streaming = {}         # dtype -> the plain STREAMING_REFERENCE group's eta_memory
    # the SHARED_HBM_KINDS after the reference they take their HBM efficiency from
    for key in sorted(set(keys.tolist()), key=lambda k: (k.split("|", 1)[0] in SHARED_HBM_KINDS,
                                                         k)):
        rows = np.flatnonzero(keys == key)
        if len(rows) < MIN_GROUP_SHAPES:
            continue
        kind, dtype, layout = key.split("|", 2)
        pts = points.get(key)
        local = {r: q for q, r in enumerate(rows)}
        sm_points = CompanionPoints(rows=np.array([local[p[0]] for p in pts]),
                                    fraction=np.array([p[1] for p in pts]),
                                    seconds=np.array([p[2] for p in pts]),
                                    sm_counts=np.array([p[3] for p in pts])) if pts else None
        shared = streaming.get(dtype) if kind in SHARED_HBM_KINDS and not layout else None
        g = fit_group(kind, dtype, table.select(rows), m["kernel_s"][rows], hardware,
                      sm_points, layout, eta_memory=shared)
        if kind == STREAMING_REFERENCE and not layout:
            streaming[dtype] = g.kind_params.eta_memory
        fitted[key] = g
    groups = {(g.family, g.dtype): g for _, g in sorted(fitted.items())}
    return CalibrationProfile(device_name=device_name, device_id=ident or device_id(device_name),
                              hardware=hardware, groups=groups,
                              settings=settings or LocalLinearSettings(), meta=meta or {})


def device_of(out: Path) -> str:
    """The measuring device's name from the folder's provenance ('' if unknown)."""
    for run in reversed(provenance_runs(out)):
        name = (run.get("device_before") or {}).get("name") or \
            (run.get("software") or {}).get("device_torch")
        if name:
            return name
        if run.get("device") == "cpu":
            return "cpu"
    return ""


def sm_restriction_of(out: Path) -> int:
    """The SM count the folder's runs were restricted to (roofsim calibrate --sms N, or
    measure_e2e.py / measure_models.py --sms N, whose provenance is one run; probed where the
    probe ran), 0 for whole-GPU runs. Runs of several restrictions are an error."""
    runs = provenance_runs(out)
    sms = {int((r.get("sm_restriction") or {}).get("probed_sms") or
               (r.get("sm_restriction") or {}).get("requested_sms") or 0) for r in runs}
    if len(sms) > 1:
        raise UserError(f"{out / PROVENANCE_FILE}: runs of different SM restrictions "
                        f"({sorted(sms)}) in one folder")
    return sms.pop() if sms else 0


def device_sm_count_of(out: Path) -> int:
    """The SMs the measuring GPU reported (the provenance's software.sm_count: the whole chip,
    before any restriction), 0 where no run recorded it (CPU runs, older folders)."""
    for run in reversed(provenance_runs(out)):
        n = (run.get("software") or {}).get("sm_count")
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return n
    return 0


def hardware_for(out: Path, hardware: str | None) -> tuple[HardwareSpec, str]:
    """The measuring device's spec: --hardware, else the spec named like the device, restricted
    to the SMs the runs were restricted to (roofsim hardware derive), --hardware's too. A
    --hardware spec of neither the GPU's SM count nor the restriction's is one line: its roofs
    would describe another device (session 45's CLI sweep: an H200's 72-SM measurements fitted
    as an RTX 5090, or as the whole H200, without a word)."""
    name = device_of(out)
    spec_name = hardware or (device_id(name) if name else out.name)
    try:
        spec = load_hardware(spec_name, given_as="--hardware" if hardware else "device")
    except UserError as err:
        raise UserError(f"{out}: cannot pick the measuring device's hardware spec ({err}); "
                        f"pass --hardware NAME") from None
    sms, whole = sm_restriction_of(out), device_sm_count_of(out)
    if hardware and whole and spec.sm_count not in (whole, sms or whole):
        raise UserError(f"--hardware {hardware}: {spec.sm_count} SMs, but {out}'s measurements "
                        f"ran on {name or 'a GPU'} of {whole} SMs"
                        f"{f' restricted to {sms}' if sms else ''}; pass the measuring "
                        f"device's spec")
    if sms and sms < spec.sm_count:
        spec = derive_sm_restricted(spec, sms)
    return spec, name


def companion_from_folder(folder: Path) -> Companion:
    """A companion from a calibration folder measured with `roofsim calibrate --sms N`: its
    SM count is the one its provenance recorded (probed where the probe ran)."""
    n = sm_restriction_of(folder)
    if not n:
        raise UserError(f"{folder / PROVENANCE_FILE}: no SM restriction recorded (expected runs "
                        f"of `roofsim calibrate --sms N`)")
    return Companion(read_measurements(folder / MEASUREMENTS_FILE), n)


def more_measurements(out: Path, more: list[Path] = ()) -> list[Measurements]:
    """The rows of each folder in `more`, each checked to be of out's device and SM count (one
    line naming the folder otherwise)."""
    device, sms = device_of(out), sm_restriction_of(out)
    parts = []
    for folder in more:
        folder = Path(folder)
        other, other_sms = device_of(folder), sm_restriction_of(folder)
        if other != device or other_sms != sms:
            raise UserError(f"--more {folder}: measured on {other or 'an unknown device'}"
                            f"{f' at {other_sms} SMs' if other_sms else ''}, not on {out}'s "
                            f"{device or 'unknown device'}{f' at {sms} SMs' if sms else ''}")
        parts.append(read_measurements(folder / MEASUREMENTS_FILE))
    return parts


def join_measurements(m: Measurements, parts: list[Measurements]) -> Measurements:
    """`m` with the rows of `parts`: a shape already read keeps its first row; every row's split
    is its case id's (split_of), so a shape is fitted or held out whichever file holds it."""
    if not parts:
        return m
    joined = concat_measurements([m, *parts])
    _, first = np.unique(joined["case_id"], return_index=True)
    keep = np.zeros(len(joined), dtype=bool)
    keep[first] = True
    joined = joined.select(keep)
    split = np.array([split_of(c) for c in joined["case_id"]]).astype(joined["split"].dtype)
    return Measurements({**joined.columns, "split": split}, path=m.path)


def joined_measurements(out: Path, more: list[Path] = ()) -> Measurements:
    """out/measurements.csv with the rows of each folder in `more` (join_measurements):
    further measurements of the same device, on as many SMs (a kernel test set that has guided
    a change, say, taken into the calibration)."""
    own = read_measurements(out / MEASUREMENTS_FILE)
    return join_measurements(own, more_measurements(out, more))


@dataclass(frozen=True)
class FitInputs:
    """What a calibration folder's profile is fitted on, as its profile.json records it
    (meta 'more' and 'companions', folders relative to the calibration folder's parent):
    out/measurements.csv joined with the `more` folders (joined_measurements; every row, the
    fit split fitted, the held-out one scored) and the companions."""

    measurements: Measurements
    companions: tuple[Companion, ...]
    more: tuple[Path, ...]
    companion_folders: tuple[Path, ...] = ()   # the companions' folders, in their order


def recorded_fit_inputs(out: str | Path) -> FitInputs:
    """The inputs out/profile.json says it was fitted on (FitInputs): refitting them gives that
    profile (tests/test_calibration_fit.py), and a benchmark that refits the device fits what
    the committed profile holds."""
    out = Path(out)
    path = stored_file(out / PROFILE_FILE)
    try:
        doc = json.loads(read_text(path, expected="a JSON profile"))
    except (UserError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: no profile to read its fit inputs from "
                        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    meta = doc.get("meta", {}) if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("folder"), str)
            for key in ("more", "companions") for e in meta.get(key, []) or []):
        raise UserError(f"{path}: 'meta' must map 'more' and 'companions' to lists of "
                        f"{{'folder': ...}} entries")
    base = out.resolve().parent
    more = tuple(base / e["folder"] for e in meta.get("more", []) or [])
    folders = tuple(base / e["folder"] for e in meta.get("companions", []) or [])
    return FitInputs(joined_measurements(out, list(more)),
                     tuple(companion_from_folder(f) for f in folders), more, folders)


def fit_directory(out: str | Path, hardware: str | None = None, command: str = "",
                  companions: list[Path] = (), graph_gap: Path | None = None,
                  warm_l2: Path | None = None, sibling: str | Path | None = None,
                  more: list[Path] = ()) -> str:
    """Fit out/measurements.csv (with the folders of `more`: joined_measurements) into
    out/profile.json and out/accuracy.json. The graph gap
    comes from `graph_gap` (a measure_graph_gap.py CSV), else out/gap/graph-gap-sm0.csv where
    it exists, else 0 (kernel time then keeps the gap, as before it was measured); the groups'
    warm_trips from `warm_l2` (a measure_warm_l2.py CSV), else out/warm/warm-l2.csv where it
    exists, else 0 (every launch as cold as the harness timed it). `sibling`: a same-arch
    profile that fills the groups and SM shares this device never measured
    (roofsim.calibration.sibling)."""
    out = Path(out)
    more = [Path(f) for f in more]
    own = read_measurements(out / MEASUREMENTS_FILE)
    parts = more_measurements(out, more)
    m = join_measurements(own, parts)
    graph_gap, warm_l2 = probe_files(out, graph_gap, warm_l2)
    spec, name = hardware_for(out, hardware)
    probes = DeviceProbes.read(graph_gap, warm_l2, spec)
    comps = tuple(companion_from_folder(Path(c)) for c in companions)
    fit_rows = m.select(m["split"] == FIT)
    meta = {"fitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "measurements": MEASUREMENTS_FILE,
            "fit_rows": int(fit_rows.stable.sum()),
            "unstable_rows_left_out": int((m.ok & ~m.stable).sum()), "split_seed": SPLIT_SEED,
            "holdout_fraction": HOLDOUT_FRACTION,
            "launch_overhead_us_measured": launch_overhead_us(m),
            "more": [{"folder": _relative(f, out), "rows": int(part.stable.sum())}
                     for f, part in zip(more, parts)],
            "companions": [{"folder": _relative(Path(c), out), "sm_count": k.sm_count,
                            "rows": int(k.measurements.stable.sum())}
                           for c, k in zip(companions, comps)],
            "graph_gap": {"us": round(probes.graph_gap_s * 1e6, 4),
                          "source": _relative(graph_gap, out) if graph_gap else "not measured"},
            "warm_l2": {"source": _relative(warm_l2, out) if warm_l2 else "not measured",
                        "groups": len(probes.warm_savings_s())}}
    profile = fit_profile(fit_rows, spec, device_name=name or out.name,
                          ident=device_id(name) if name else out.name, meta=meta,
                          companions=comps)
    profile = probes.apply(profile)
    if sibling is not None:
        from .profile import load_profile
        from .sibling import with_sibling
        profile = with_sibling(profile, load_profile(sibling))
    if not profile.groups:      # a profile that calibrates nothing would read as 'calibrated'
        raise UserError(f"{out / MEASUREMENTS_FILE}: no (kind, dtype) group has the stable "
                        f"fit-split rows a fit needs ({meta['fit_rows']} stable fit rows in all); "
                        f"no profile written")
    written = profile.save(out / PROFILE_FILE)
    held = m.select(m["split"] == HOLDOUT)
    result = evaluate(held, profile, spec)
    rows = accuracy_table(result)
    (out / ACCURACY_FILE).write_text(json.dumps(
        {"device": profile.device_name, "hardware": spec.id, "split": HOLDOUT,
         "produced_by": command, "rows": rows}, indent=1) + "\n")
    return (f"fitted {len(profile.groups)} (kind, dtype) groups on {meta['fit_rows']} shapes -> "
            f"{written}\nheld-out accuracy on {spec.id} ({len(result['measured'])} "
            f"shapes):\n" + format_accuracy(rows))


@dataclass(frozen=True)
class DeviceProbes:
    """What two device-level probes measured beside the kernel calibration: the CUDA-graph
    node gap (gap.py) and what an L2-resident input saves each kernel group (warm.py: the
    probe's short cases and the spec it ran on)."""

    graph_gap_s: float = 0.0
    warm_cases: tuple[WarmCase, ...] = ()
    hardware: HardwareSpec | None = None

    @classmethod
    def read(cls, graph_gap: Path | None, warm_l2: Path | None,
             hardware: HardwareSpec | None = None) -> "DeviceProbes":
        """The probes' files, read once (bad data is one line before any fit); `hardware`, the
        spec the warm-L2 probe ran on, counts each case's dependent steps
        (warm.case_savings_s)."""
        return cls(graph_gap_s=graph_gap_s(graph_gap) if graph_gap is not None else 0.0,
                   warm_cases=tuple(short_cases(warm_l2)) if warm_l2 is not None else (),
                   hardware=hardware)

    def warm_savings_s(self, profile: CalibrationProfile | None = None) -> dict:
        """warm.case_savings_s of the warm-L2 probe's cases; with `profile`, net of what its
        physics already saves on each case (physics_kept)."""
        if not self.warm_cases:
            return {}
        kept = physics_kept(profile, [c.case_id for c in self.warm_cases if c.case_id],
                            self.hardware or profile.hardware) if profile is not None else None
        return case_savings_s(list(self.warm_cases), self.hardware, kept)

    def apply(self, profile: CalibrationProfile) -> CalibrationProfile:
        """`profile` with the gap, and each group's warm_trips at its measuring device's
        (DRAM - L2) latency: the round trips its physics leaves to be saved."""
        spec = profile.hardware
        savings = self.warm_savings_s(profile)
        groups = {key: replace(g, warm_trips=warm_trips(savings[(g.kind, g.layout)],
                                                        spec.mem_latency_s, spec.l2_latency_s))
                  if (g.kind, g.layout) in savings else g
                  for key, g in profile.groups.items()}
        return replace(profile, graph_gap_s=self.graph_gap_s, groups=groups)


def physics_kept(profile: CalibrationProfile, case_ids: list[str],
                 hardware: HardwareSpec) -> dict[str, float]:
    """{case id: the share of its cold time `profile` keeps on `hardware` (the probe's device)
    when the case's input sits in L2, before any warm_trips} for the ids that parse into one
    record the profile times."""
    from .suites import Case
    bare = replace(profile, groups={k: replace(g, warm_trips=0.0)
                                    for k, g in profile.groups.items()})
    ids, tables = [], []
    for cid in dict.fromkeys(case_ids):
        try:
            table = Case.from_id(cid).records()
        except (ValueError, UserError):
            continue
        if len(table) == 1:
            ids.append(cid)
            tables.append(table)
    if not ids:
        return {}
    table = RecordTable.concat(tables)      # one call per temperature: rows are independent
    cold = bare.predict_launch_s(table, hardware)
    warm = bare.predict_launch_s(table, hardware, resident=np.ones(len(table), dtype=bool))
    return {cid: float(min(w / c, 1.0)) for cid, c, w in zip(ids, cold, warm)
            if np.isfinite(c) and np.isfinite(w) and c > 0}


def probe_files(out: Path, graph_gap: Path | None = None,
                warm_l2: Path | None = None) -> tuple[Path | None, Path | None]:
    """The probe files of a calibration folder: those given, else out/GAP_FILE and
    out/WARM_FILE where they exist."""
    out = Path(out)
    if graph_gap is None and (out / GAP_FILE).is_file():
        graph_gap = out / GAP_FILE
    if warm_l2 is None and (out / WARM_FILE).is_file():
        warm_l2 = out / WARM_FILE
    return graph_gap, warm_l2


def _relative(path: Path, out: Path) -> str:
    """`path` as written in a profile: relative to the calibration folder's parent where it
    lies under it (machine-independent), else as given."""
    try:
        return str(Path(path).resolve().relative_to(out.resolve().parent))
    except ValueError:
        return str(path)


def launch_overhead_us(m: Measurements) -> dict:
    """Launch costs seen in the measurements: the fastest kernel in a graph (the graph launch
    floor) and the median eager time of the kernels that fast (host launch overhead)."""
    ok = m.select(m.ok)
    if len(ok) == 0:
        return {}
    t = ok["kernel_s"]
    tiny = t <= np.quantile(t, 0.02)
    eager = ok["eager_s"][tiny]
    eager = eager[np.isfinite(eager)]
    return {"cuda_graph": round(float(t.min()) * 1e6, 3),
            "stream": round(float(np.median(eager)) * 1e6, 3) if len(eager) else None}
