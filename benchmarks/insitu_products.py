"""The matrix products that ran inside the measured models, one by one (issue 11): every cuBLAS
nvjet kernel of an aten::mm, aten::addmm or aten::bmm that an end-to-end set recorded
(calibration/<device>[-sm<N>]/e2e*/**/kernels.csv.gz: the reference's vision, prefill and decode,
and the transformers models' runs), predicted from its input dims with each device's profile as
benchmarks/bench_transfer.py fits it, against the duration the profiler recorded.

    python benchmarks/insitu_products.py [--profile h200|h100-sxm]

These kernels are the stages' own, timed in the model (weights from DRAM, activations often
still in L2 from the kernel before), not the calibration harness's cold, isolated launches: a
kernel-level test set that no fit takes and no rule was chosen on. Per profile, device, SM band,
stage and the rows' m (a multiple of 8 or not): kernels, MAPE % and the median signed error
(predicted over measured - 1), each twice: predicted cold, as the harness timed it, and as the
stage predicts it, with the launches roofsim.perfmodel.l2_resident takes to read activations
from L2 (the 'resident' column counts them) timed warm. An aten::mm [m, k] x [k, n] is a linear
of m rows without bias, an aten::addmm [n] + [m, k] x [k, n] one with bias (its input dims list
the bias first), an aten::bmm [b, m, k] x [b, k, n] a gemm of batch b. Kernels of other
libraries (the CUTLASS 2.x fallbacks of misaligned operands) and other ops (grouped_mm,
convolutions) are left out; a split-K call's second kernel (cuBLAS's splitKreduce, right after it with the same op and dims)
is added to the first: the harness timed the call, and the model predicts both
(roofsim.perfmodel.split_reduce_kernels).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, DEVICES, device_profile, device_spec, folder_device  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.kernels import records_from_params  # noqa: E402
from roofsim.perfmodel import l2_resident  # noqa: E402

# SM bands as benchmarks/kernel_set_bands.py names them, contiguous (0: the whole chip)
BANDS = ((0, 0, "whole chip"), (1, 16, "8-16 SMs"), (17, 48, "24-48 SMs"),
         (49, 1 << 20, "56-128 SMs"))


def product_of(op: str, dims: list) -> tuple[str, dict] | None:
    """(kind, shape) of one recorded product call, None where the dims are not a plain one."""
    shapes = [d for d in dims if d]
    if op == "aten::mm" and len(shapes) == 2 and all(len(s) == 2 for s in shapes):
        (m, k), (_, n) = shapes
        return "linear", {"m": m, "n": n, "k": k, "bias": 0}
    if op == "aten::addmm" and len(shapes) == 3 and [len(s) for s in shapes] == [1, 2, 2]:
        _, (m, k), (_, n) = shapes
        return "linear", {"m": m, "n": n, "k": k, "bias": 1}
    if op == "aten::bmm" and len(shapes) == 2 and all(len(s) == 3 for s in shapes):
        (b, m, k), (_, _, n) = shapes
        return "gemm", {"batch": b, "m": m, "n": n, "k": k}
    return None


# cuBLAS's reduction of a split-K product's partial outputs, the call's second kernel
SPLIT_REDUCE = "splitKreduce"


def recorded_products(device: str) -> list[tuple[int, str, str, dict, float]]:
    """(SMs, stage, kind, shape, seconds) of every nvjet product call recorded in `device`'s
    end-to-end sets (the whole chip and its SM-restricted folders: products_in)."""
    out = []
    for top in sorted(CAL.glob(f"{device}*")):
        dev, sms = folder_device(top.name)
        if dev != device:
            continue
        for path in sorted(top.glob("e2e*/**/kernels.csv.gz")):
            with gzip.open(path, "rt", newline="") as f:
                out += products_in(csv.DictReader(f), sms)
    return out


def products_in(rows, sms: int) -> list[tuple[int, str, str, dict, float]]:
    """(SMs, stage, kind, shape, seconds) of the nvjet product calls among one recording's
    kernel rows, in order; a split-K call's reduction kernel (SPLIT_REDUCE, right after its
    product kernel with the same op and input dims) is added to the call's time."""
    out = []
    last = None                  # (op, input dims) of the product kernel just kept
    for r in rows:
        name, call = r.get("name", ""), (r.get("op", ""), r.get("input_dims"))
        if SPLIT_REDUCE in name and call == last:
            s, stage, kind, shape, t = out[-1]
            out[-1] = (s, stage, kind, shape, t + float(r["duration_s"]))
            last = None
            continue
        last = None
        if "nvjet" not in name:
            continue
        prod = product_of(call[0], json.loads(call[1] or "[]"))
        if prod is not None:
            out.append((sms, r["stage"], prod[0], prod[1], float(r["duration_s"])))
            last = call
    return out


