"""The tiled kinds' launch grid in calibration's metrics (issue 11, session 26): the choice of
roofsim.calibration.features' SHARE_PERSISTENT_WEIGHT and SHARE_BLOCKS_WEIGHT (a product's
SM-parallel share) and RESIDUAL_BLOCKS_WEIGHT (the residual of products, attention and conv2d),
and the check of the first.

    python benchmarks/share_metric_loo.py [--tests] [--groups] [--residual] [--prior]

1. The choice, on the H200's companions alone: the profile is fitted as its profile.json records
   (benchmarks/bench_transfer.device_profile); for each pair of weights, every companion shape
   of the gemm / linear / grouped_gemm groups has its share predicted from the other shapes
   (LocalLinear.leave_group_out: a shape's runs at other SM counts are left out with it), and
   the time that share gives at the companion's SM count is scored against the time the
   measured share gives (MAPE %, per count and over all). (0, 0) is the metric before.
2. With --tests, the check: MAPE of the product rows (gemm, linear; grouped_gemm apart) of the
   SM-restricted test sets that are not fresh (bench_transfer.KERNEL_TEST_SETS on fewer SMs, and
   the restricted samples at counts no companion has), on the shapes the fit left out, with the
   weights at 0 and as committed. The fit is the same (the profile stores the measured shares;
   the metric is read at prediction).
3. With --groups, every group's leave-one-shape-out error and companion shapes per SM count (the
   committed weights): where the companions are thin (calibration/README.md, session 26).
4. With --residual, the choice of RESIDUAL_BLOCKS_WEIGHT: leave-one-out MAPE of the fit-row
   residuals (each predicted from the other fit rows, as a time error) of the products, of
   attention and of conv2d's three layouts, H200 and H100 SXM profiles, at each weight of that
   kind (the others as committed).
5. With --prior, the choice of roofsim.calibration.profile.SHARE_PHYSICS_PRIOR (session 35): the
   same leave-one-shape-out over every group's companion shapes, the share's departure from
   that weight times the physical share interpolated, by SM count and over all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import (CAL, KERNEL_TEST_SETS, is_fresh,  # noqa: E402
                            companion_sms, device_profile, fit_inputs, restricted_devices, stable)
from roofsim.calibration import features  # noqa: E402
from roofsim.calibration.fit import measurement_table, sm_restriction_of  # noqa: E402
from roofsim.calibration.interpolate import LocalLinear  # noqa: E402
from roofsim.calibration.measurements import FIT  # noqa: E402
from roofsim.calibration.profile import (RESIDUAL_BOUND, SHARE_PHYSICS_PRIOR,  # noqa: E402
                                         group_features, sm_count_feature, sm_scaling)
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

WEIGHTS = ((0.0, 0.0), (4.0, 0.0), (0.0, 1.0), (4.0, 1.0), (4.0, 1.5), (4.0, 2.0), (4.0, 3.0),
           (8.0, 2.0))
PRODUCTS = ("gemm", "linear", "grouped_gemm")
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
RESIDUAL_WEIGHTS = {PRODUCTS: (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
                    ("attention",): (0.0, 0.25, 0.5, 0.75, 1.0),
                    ("conv2d",): (0.0, 0.5, 1.0)}


def set_weights(profile, persistent_w: float, blocks_w: float) -> None:
    """Set the metric's weights and drop the profile's cached share interpolators."""
    features.SHARE_PERSISTENT_WEIGHT = persistent_w
    features.SHARE_BLOCKS_WEIGHT = blocks_w
    profile.__dict__.pop("_sm_cache", None)


def group_share_errors(profile, g, prior_weight: float | None = None) -> np.ndarray:
    """Leave-one-shape-out time error of each companion shape's share in group g, at its
    companion's SM count (NaN where too few other shapes): the share's departure from
    `prior_weight` (profile.SHARE_PHYSICS_PRIOR where None) times the physical share
    interpolated from the other shapes, the prior added back."""
    x = np.column_stack([group_features(g.kind, g.sm_params, g.dtype, profile.sm_count,
                                        share=True), sm_count_feature(g.sm_counts)])
    _, shape = np.unique(np.nan_to_num(g.sm_params, nan=-1.0), axis=0, return_inverse=True)
    weight = SHARE_PHYSICS_PRIOR if prior_weight is None else prior_weight
    prior = weight * profile.companion_physical_shares(g) if weight else 0.0
    f = np.clip(LocalLinear(x, g.sm_fraction - prior, profile.settings)
                .leave_group_out(shape.ravel()) + prior, 0.0, 1.0)
    scale = profile.companion_scales(g)
    return np.abs(sm_scaling(f, scale) / sm_scaling(g.sm_fraction, scale) - 1.0)


def with_shares(profile, kinds=None):
    """The profile's groups that hold companion shares (of `kinds`, or all)."""
    return [g for g in profile.groups.values()
            if (kinds is None or g.kind in kinds) and g.sm_fraction is not None
            and len(g.sm_fraction) >= 4]


