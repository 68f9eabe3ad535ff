"""Legal but extreme input still answers, and answers right: the largest sizes the limits allow
(roofsim.cli.limits), one past them refused, and the numbers checked against the API."""

from __future__ import annotations

import json

import pytest

from roofsim.cli import main
from roofsim.cli.limits import footprint, largest_shipped_memory, max_crops_in_positions
from roofsim.hardware import load_hardware
from roofsim.workloads import deepseek_ocr as ds

CFG = ds.load_config()
TOP = CFG.decoder.max_positions


def run_json(capsys, *argv):
    rc = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_decode_to_the_last_position_is_answered_exactly(capsys):
    d = run_json(capsys, "cost", "--grid", "2x3", "--prompt-tokens", "0", "--decode-tokens",
                 str(TOP), "--layers", "none")
    want = ds.stage_costs(CFG, ds.Request(grid=(2, 3), prompt_tokens=0, decode_tokens=TOP))
    assert d["stages"]["decode"]["flops"] == pytest.approx(want["decode"].flops)
    assert d["stages"]["decode"]["kv_cache_bytes"] == (893 + TOP) * \
        ds.kv_cache_bytes_per_token(CFG)
    assert main(["cost", "--prompt-tokens", "1", "--decode-tokens", str(TOP)]) == 2


def test_predict_at_the_last_position(capsys):
    d = run_json(capsys, "predict", "--implementation", "flash", "--prompt-tokens", "0",
                 "--decode-tokens", str(TOP), "--hardware", "h100-sxm")
    assert d["decode_tokens"] == TOP and 0 < d["tpot_s"] < 1


def _largest_batch(memory: float, grid) -> int:
    """The largest batch whose weights + KV cache fit `memory` (bisection on the footprint)."""
    lo, hi = 1, 1 << 40
    while hi - lo > 1:
        mid = (lo + hi) // 2
        fits = footprint(CFG, ds.Request(grid=grid, prompt_tokens=16, decode_tokens=100,
                                         batch=mid)).total <= memory
        lo, hi = (mid, hi) if fits else (lo, mid)
    return lo


def test_the_largest_batch_that_fits_is_answered_and_one_more_is_refused(capsys):
    batch = _largest_batch(largest_shipped_memory().bytes, (2, 3))
    assert batch > 64
    d = run_json(capsys, "cost", "--batch", str(batch), "--layers", "none")
    one = ds.stage_costs(CFG, ds.Request(grid=(2, 3), prompt_tokens=16, decode_tokens=100))
    assert d["stages"]["decode"]["kv_cache_bytes"] == pytest.approx(
        batch * one["decode"].kv_cache_bytes)
    assert main(["cost", "--batch", str(batch + 1)]) == 2
    assert "--batch" in capsys.readouterr().err


def test_the_largest_grid_on_a_gpu_is_predicted_and_a_larger_one_refused(capsys):
    """Weights + KV cache + the analytic activation peak (roofsim.memory.MemoryFit)."""
    from roofsim.memory import memory_fit
    from roofsim.predict import request_for
    from roofsim.workloads import workload
    hw, wl = load_hardware("rtx-4090"), workload(None, "flash")

    def fits(s):
        peak = wl.activation_peak_bytes(request_for(wl, (s, s), 16, 100))
        request = ds.Request(grid=(s, s), prompt_tokens=16, decode_tokens=100)
        return memory_fit(CFG, request, peak, hw.mem_capacity_bytes).overflow() is None

    side = 1
    while fits(side + 1):
        side += 1
    assert side >= 8
    d = run_json(capsys, "predict", "--implementation", "flash", "--hardware", "rtx-4090",
                 "--grid", f"{side}x{side}")
    assert d["image_tokens"] == ds.image_tokens(CFG, "gundam", (side, side))
    assert main(["predict", "--implementation", "flash", "--hardware", "rtx-4090",
                 "--grid", f"{side + 1}x{side + 1}"]) == 2


