"""benchmarks/choose_session16.py compares the choices the model and the H200's profile hold:
the committed WAVE_KINDS is one of its candidates, and its chosen companions and --more sets are
the ones calibration/h200/profile.json records (a re-chosen constant or a refit with other
companions must be compared anew)."""

from pathlib import Path

from roofsim import perfmodel
from roofsim.io import read_json, stored_file
from benchmark_module import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


def _module():
    return load_benchmark("choose_session16")


def test_committed_wave_kinds_is_a_candidate():
    mod = _module()
    assert perfmodel.WAVE_KINDS in mod.WAVE_CANDIDATES.values()
    assert len(set(mod.WAVE_CANDIDATES.values())) == len(mod.WAVE_CANDIDATES)


def test_chosen_companions_and_sets_are_what_the_profile_records():
    mod = _module()
    meta = read_json(stored_file(ROOT / "calibration" / "h200" / "profile.json"))["meta"]
    recorded = meta["command"].split()
    companions = [recorded[i + 1] for i, a in enumerate(recorded) if a == "--companion"]
    more = [recorded[i + 1] for i, a in enumerate(recorded) if a == "--more"]
    chosen = mod.SESSION15_COMPANIONS + mod.COMPANION_CANDIDATES["+ 24, 32, 48"]
    assert companions[:len(chosen)] == [f"calibration/{c}" for c in chosen]
    assert more[:len(mod.SESSION16_MORE)] == [f"calibration/h200/{m}" for m in mod.SESSION16_MORE]
    # session 19 added restricted runs whose whole-chip run it joined too: a companion's row
    # informs the fit only where the whole chip's fit has its shape. Session 27's are runs of
    # calibration suites (kernels/narrow.yaml ...) the device's own measurements hold.
    from roofsim.calibration.measurements import read_measurements
    own_suites = set(read_measurements(ROOT / "calibration" / "h200" / "measurements.csv")["suite"])
    later = companions[len(chosen):]
    assert later
    for c in later:
        name = c.rsplit("/", 1)[-1]
        assert f"calibration/h200/{name}" in more[len(mod.SESSION16_MORE):] or \
            name in own_suites, c
