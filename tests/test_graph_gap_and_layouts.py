"""The CUDA-graph node gap (roofsim.calibration.gap, engine) and the layout groups of a profile
(a group per TensorIterator kernel of a layout kind)."""

import csv
from dataclasses import replace

import numpy as np
import pytest

from roofsim.calibration import load_profile
from roofsim.calibration.gap import MIN_GAP_CASES, graph_gap_s
from roofsim.calibration.profile import profile_from_dict
from roofsim.engine import simulate
from roofsim.errors import UserError
from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params
from roofsim.kernels._common import kernel_layout
from roofsim.perfmodel import MIN_WARM_SHARE, warm_steps

from pathlib import Path

CAL = Path(__file__).resolve().parents[1] / "calibration"


def _gap_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["status", "gap_s", "kernel_s", "kernels_per_launch"])
        w.writeheader()
        w.writerows(rows)


def test_the_gap_is_the_median_of_short_single_kernel_cases(tmp_path):
    rows = [{"status": "ok", "gap_s": 3e-7 + 1e-9 * i, "kernel_s": 5e-6, "kernels_per_launch": 1}
            for i in range(MIN_GAP_CASES + 1)]
    rows += [{"status": "ok", "gap_s": -2e-4, "kernel_s": 5e-3, "kernels_per_launch": 1},  # noise
             {"status": "ok", "gap_s": 6e-7, "kernel_s": 5e-6, "kernels_per_launch": 2},
             {"status": "error", "gap_s": "", "kernel_s": "", "kernels_per_launch": ""}]
    _gap_csv(tmp_path / "g.csv", rows)
    assert graph_gap_s(tmp_path / "g.csv") == pytest.approx(3e-7 + 1e-9 * (MIN_GAP_CASES // 2))


@pytest.mark.parametrize("bad", [
    [{"status": "ok", "gap_s": 3e-7, "kernel_s": 5e-6, "kernels_per_launch": 1}] * 3,
    [{"status": "ok", "gap_s": "nan", "kernel_s": 5e-6, "kernels_per_launch": 1}] * 30,
    [{"status": "ok", "gap_s": "x", "kernel_s": 5e-6, "kernels_per_launch": 1}] * 30,
    [{"status": "ok", "gap_s": 9e-6, "kernel_s": 5e-6, "kernels_per_launch": 1}] * 30,
    # an edited status word, or a launch of no (or part of a) kernel, among good rows
    [{"status": "ok", "gap_s": 3e-7, "kernel_s": 5e-6, "kernels_per_launch": 1}] * 30 +
    [{"status": "OK", "gap_s": 3e-7, "kernel_s": 5e-6, "kernels_per_launch": 1}],
    [{"status": "ok", "gap_s": 3e-7, "kernel_s": 5e-6, "kernels_per_launch": 1}] * 30 +
    [{"status": "ok", "gap_s": 3e-7, "kernel_s": 5e-6, "kernels_per_launch": 0}],
    [{"status": "ok", "gap_s": 3e-7, "kernel_s": 5e-6, "kernels_per_launch": 1}] * 30 +
    [{"status": "ok", "gap_s": 3e-7, "kernel_s": 5e-6, "kernels_per_launch": 1.5}],
])
def test_bad_gap_data_is_one_line(tmp_path, bad):
    _gap_csv(tmp_path / "g.csv", bad)
    with pytest.raises(UserError) as err:
        graph_gap_s(tmp_path / "g.csv")
    assert "g.csv" in str(err.value) and "\n" not in str(err.value)


def test_the_committed_h200_profile_carries_the_measured_gap():
    p = load_profile(CAL / "h200")
    assert p.graph_gap_s == pytest.approx(graph_gap_s(CAL / "h200" / "gap" / "graph-gap-sm0.csv"))
    assert 0.1e-6 < p.graph_gap_s < 1e-6


def test_kernel_time_is_the_launch_less_the_gap_and_wall_adds_it_back():
    p = load_profile(CAL / "h200")
    hw = load_hardware("h200")
    table = records_from_params("elementwise", {"numel": [1, 4096, 10 ** 8]}, "bfloat16")
    t = simulate(table, hw, p, l2_warm=False)
    launch = p.predict_launch_s(table, hw)
    np.testing.assert_allclose(t.issued_s, np.maximum(launch, hw.launch_overhead_s()))
    np.testing.assert_allclose(t.issued_s - t.launch_time_s, p.graph_gap_s)


def test_layouts_name_the_tensoriterator_kernel():
    got = kernel_layout(["copy", "copy", "copy", "conv2d", "elementwise"], [np.nan, 1, 2, 2, 0])
    assert list(got) == ["", "strided", "transposed", "", ""]


def test_a_profile_fits_a_group_per_layout_and_strided_records_use_theirs():
    p = load_profile(CAL / "h200")
    assert {("elementwise", "bfloat16"), ("elementwise:strided", "bfloat16"),
            ("elementwise:transposed", "bfloat16")} <= set(p.groups)
    g = p.group_for("elementwise", "float16", "strided")
    assert g.layout == "strided"                     # the sibling dtype's strided group
    hw = load_hardware("h200")
    flat = records_from_params("elementwise", {"numel": [10 ** 8]}, "bfloat16")
    strided = records_from_params("elementwise", {"numel": [10 ** 8], "stride": [1]}, "bfloat16")
    # the strided kernel is the slower one at equal bytes (index arithmetic per element)
    assert p.predict_launch_s(strided, hw)[0] > 1.3 * p.predict_launch_s(flat, hw)[0]


def test_a_profile_without_layout_groups_reads_and_uses_the_vectorized_group():
    doc = load_profile(CAL / "h200").to_dict()
    doc["groups"] = [g for g in doc["groups"] if "layout" not in g]
    old = profile_from_dict(doc)
    g = old.group_for("elementwise", "bfloat16", "strided")
    assert g is not None and g.layout == ""


def test_an_unknown_layout_is_one_line():
    doc = load_profile(CAL / "h200").to_dict()
    doc["groups"][0]["layout"] = "diagonal"
    with pytest.raises(UserError) as err:
        profile_from_dict(doc, "p.json")
    assert "layout" in str(err.value) and "\n" not in str(err.value)



def test_convolutions_are_grouped_by_window():
    got = kernel_layout(["conv2d"] * 4 + ["copy"], [1, 2, 16, 1, 1], [1, 1, 16, 3, 1])
    assert list(got) == ["pointwise", "pointwise", "patch", "", "strided"]
    p = load_profile(CAL / "h200")
    assert {("conv2d", "bfloat16"), ("conv2d:pointwise", "bfloat16"),
            ("conv2d:patch", "bfloat16")} <= set(p.groups)


def test_a_dtype_conversion_is_the_cast_kernel_and_a_row_gather_its_own():
    got = kernel_layout(["elementwise", "elementwise", "copy", "cat", "index", "index", "index"],
                        [0, 1, np.nan, 0, np.nan, np.nan, np.nan], None,
                        [1, 1, 1, 1, np.nan, np.nan, np.nan],
                        [np.nan] * 4 + [30, np.nan, 7], [np.nan] * 4 + [30 * 64, 100, 7])
    # cast whatever the stride; cat never converts; rows < numel gathers whole rows
    assert list(got) == ["cast", "cast", "cast", "", "rows", "", ""]
    assert list(kernel_layout(["reduction", "reduction"], [1, np.nan])) == ["outer", ""]


def test_cast_and_row_gather_records_use_their_groups_or_a_stated_fallback():
    p = load_profile(CAL / "h200")
    hw = load_hardware("h200")
    assert {("elementwise:cast", "float32"), ("copy:cast", "float32"), ("copy:cast", "bfloat16"),
            ("index:rows", "bfloat16"), ("index:rows", "float32")} <= set(p.groups)
    n = 34659840
    cast = records_from_params("elementwise", {"numel": [n], "stride": [1], "cast": [1]},
                               "float32")
    plain = records_from_params("elementwise", {"numel": [n], "stride": [1]}, "float32")
    # the dynamic-casting kernel converts each element through a switch: slower per byte
    assert p.predict_launch_s(cast, hw)[0] / cast.bytes_read[0] > \
        p.predict_launch_s(plain, hw)[0] / plain.bytes_read[0]
    # a profile without the cast group times it with its stride's group; without a row-gather
    # group, a row gather is the roofline's (no profile group: NaN), never the scalar gather's
    doc = p.to_dict()
    doc["groups"] = [g for g in doc["groups"] if g.get("layout") not in ("cast", "rows")]
    old = profile_from_dict(doc)
    assert old.group_for("elementwise", "float32", "cast", "strided").layout == "strided"
    assert old.group_for("index", "bfloat16", "rows") is None
    rows = records_from_params("index", {"numel": [n], "rows": [27078]}, "bfloat16")
    assert np.isnan(old.predict_launch_s(rows, hw)[0])
    assert np.isfinite(p.predict_launch_s(rows, hw)[0])


@pytest.mark.parametrize("kind,params,dtype,word", [
    ("elementwise", {"numel": [10], "cast": [2]}, "float32", "cast"),
    ("copy", {"numel": [10], "cast": [0.5]}, "bfloat16", "cast"),
    ("copy", {"numel": [10], "cast": [1]}, "float8_e4m3fn", "float8_e4m3fn"),   # no partner
])
def test_a_bad_cast_flag_is_one_line(kind, params, dtype, word):
    with pytest.raises(UserError) as err:
        records_from_params(kind, params, dtype)
    assert word in str(err.value) and "\n" not in str(err.value)


def test_cast_records_read_the_partner_dtype():
    copy = records_from_params("copy", {"numel": [1000], "cast": [1]}, "float32")
    assert (copy.bytes_read[0], copy.bytes_written[0]) == (2000, 4000)      # bf16 in, fp32 out
    back = records_from_params("copy", {"numel": [1000], "cast": [1]}, "bfloat16")
    assert (back.bytes_read[0], back.bytes_written[0]) == (4000, 2000)
    dense = records_from_params("elementwise", {"numel": [1024], "cast": [1]}, "float32")
    assert dense.bytes_read[0] == 1024 * (2 + 4)
    # the row broadcast of the runner: a bf16 [rows, cols] and an fp32 [rows, 1] column
    from roofsim.kernels.elementwise import strided_shape
    bcast = records_from_params("elementwise", {"numel": [1 << 20], "stride": [1], "cast": [1]},
                                "float32")
    rows, _ = strided_shape(1 << 20)
    assert bcast.bytes_read[0] == (1 << 20) * 2 + rows * 4


def test_the_cast_and_row_gather_runners_run_what_they_name():
    torch = pytest.importorskip("torch")
    from roofsim.kernels.elementwise import elementwise_runner
    from roofsim.kernels.memory import copy_runner, index_runner
    fn, make = elementwise_runner({"numel": 4096, "stride": 1, "cast": 1}, "float32", "cpu")
    a, b = make()
    assert (a.dtype, b.dtype, fn(a, b).dtype) == (torch.bfloat16, torch.float32, torch.float32)
    assert b.shape[1] == 1 and fn(a, b).numel() == 4096
    fn, make = copy_runner({"numel": 100, "cast": 1}, "bfloat16", "cpu")
    x, = make()
    assert (x.dtype, fn(x).dtype) == (torch.float32, torch.bfloat16)
    fn, make = index_runner({"numel": 30 * 64, "rows": 30}, "bfloat16", "cpu")
    assert tuple(fn(*make()).shape) == (30, 64)
    with pytest.raises(UserError):
        elementwise_runner({"numel": 4096, "cast": 1}, "bfloat16", "cpu")   # bf16 x fp32 is fp32
    with pytest.raises(UserError):
        index_runner({"numel": 100, "rows": 30}, "bfloat16", "cpu")          # not whole rows


def test_a_conv_layout_on_another_kind_is_one_line():
    doc = load_profile(CAL / "h200").to_dict()
    g = next(g for g in doc["groups"] if g["kind"] == "elementwise")
    g["layout"] = "patch"
    with pytest.raises(UserError) as err:
        profile_from_dict(doc, "p.json")
    assert "layout" in str(err.value) and "conv2d" in str(err.value)
    assert "\n" not in str(err.value)

# ---- warm L2 (roofsim.calibration.warm) -------------------------------------------------------

def test_warm_savings_are_medians_of_short_cases_per_group(tmp_path):
    from roofsim.calibration.warm import warm_savings_s
    path = tmp_path / "w.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["kind", "layout", "status", "cold_s", "warm_s"])
        w.writeheader()
        w.writerows([{"kind": "copy", "layout": "strided", "status": "ok", "cold_s": c, "warm_s": h}
                     for c, h in ((3e-6, 2e-6), (4e-6, 2.6e-6), (3e-3, 3.1e-3))])
        w.writerow({"kind": "gelu", "layout": "", "status": "ok", "cold_s": 2e-6, "warm_s": 1e-6})
    got = warm_savings_s(path)
    assert got == {("copy", "strided"): pytest.approx(1.2e-6)}   # long case and lone group out


def test_bad_warm_data_is_one_line(tmp_path):
    from roofsim.calibration.warm import warm_savings_s
    path = tmp_path / "w.csv"
    path.write_text("kind,layout,status,cold_s,warm_s\ncopy,,ok,x,1e-6\n")
    with pytest.raises(UserError) as err:
        warm_savings_s(path)
    assert "w.csv" in str(err.value) and "\n" not in str(err.value)


def test_an_l2_resident_record_saves_its_groups_trips_at_the_targets_latencies():
    p = load_profile(CAL / "h200")
    hw = load_hardware("h200")
    small = records_from_params("elementwise", {"numel": [4096], "stride": [1], "dims": [3]},
                                "bfloat16")
    cold = p.predict_launch_s(small, hw)[0]
    warm = p.predict_launch_s(small, hw, resident=np.array([True]))[0]
    g = p.group_for("elementwise", "bfloat16", "strided")
    assert g.warm_trips > 0
    # the trips' saving, and the physics' own (its memory roof through the L2, memory_roof_s),
    # which a 4096-element launch hardly has: within a thousandth
    trips = g.warm_trips * (hw.mem_latency_s - hw.l2_latency_s)
    assert trips * (1 - 1e-9) <= cold - warm == pytest.approx(trips, rel=1e-3)
    # the engine finds it resident (no weights, small); a linear reading weights is not
    from roofsim.perfmodel import l2_resident
    lin = records_from_params("linear", {"m": [1], "n": [4096], "k": [4096]}, "bfloat16")
    assert l2_resident(small, hw)[0] and not l2_resident(lin, hw)[0]


def test_warm_savings_are_per_dependent_step_with_the_probes_spec(tmp_path):
    """A reduction's chain runs at the latency of where its input lies: with the probe's spec,
    each case's saving is divided by its loop iterations (perfmodel.warm_steps), so cases of
    2 and 18 iterations that saved 0.3 us per iteration give 0.3 us per step; without a spec
    (or a case id) each case is one step."""
    from roofsim.calibration.warm import warm_savings_s
    from roofsim.perfmodel import warm_steps
    hw = load_hardware("h200")
    ids = ["reduction|bfloat16|rows=2,cols=1792", "reduction|bfloat16|rows=18,cols=4466"]
    steps = [float(warm_steps(records_from_params(
        "reduction", {"rows": [float(r)], "cols": [float(c)]}, "bfloat16"), hw)[0])
        for r, c in ((2, 1792), (18, 4466))]
    assert steps == [2.0, 18.0]
    path = tmp_path / "w.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["case_id", "kind", "layout", "status", "cold_s",
                                          "warm_s"])
        w.writeheader()
        for cid, n in zip(ids, steps):
            w.writerow({"case_id": cid, "kind": "reduction", "layout": "", "status": "ok",
                        "cold_s": 2e-6 + n * 0.6e-6, "warm_s": 2e-6 + n * 0.3e-6})
    assert warm_savings_s(path, hw)[("reduction", "")] == pytest.approx(0.3e-6)
    assert warm_savings_s(path)[("reduction", "")] == pytest.approx((0.6e-6 + 5.4e-6) / 2)