def share_errors(profile) -> dict:
    """Leave-one-shape-out time errors of the products' companion shares, by SM count."""
    out: dict = {}
    for g in with_shares(profile, PRODUCTS):
        err = group_share_errors(profile, g)
        ok = np.isfinite(err)
        for c in np.unique(g.sm_counts):
            out.setdefault(int(c), []).append(err[ok & (g.sm_counts == c)])
        out.setdefault("all", []).append(err[ok])
    return {k: 100.0 * float(np.concatenate(v).mean()) for k, v in out.items()}


def groups_table(profile) -> str:
    """Every group's leave-one-shape-out error and companion shapes per SM count: where the
    companions are thin."""
    counts = sorted({int(c) for g in with_shares(profile) for c in np.unique(g.sm_counts)})
    rows = []
    for g in with_shares(profile):
        err = group_share_errors(profile, g)
        cells = []
        for c in counts:
            sel = (g.sm_counts == c) & np.isfinite(err)
            cells.append(f"{100 * err[sel].mean():.1f} / {int(sel.sum())}" if sel.any() else "-")
        rows.append([f"{g.family} {g.dtype}"] + cells)
    return format_table(["group"] + [f"{c} SMs: % / shapes" for c in counts], rows)


def prior_errors(profile, weight: float) -> dict:
    """Leave-one-shape-out time errors of every group's companion shares at a prior weight
    (profile.SHARE_PHYSICS_PRIOR's choice), by SM count and over all."""
    out: dict = {}
    for g in with_shares(profile):
        err = group_share_errors(profile, g, weight)
        ok = np.isfinite(err)
        for c in np.unique(g.sm_counts):
            out.setdefault(int(c), []).append(err[ok & (g.sm_counts == c)])
        out.setdefault("all", []).append(err[ok])
    return {k: 100.0 * float(np.concatenate(v).mean()) for k, v in out.items()}


def residual_loo(profile, kinds) -> dict[str, float]:
    """Leave-one-out MAPE % of the fit-row residuals (as time errors) of `kinds`' groups, per
    family (one figure for the products)."""
    errs: dict[str, list] = {}
    for g in profile.groups.values():
        if g.kind not in kinds:
            continue
        x = group_features(g.kind, g.params, g.dtype, profile.sm_count)
        r = np.clip(LocalLinear(x, g.residual, profile.residual_settings(g.family))
                    .leave_one_out(), -RESIDUAL_BOUND, RESIDUAL_BOUND)
        e = np.abs(np.exp(r - g.residual) - 1.0)
        key = "products" if g.kind in PRODUCTS else g.family
        errs.setdefault(key, []).append(e[np.isfinite(e)])
    return {k: 100.0 * float(np.concatenate(v).mean()) for k, v in errs.items()}


def test_sets():
    """(label, measurements, spec) of the non-fresh SM-restricted kernel sets."""
    h200 = load_hardware("h200")
    comp = companion_sms("h200")
    out = [(f"{folder.name}", stable(folder / "measurements.csv"), sms)
           for folder, sms in restricted_devices() if sms not in comp]
    out += [(f"{folder}/{name}", stable(CAL / folder / name / "measurements.csv"),
             sm_restriction_of(CAL / folder / name))
            for folder, name in KERNEL_TEST_SETS
            if folder != "h200" and not is_fresh(folder, name)]
    return [(label, m, derive_sm_restricted(h200, sms)) for label, m, sms in out]


