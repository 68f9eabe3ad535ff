"""A profile.json that would calibrate nothing, or part of nothing, without a word is one line
naming the field: no groups, a group of a dtype no record has, a second group of the same kind,
layout and dtype, a kind parameter the model does not know."""

from __future__ import annotations

import copy
import gzip
import json

import pytest

from roofsim.calibration.profile import profile_from_dict
from roofsim.data import data_dir
from roofsim.errors import UserError


@pytest.fixture(scope="module")
def doc():
    with gzip.open(data_dir("calibration") / "h100-sxm" / "profile.json.gz", "rt") as f:
        return json.load(f)


def _edited(doc, edit):
    d = copy.deepcopy(doc)
    edit(d)
    return d


def test_the_shipped_profile_reads(doc):
    assert len(profile_from_dict(doc, "p.json").groups) == len(doc["groups"])


@pytest.mark.parametrize("edit,fragment", [
    (lambda d: d.update(groups=[]), "p.json.groups: empty"),
    (lambda d: d["groups"][0].update(dtype="int4"), "groups[0].dtype = 'int4'"),
    (lambda d: d["groups"].append(copy.deepcopy(d["groups"][0])), "a second"),
    (lambda d: d["groups"][1]["kind_params"].update(eta_magic=0.5),
     "groups[1].kind_params.eta_magic: not a kind parameter"),
    # session 45's CLI sweep: the spec's SM count moved under the device's (predictions 2-7x
    # off without a word), and a fractional neighbour count cut to a whole one
    (lambda d: d["hardware"].update(sm_count=8), "p.json.device.sm_count = 132"),
    (lambda d: d["device"].update(sm_count="x"), "p.json.device.sm_count = 'x'"),
    (lambda d: d["device"].update(sm_count=0), "expected the SM count"),
    (lambda d: d["model"].update(neighbours=2.5), "p.json.model.neighbours = 2.5"),
])
def test_a_profile_that_would_calibrate_nothing_silently_is_refused(doc, edit, fragment):
    with pytest.raises(UserError) as exc:
        profile_from_dict(_edited(doc, edit), "p.json")
    assert fragment in str(exc.value)