def test_the_most_crops_the_positions_hold(capsys):
    top = max_crops_in_positions(CFG)
    assert ds.image_tokens(CFG, "gundam", (1, top)) <= TOP < \
        ds.image_tokens(CFG, "gundam", (1, top + 1))
    d = run_json(capsys, "tokens", "--image", "64000x640", "--max-crops", str(top))
    assert d["num_crops"] <= top and d["image_tokens"] <= TOP
    assert d["grid"] == list(ds.choose_grid(64000, 640, CFG.views.min_crops, top))
    assert main(["tokens", "--image", "64000x640", "--max-crops", str(top + 1)]) == 2


def test_an_enormous_image_still_gets_a_grid_within_the_limits(capsys):
    d = run_json(capsys, "tokens", "--image", "99999999999x99999999999")
    assert d["grid"] == list(ds.choose_grid(99999999999, 99999999999))


def test_a_kernel_as_large_as_memory_is_predicted(tmp_path, capsys):
    hw = load_hardware("h100-sxm")
    numel = int(hw.mem_capacity_bytes // 2)             # bf16: the output fills the memory
    cases = tmp_path / "c.csv"
    cases.write_text(f"kind,numel\ncopy,{numel}\n")
    assert main(["predict-kernels", str(cases), "--hardware", "h100-sxm"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[1].split(",")
    assert row[-1] == "memory" and float(row[-2]) > 2 * numel * 2 / hw.mem_bandwidth_bytes_per_s
    cases.write_text(f"kind,numel\ncopy,{numel * 2}\n")
    assert main(["predict-kernels", str(cases), "--hardware", "h100-sxm"]) == 2


def test_huge_roofline_amounts_stay_finite(capsys):
    d = run_json(capsys, "roofline", "--flops", "1e300", "--bytes", "1e300")
    assert d["bound"] in ("tensor", "memory") and d["time_s"] > 1e280


def test_a_sweep_of_the_most_points_is_counted_not_built():
    from roofsim.errors import UserError
    from roofsim.sweep import MAX_SWEEP_POINTS, parse_vary
    assert len(parse_vary(f"batch=1:{MAX_SWEEP_POINTS}:1")[1]) == MAX_SWEEP_POINTS
    with pytest.raises(UserError, match="more than"):
        parse_vary(f"batch=1:{10**18}:1")


@pytest.mark.parametrize("sms", [None, "16"])
def test_a_zero_size_kernel_is_predicted_with_a_calibration(tmp_path, capsys, sms):
    """A conv2d of batch 0 with a calibration profile ended in scipy's 'x must be finite'
    traceback (session 45's CLI sweep): its residual coordinates held 0 / 0. It is answered,
    finite, and the measured neighbours' interpolation skips a row of non-finite coordinates
    (no measured point describes it: the physics alone)."""
    import numpy as np

    from roofsim.calibration.interpolate import LocalLinear
    cases = tmp_path / "c.csv"
    cases.write_text("kind,dtype,bias,batch,c_in,c_out,h,w,kernel,stride,padding\n"
                     "conv2d,bfloat16,1,0,3,8,32,32,3,1,0\n"
                     "conv2d,bfloat16,1,2,3,8,32,32,3,1,0\n")
    argv = ["predict-kernels", str(cases), "--calibration", "h200", "--hardware", "h200"]
    assert main(argv + (["--set", f"sm_count={sms}"] if sms else [])) == 0
    out, err = capsys.readouterr()
    times = [float(line.split(",")[-2]) for line in out.strip().splitlines()[1:]]
    assert len(times) == 2 and all(0 < t < 1e-3 for t in times) and "Warning" not in err
    ll = LocalLinear(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
                     np.array([0.0, 1.0, 2.0, 3.0]))
    pred, near = ll.predict(np.array([[0.5, 0.5], [np.nan, 0.0], [-np.inf, 1.0]]))
    assert np.isfinite(pred[0]) and np.isfinite(near[0])
    assert np.isnan(pred[1:]).all() and np.isinf(near[1:]).all()