def test_mape(profile, sets, fitted, kinds) -> list[float]:
    errs = []
    for _, m, spec in sets:
        m = m.select(np.isin(m["kind"], kinds) & ~np.isin(m["case_id"], fitted))
        p = profile.predict_launch_s(measurement_table(m), spec)
        ok = np.isfinite(p)
        errs.append(np.abs(p[ok] / m["kernel_s"][ok] - 1.0))
    return [100.0 * float(e.mean()) if len(e) else float("nan") for e in errs] + \
        [100.0 * float(np.concatenate(errs).mean())]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", action="store_true", help="also score the restricted test sets")
    ap.add_argument("--groups", action="store_true",
                    help="also every group's error and companion shapes per SM count")
    ap.add_argument("--prior", action="store_true",
                    help="also the choice of the share's physics prior (SHARE_PHYSICS_PRIOR)")
    ap.add_argument("--residual", action="store_true",
                    help="also the residual's blocks weight (H200 and H100 SXM fit rows)")
    args = ap.parse_args(argv)
    inputs = fit_inputs("h200")
    data = inputs.measurements.select(inputs.measurements.stable)
    profile = device_profile("h200", data)
    keep = (features.SHARE_PERSISTENT_WEIGHT, features.SHARE_BLOCKS_WEIGHT)
    try:
        rows = []
        for w in WEIGHTS:
            set_weights(profile, *w)
            e = share_errors(profile)
            mark = "*" if w == keep else ""
            rows.append([f"{w[0]:g}{mark}", f"{w[1]:g}{mark}"] +
                        [f"{e[c]:.2f}" for c in sorted(k for k in e if k != "all")] +
                        [f"{e['all']:.2f}"])
        counts = sorted(k for k in e if k != "all")
        print("1. leave-one-shape-out over the H200's companion shapes (products): time error "
              "at the companion's SM count, MAPE %")
        print(format_table(["persistent w", "blocks w"] + [f"{c} SMs" for c in counts] + ["all"],
                           rows))
        if args.prior:
            print("\n5. the physics as the shares' prior: leave-one-shape-out over the H200's "
                  "companion shapes, every group, time error at the companion's SM count, "
                  "MAPE % (SHARE_PHYSICS_PRIOR, committed *)")
            rows = []
            for w in PRIOR_WEIGHTS:
                e = prior_errors(profile, w)
                mark = "*" if w == SHARE_PHYSICS_PRIOR else ""
                rows.append([f"{w:g}{mark}"] + [f"{e[c]:.2f}" for c in sorted(k for k in e
                                                                           if k != "all")] +
                            [f"{e['all']:.2f}"])
            counts = sorted(k for k in e if k != "all")
            print(format_table(["prior weight"] + [f"{c} SMs" for c in counts] + ["all"], rows))
        if args.groups:
            print("\nevery group with companion shares (committed weights): leave-one-shape-out "
                  "MAPE % / shapes, per companion SM count")
            set_weights(profile, *keep)
            print(groups_table(profile))
        if args.tests:
            sets = test_sets()
            fitted = sorted(set(data["case_id"][data["split"] == FIT]))
            print("\n2. non-fresh SM-restricted test sets, rows the fit left out: MAPE % "
                  "(weights 0 / 0, then as committed)")
            cols = {}
            for kinds, label in ((("gemm", "linear"), "gemm + linear"),
                                 (("grouped_gemm",), "grouped_gemm")):
                for w in ((0.0, 0.0), keep):
                    set_weights(profile, *w)
                    cols[f"{label} {w[0]:g} / {w[1]:g}"] = test_mape(profile, sets, fitted,
                                                                     kinds)
            labels = [s[0] for s in sets] + ["all"]
            print(format_table(["set"] + list(cols),
                               [[lab] + [f"{v[i]:.1f}" for v in cols.values()]
                                for i, lab in enumerate(labels)
                                if any(np.isfinite(v[i]) for v in cols.values())]))
        if args.residual:
            keep_r = features.RESIDUAL_BLOCKS_WEIGHT
            h100 = fit_inputs("h100-sxm")
            profiles = {"h200": profile,
                        "h100-sxm": device_profile("h100-sxm", h100.measurements.select(
                            h100.measurements.stable))}
            print("\n4. leave-one-out over the fit rows' residuals: MAPE % (H200 / H100 SXM)")
            try:
                for kinds, weights in RESIDUAL_WEIGHTS.items():
                    rows = []
                    for w in weights:
                        features.RESIDUAL_BLOCKS_WEIGHT = {**keep_r, **{k: w for k in kinds}}
                        errs = [residual_loo(p, kinds) for p in profiles.values()]
                        mark = "*" if w == keep_r[kinds[0]] else ""
                        rows.append([f"{w:g}{mark}"] + [f"{errs[0][f]:.2f} / {errs[1][f]:.2f}"
                                                        for f in errs[0]])
                    print(format_table(["blocks w"] + list(errs[0]), rows))
            finally:
                features.RESIDUAL_BLOCKS_WEIGHT = keep_r
    finally:
        set_weights(profile, *keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