def test_an_l2_resident_reduction_saves_its_trips_once_per_iteration():
    p = load_profile(CAL / "h200")
    hw = load_hardware("h200")
    g = p.group_for("reduction", "bfloat16", "")
    assert g.warm_trips > 0
    long_rows = records_from_params("reduction", {"rows": [18.0], "cols": [4466.0]}, "bfloat16")
    cold = p.predict_launch_s(long_rows, hw)[0]
    warm = p.predict_launch_s(long_rows, hw, resident=np.array([True]))[0]
    assert warm_steps(long_rows, hw)[0] == 18          # one step per iteration over the rows
    # the same profile without the group's trips: the L2's faster memory roof alone
    key = next(k for k, v in p.groups.items() if v is g)
    no_trips = replace(p, groups={**p.groups, key: replace(g, warm_trips=0.0)})
    roof_only = no_trips.predict_launch_s(long_rows, hw, resident=np.array([True]))[0]
    assert roof_only <= cold
    # the trips saved per step, never below MIN_WARM_SHARE of the launch
    full = 18 * g.warm_trips * (hw.mem_latency_s - hw.l2_latency_s)
    assert warm == pytest.approx(max(roof_only - full, MIN_WARM_SHARE * roof_only))
    assert warm < roof_only


def test_the_warm_probes_trips_are_what_the_physics_leaves(tmp_path):
    """A warm probe case's saving is charged to its group's round trips only past what the
    profile's physics already takes off an L2-resident input (the L2's bandwidth and loaded
    latency: a warp softmax's chain); counting it twice made such rows too fast. So the trips
    are median(cold x kept - warm) / (DRAM - L2 latency), kept < 1 where the physics saves."""
    from roofsim.calibration.fit import DeviceProbes, physics_kept
    hw = load_hardware("h200")
    p = load_profile(CAL / "h200")
    ids = ["softmax|bfloat16|rows=117,cols=1024", "softmax|bfloat16|rows=902,cols=832"]
    kept = physics_kept(p, ids + ["not a case id"], hw)
    assert set(kept) == set(ids) and all(0.0 < kept[i] < 0.95 for i in ids)
    path = tmp_path / "warm-l2.csv"
    cold, warm = (6.4e-6, 5.8e-6), (4.0e-6, 4.2e-6)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["case_id", "kind", "layout", "status", "cold_s",
                                          "warm_s"])
        w.writeheader()
        for cid, c, h in zip(ids, cold, warm):
            w.writerow({"case_id": cid, "kind": "softmax", "layout": "", "status": "ok",
                        "cold_s": c, "warm_s": h})
    probes = DeviceProbes.read(None, path, hw)
    net = [c * kept[i] - h for i, c, h in zip(ids, cold, warm)]
    assert all(0.0 < s < c - h for s, c, h in zip(net, cold, warm))
    assert probes.warm_savings_s(p)[("softmax", "")] == pytest.approx(np.median(net))
    assert probes.warm_savings_s()[("softmax", "")] == pytest.approx(
        np.median([c - h for c, h in zip(cold, warm)]))
    g = probes.apply(p).group_for("softmax", "bfloat16", "")
    assert g.warm_trips == pytest.approx(np.median(net) / (hw.mem_latency_s - hw.l2_latency_s))
