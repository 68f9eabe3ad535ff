"""The host model (roofsim.host) and execution modes (roofsim.wall)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roofsim.cli import main
from roofsim.data import data_dir
from roofsim.errors import UserError
from roofsim.host import (DEFAULT_HOST, HOST_CLASSES, RANGES, HostModel, load_host_model,
                          resolve_host_model)
from roofsim.wall import eager_timeline
from benchmark_module import load_benchmark


def brute_force(t, h, sync, start, sync_s):
    """The one-stream recursion, one launch at a time."""
    host = gpu = start
    for ti, hi, si in zip(t, h, sync):
        host += hi
        gpu = max(gpu, host) + ti
        if si:
            host = max(host, gpu) + sync_s
    return max(host, gpu)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e-3), st.floats(0, 1e-4), st.booleans()),
                min_size=1, max_size=40),
       st.floats(0, 1e-2), st.floats(0, 1e-4))
def test_eager_timeline_is_the_launch_by_launch_recursion(launches, start, sync_s):
    t, h, s = (np.array(x) for x in zip(*launches))
    wall, busy = eager_timeline(t, h, s, start_s=start, sync_s=sync_s)
    assert wall == pytest.approx(brute_force(t, h, s, start, sync_s), rel=1e-9, abs=1e-15)
    assert busy == pytest.approx(t.sum())
    assert wall >= max(start + h.sum(), start + t.sum()) * (1 - 1e-12) - 1e-15


def test_host_and_gpu_bound_limits():
    rng = np.random.default_rng(0)
    t = rng.uniform(1e-6, 2e-6, 500)
    h = rng.uniform(10e-6, 30e-6, 500)
    none = np.zeros(500, bool)
    wall, _ = eager_timeline(t, h, none, start_s=1e-3)
    assert wall == pytest.approx(1e-3 + h.sum() + t[-1])         # host-bound: host + last kernel
    wall, _ = eager_timeline(t * 1e3, h, none)
    assert wall == pytest.approx(h[0] + (t * 1e3).sum())        # GPU-bound: first issue + work
    # a sync in a GPU-bound stream makes the host wait: later launches start later
    sync = none.copy()
    sync[250] = True
    assert eager_timeline(t * 1e3, h, sync)[0] > wall


def test_host_model_ranges_and_round_trip():
    d = DEFAULT_HOST.as_dict()
    assert HostModel.from_dict(d) == HostModel.from_dict(json.loads(json.dumps(d)))
    for key, (lo, hi) in RANGES.items():
        for bad in (hi * 1.01 + 1e-9, -1e-9, math.nan):
            kw = ({"dispatch_s": {**DEFAULT_HOST.dispatch_s, HOST_CLASSES[0]: bad}}
                  if key == "dispatch_s" else {key: bad})
            with pytest.raises(UserError, match=key):
                DEFAULT_HOST.with_values(**kw)


def test_shipped_host_model_says_what_fitted_it():
    host = load_host_model(data_dir("calibration") / "h200" / "host")
    assert host.device == "h200" and host.fitted_on
    assert all(f.startswith("calibration/h200/") for f in host.fitted_on)
    root = data_dir("calibration").parent
    for line in host.fitted_on:                  # every folder it names is committed
        folder = line.split()[0].split("/{")[0].rsplit("/e2e.csv", 1)[0].split("/*")[0]
        assert (root / folder).is_dir(), line
        assert list((root / folder).rglob("e2e.csv")), line
    assert host.provenance.get("command", "").startswith("python benchmarks/fit_host.py")
    # the CPU that measured the fit rows, as the fit set's provenance recorded it
    fit_prov = json.loads((root / host.fitted_on[0].split()[0]).parent.joinpath(
        "provenance.json").read_text())
    assert host.provenance["cpu"] == fit_prov["host_cpu"] and host.provenance["cpu"]["model"]
    found, source = resolve_host_model(None, "h200", "h200")
    # a shipped calibration named by --calibration is labelled as the hardware id's is, not by
    # where the package happens to be installed
    assert found == host and source == "calibration/h200/host/host.json"
    assert resolve_host_model(None, None, "h200")[1] == source
    assert resolve_host_model(None, data_dir("calibration") / "h200", "")[1] == source
    assert resolve_host_model(None, None, "no-such-device")[0] == DEFAULT_HOST


def test_shipped_host_model_holds_at_the_typical_process():
    """host.json's costs hold at the typical process's host probe: the median reading beside
    DeepSeek-OCR's decode step over the committed sets bar the held-out ones, not the faster
    processes of the fit rows (benchmarks/fit_host.py scales the fitted costs to it)."""
    fit_host = load_benchmark("fit_host")
    noise = load_benchmark("summarize_eager_noise")
    typical, readings = noise.typical_probe("h200", fit_host.SPREAD_HELD_OUT)
    assert readings >= 100
    host = load_host_model(data_dir("calibration") / "h200" / "host")
    assert host.probe_s == pytest.approx(typical, rel=1e-4)
    # the held-out sets are left out of it: counting them moves the median
    every, n = noise.typical_probe("h200")
    assert n > readings and every != pytest.approx(typical, rel=1e-4)


def _predict(capsys, *extra):
    rc = main(["predict", "--implementation", "flash", "--grid", "1x2", "--decode-tokens", "4",
               "--hardware", "h200", "--calibration", "h200", "--json", *extra])
    assert rc == 0
    return json.loads(capsys.readouterr().out)


def test_predict_wall_json(capsys, tmp_path):
    eager = _predict(capsys, "--wall", "eager")
    graph = _predict(capsys, "--wall", "graph")
    for d in (eager, graph):
        assert d["ttft_wall_s"] == pytest.approx(d["vision_wall_s"] + d["prefill_wall_s"])
    w = eager["wall"]
    for stage, v in w.items():
        # eager wall is at least each roof; a graph is the GPU roof plus its own launch cost
        assert v["eager_wall_s"] >= max(v["kernel_s"], v["host_s"]) * (1 - 1e-9)
        assert v["graph_wall_s"] >= v["kernel_s"]
        assert v["binds"] == ("host" if v["host_s"] > v["kernel_s"] else "gpu")
        # a graph's roofs: the launch on the host, kernels and in-graph gaps on the GPU
        if v["graph_captured"]:
            assert v["graph_host_s"] < v["host_s"] and v["graph_gpu_s"] >= v["graph_kernel_s"]
            assert v["graph_wall_s"] >= v["graph_gpu_s"]
            assert v["graph_wall_range_s"][1] == pytest.approx(v["graph_host_s"] +
                                                               v["graph_gpu_s"])
        assert v["graph_binds"] == ("host" if v["graph_host_s"] > v["graph_gpu_s"] else "gpu")
    assert graph["tpot_wall_s"] == pytest.approx(w["decode"]["graph_wall_s"])
    assert eager["tpot_wall_s"] == pytest.approx(w["decode"]["eager_wall_s"])
    assert graph["tpot_wall_s"] < eager["tpot_wall_s"]
    # a slower host (every dispatch x1.5) never shortens eager wall time, and leaves graphs
    host = load_host_model(data_dir("calibration") / "h200" / "host")
    slow = host.with_values(dispatch_s={c: 1.5 * v for c, v in host.dispatch_s.items()})
    (tmp_path / "host.json").write_text(json.dumps(slow.as_dict()))
    d = _predict(capsys, "--wall", "eager", "--host-model", str(tmp_path))
    for stage, v in d["wall"].items():
        assert v["eager_wall_s"] >= w[stage]["eager_wall_s"]
        assert v["graph_wall_s"] == pytest.approx(w[stage]["graph_wall_s"])
    assert d["tpot_wall_s"] > eager["tpot_wall_s"]


def test_predict_without_wall_has_no_wall_keys(capsys):
    assert "tpot_wall_s" not in _predict(capsys)


# ---- the host's speed spread: the eager wall's range ---------------------------------------

def _stage(host):
    from roofsim.predict import stage_records
    from roofsim.wall import stage_walls
    from roofsim.calibration import load_profile
    from roofsim.hardware import load_hardware
    recs = stage_records("flash", "1x2", 64, 2)
    return stage_walls(recs.parts, load_hardware("h200"),
                       load_profile(data_dir("calibration") / "h200"), host)


@settings(max_examples=12, deadline=None)
@given(st.floats(0.1, 1.0), st.floats(1.0, 10.0))
def test_eager_range_brackets_the_wall_and_is_the_timeline_at_the_spread(low, high):
    host = DEFAULT_HOST.with_values(speed_spread=(low, high))
    walls = _stage(host)
    fast = _stage(DEFAULT_HOST.with_values(
        dispatch_s={c: low * v for c, v in DEFAULT_HOST.dispatch_s.items()},
        forward_s=low * DEFAULT_HOST.forward_s, sync_s=low * DEFAULT_HOST.sync_s))
    for stage, w in walls.items():
        assert w.eager_low_s <= w.eager_s * (1 + 1e-12) and w.eager_s <= w.eager_high_s * (1 + 1e-12)
        # the fast end is the same timeline with every host cost scaled, nothing else
        assert w.eager_low_s == pytest.approx(fast[stage].eager_s, rel=1e-12)
        # the GPU roof bounds it below whatever the host does; a graph has no range
        assert w.eager_low_s >= w.kernel_s * (1 - 1e-9)
        assert w.wall_range_s("graph") == (w.graph_s, w.graph_s)


def test_no_spread_gives_a_point_and_a_wider_spread_a_wider_range():
    point = _stage(DEFAULT_HOST)
    narrow = _stage(DEFAULT_HOST.with_values(speed_spread=(0.9, 1.2)))
    wide = _stage(DEFAULT_HOST.with_values(speed_spread=(0.6, 1.8)))
    for stage, w in point.items():
        assert w.eager_low_s == w.eager_s == w.eager_high_s
        assert wide[stage].eager_low_s <= narrow[stage].eager_low_s
        assert wide[stage].eager_high_s >= narrow[stage].eager_high_s
    assert wide["decode"].eager_high_s > narrow["decode"].eager_high_s   # host-bound: it moves


@pytest.mark.parametrize("bad", [{"low": 1.2, "high": 1.5}, {"low": 0.5, "high": 0.9},
                                 {"low": 0.05, "high": 2}, {"low": 0.5, "high": 11},
                                 {"low": "x", "high": 2}, {"low": math.nan, "high": 2},
                                 {"low": True, "high": 2}, {"low": 0.5}, [0.5, 2], "wide"])
def test_bad_speed_spread_in_host_json_is_one_line(tmp_path, bad):
    d = DEFAULT_HOST.as_dict()
    d["speed_spread"] = bad
    (tmp_path / "host.json").write_text(json.dumps(d))
    with pytest.raises(UserError, match="speed_spread") as err:
        load_host_model(tmp_path)
    assert "\n" not in str(err.value) and "host.json" in str(err.value)


def test_predict_json_gives_each_eager_wall_its_range(capsys):
    eager = _predict(capsys, "--wall", "eager")
    host = load_host_model(data_dir("calibration") / "h200" / "host")
    assert host.speed_spread[0] < 1 < host.speed_spread[1]      # the shipped model measured one
    for key in ("vision", "prefill", "ttft", "tpot"):
        lo, hi = eager[f"{key}_wall_range_s"]
        assert lo <= eager[f"{key}_wall_s"] * (1 + 1e-12) and eager[f"{key}_wall_s"] <= hi * (1 + 1e-12)
    assert eager["tpot_wall_range_s"][1] > eager["tpot_wall_s"]      # decode is host-bound
    graph = _predict(capsys, "--wall", "graph")
    # a graph's range: its typical launch latency up to the GPU waiting for the whole launch
    lo, hi = graph["tpot_wall_range_s"]
    assert lo == graph["tpot_wall_s"] and hi > lo


def test_a_host_model_without_a_measured_spread_shows_no_range(capsys):
    rc = main(["predict", "--grid", "1x2", "--hardware", "h100-sxm", "--calibration",
               "h100-sxm", "--wall", "eager"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "default guess" in out and "eager range: n/a" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "eager range ms" in line) + 2
    rows = lines[start:lines.index("", start)]
    assert len(rows) == 3 and all(" n/a " in line for line in rows)


# ---- the host probe: the host's speed, read on the machine to predict ----------------------

def test_at_probe_rescales_every_host_cost_and_nothing_on_the_gpu():
    host = DEFAULT_HOST.with_values(probe_s=8e-6, graph_node_s=1e-6)
    slow = host.at_probe(12e-6)
    assert slow.probe_s == 12e-6
    for c in HOST_CLASSES:
        assert slow.dispatch_s[c] == pytest.approx(1.5 * host.dispatch_s[c])
    for name in ("forward_s", "sync_s", "graph_launch_s"):
        assert getattr(slow, name) == pytest.approx(1.5 * getattr(host, name))
    assert slow.graph_node_s == host.graph_node_s and slow.speed_spread == host.speed_spread
    assert host.at_probe(8e-6) == host
    with pytest.raises(UserError, match="no host probe"):
        DEFAULT_HOST.at_probe(8e-6)                     # the default records none
    for bad in (0.0, 1e-3, math.nan):
        with pytest.raises(UserError, match="host probe"):
            host.at_probe(bad)
    with pytest.raises(UserError, match="dispatch_s"):  # a cost pushed out of its range
        host.at_probe(190e-6)


@pytest.mark.parametrize("bad", ["-1", "1e9", "\"fast\"", "true"])
def test_bad_probe_in_host_json_is_one_line(tmp_path, bad):
    doc = DEFAULT_HOST.as_dict()
    (tmp_path / "host.json").write_text(json.dumps(doc)[:-1] + f', "probe_us": {bad}}}')
    with pytest.raises(UserError, match="probe") as err:
        load_host_model(tmp_path)
    assert "\n" not in str(err.value)


def test_shipped_host_model_records_the_probe_it_was_fitted_at():
    import csv
    host = load_host_model(data_dir("calibration") / "h200" / "host")
    readings = []
    src = data_dir("calibration") / "h200" / "e2e-host"
    grids = set(host.fitted_on[0].split("grids ")[1].split()[0].split(","))
    for path in [src / "e2e.csv"] + sorted(src.glob("process*/e2e.csv")):
        with open(path, newline="") as f:
            readings += [float(r["host_probe_s"]) for r in csv.DictReader(f)
                         if r["grid"] in grids and r.get("host_probe_s")]
    assert len(readings) >= 12
    # the eager costs were fitted at the fit rows' median probe, then scaled to the typical
    # process's (test_shipped_host_model_holds_at_the_typical_process)
    fitted_at = host.provenance["fit_probe_us"]["eager"] * 1e-6
    assert fitted_at == pytest.approx(float(np.median(readings)), rel=1e-4)
    assert host.probe_s > fitted_at


@settings(max_examples=6, deadline=None)
@given(st.floats(2.0, 20.0), st.floats(1.05, 2.0))
def test_a_slower_probe_never_shortens_eager_wall_and_a_host_bound_one_scales_with_it(us, k):
    host = load_host_model(data_dir("calibration") / "h200" / "host").with_values(
        speed_spread=(1.0, 1.0))
    a, b = _stage(host.at_probe(us * 1e-6)), _stage(host.at_probe(us * k * 1e-6))
    ha, hb = host.at_probe(us * 1e-6), host.at_probe(us * k * 1e-6)
    for stage in a:
        assert b[stage].eager_s >= a[stage].eager_s * (1 - 1e-12)
        # a graph's wall holds host time only in its launch latency
        assert b[stage].graph_s - a[stage].graph_s == pytest.approx(
            hb.graph_launch_s - ha.graph_launch_s, rel=1e-6)
        # the host's part scales by k, the GPU's does not: between 1x and kx
        assert b[stage].eager_s <= k * a[stage].eager_s * (1 + 1e-9)
        assert b[stage].host_s == pytest.approx(k * a[stage].host_s, rel=1e-9)


def test_predict_takes_a_host_probe(capsys):
    ref = _predict(capsys, "--wall", "eager")
    ref_us = load_host_model(data_dir("calibration") / "h200" / "host").probe_s * 1e6
    d = _predict(capsys, "--wall", "eager", "--host-probe-us", f"{2 * ref_us}")
    assert d["wall"]["decode"]["host_s"] == pytest.approx(2 * ref["wall"]["decode"]["host_s"])
    assert d["tpot_wall_s"] > 1.5 * ref["tpot_wall_s"]       # the decode step is host-bound
    assert "at host probe" in d["host_model"]["source"]
    assert main(["predict", "--grid", "1x2", "--host-probe-us", "9"]) == 2
    assert "--wall" in capsys.readouterr().err
    assert main(["predict", "--grid", "1x2", "--wall", "eager", "--host-probe-us", "1e4"]) == 2


def test_host_probe_command(capsys):
    pytest.importorskip("torch")
    assert main(["host-probe", "--device", "cpu", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert 0 < d["host_probe_us"] < 1e4 and d["device"] == "cpu"
    assert d["readings_us"] == [d["host_probe_us"]]
    assert main(["host-probe", "--device", "cpu", "--seconds", "0.3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["readings_us"]) >= 2
    assert min(d["readings_us"]) <= d["host_probe_us"] <= max(d["readings_us"])
    assert main(["host-probe", "--device", "cpu", "--seconds", "-1"]) == 2
    import torch
    if not torch.cuda.is_available():
        assert main(["host-probe"]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err


def test_fit_host_with_a_missing_source_folder_is_one_line():
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, str(root / "benchmarks" / "fit_host.py"), "--source",
                        "no-such-folder"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "no-such-folder" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@settings(max_examples=6, deadline=None)
@given(st.floats(0.0, 3.0), st.floats(1.1, 3.0))      # within graph_launch_node_s's 0 .. 10 us
def test_a_graph_range_starts_at_its_wall_and_widens_with_the_host_launch(us, k):
    host = load_host_model(data_dir("calibration") / "h200" / "host")
    a = _stage(host.with_values(graph_launch_node_s=us * 1e-6))
    b = _stage(host.with_values(graph_launch_node_s=us * k * 1e-6))
    for stage in a:
        if not a[stage].captured:
            continue
        lo, hi = a[stage].wall_range_s("graph")
        assert lo == a[stage].graph_s <= hi
        assert b[stage].graph_s == a[stage].graph_s     # the typical wall does not move
        assert b[stage].wall_range_s("graph")[1] >= hi * (1 - 1e-12)


def test_a_host_model_rejects_a_negative_graph_launch_per_node(tmp_path):
    doc = json.loads((data_dir("calibration") / "h200" / "host" / "host.json").read_text())
    doc["graph_launch_node_us"] = -0.4
    (tmp_path / "host.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match="graph_launch_node_s"):
        load_host_model(tmp_path)
