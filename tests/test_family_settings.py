"""Per-family settings of the residual's interpolation (roofsim.calibration.profile.
FAMILY_SETTINGS): they name real families and settings, and the shipped profiles use them."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from roofsim.calibration import load_profile
from roofsim.calibration.interpolate import LocalLinearSettings
from roofsim.calibration.profile import FAMILY_SETTINGS, group_features
from roofsim.data import data_dir


def test_every_family_setting_is_a_setting_of_a_shipped_family():
    profile = load_profile(data_dir("calibration") / "h200")
    families = {g.family for g in profile.groups.values()}
    names = {f.name for f in fields(LocalLinearSettings)}
    for family, changes in FAMILY_SETTINGS.items():
        assert family in families, family
        assert changes and set(changes) <= names, changes
        s = profile.residual_settings(family)
        assert all(getattr(s, k) == v for k, v in changes.items())
    assert profile.residual_settings("gemm") == profile.settings


def test_the_median_families_predict_a_neighbours_residual():
    """With the median estimator a residual is one of its neighbours' (no value between a fast
    and a slow kernel choice that no neighbour took)."""
    profile = load_profile(data_dir("calibration") / "h200")
    medians = [f for f, c in FAMILY_SETTINGS.items() if c.get("estimator") == "median"]
    assert medians
    for g in profile.groups.values():
        if g.family not in medians:
            continue
        interp = profile._interpolator(g)
        x = group_features(g.kind, g.params, g.dtype, profile.sm_count)[:50] + 0.01
        pred, _ = interp.predict(x)
        assert np.all(np.isin(np.round(pred, 12), np.round(g.residual, 12)))