def band_of(sms: int) -> str:
    return next(name for lo, hi, name in BANDS if lo <= sms <= hi)


def errors(profile, rows, device: str) -> dict[tuple, list]:
    """(log(cold predicted / measured), log(warm predicted / measured), resident) per kernel,
    keyed by (band, stage, kind, m aligned to 8), of `rows`: warm as the stage times it (the
    launches l2_resident takes read their activations from L2), cold as the harness."""
    by_sms: dict[tuple[int, str], list] = defaultdict(list)
    for sms, stage, kind, shape, t in rows:
        by_sms[(sms, kind)].append((stage, shape, t))
    out: dict[tuple, list] = defaultdict(list)
    for (sms, kind), items in sorted(by_sms.items()):
        cols = sorted({k for _, shape, _ in items for k in shape})
        params = {k: np.array([float(s.get(k, np.nan)) for _, s, _ in items]) for k in cols}
        table = records_from_params(kind, params, "bfloat16")
        spec = device_spec(device, sms)
        resident = l2_resident(table, spec)
        cold = profile.predict_launch_s(table, spec)
        warm = profile.predict_launch_s(table, spec, resident=resident)
        for (stage, shape, t), c, w, r in zip(items, cold, warm, resident):
            if np.isfinite(c) and c > 0 and np.isfinite(w) and w > 0:
                aligned = "m % 8 = 0" if int(shape["m"]) % 8 == 0 else "m % 8 != 0"
                out[(band_of(sms), stage, kind, aligned)].append(
                    (float(np.log(c / t)), float(np.log(w / t)), bool(r)))
    return out


def mape(log_ratios: np.ndarray) -> str:
    """Mean |predicted / measured - 1| of log ratios, in %."""
    return f"{100 * np.mean(np.abs(np.expm1(log_ratios))):.1f}"


def median(log_ratios: np.ndarray) -> str:
    """The median signed error (predicted / measured - 1) of log ratios, in %."""
    return f"{100 * np.expm1(np.median(log_ratios)):+.1f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=DEVICES, action="append",
                    help="the profile(s) that predict (default: both)")
    args = ap.parse_args(argv)
    order = {name: i for i, (_, _, name) in enumerate(BANDS)}
    rows_by_device = {d: recorded_products(d) for d in DEVICES}
    table = []
    for fd in args.profile or DEVICES:
        profile = device_profile(fd)
        for device in DEVICES:
            errs = errors(profile, rows_by_device[device], device)
            for key in sorted(errs, key=lambda k: (order[k[0]],) + k[1:]):
                cold, warm, resident = (np.array(v) for v in zip(*errs[key]))
                table.append([fd, device, *key, len(cold), int(resident.sum()),
                              *(f(e) for e in (cold, warm) for f in (mape, median))])
    print(format_table(["profile", "device", "band", "stage", "kind", "rows", "kernels",
                        "resident", "cold MAPE %", "cold median %", "warm MAPE %",
                        "warm median %"], table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
