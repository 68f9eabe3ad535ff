"""The figures of calibration/h200/conv-kernels/README.md, from its files (issue 11).

    python benchmarks/summarize_conv_kernels.py [calibration/h200/conv-kernels/fit]

Prints, for the conv2d rows benchmarks/profile_conv.py profiled: how the harness's new timing of
each contiguous case compares with the calibration's committed one (repeatability), which kernel
family does each case's main work and which others run beside it (contiguous), and the
channels_last / contiguous time ratio; then, from calibration/h200/launch-grids/h200-conv2d
(every conv2d row of calibration/h200, fit and held-out), what the kernels beside the
convolution take: per family, the calls, their median time, and for the passes over the input or
output a floor + bytes / bandwidth fit, against the one launch floor each the physics charges
(roofsim.perfmodel.conv_extra_kernels, conv_layout_bytes).
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from roofsim.calibration.measurements import read_measurements  # noqa: E402

# Kernel families by name (cuDNN / cuBLAS / PyTorch kernel names on Hopper, torch 2.11).
FAMILIES = (("nchwToNhwc", "input transform"), ("nhwcToNchw", "output transform"),
            ("tensorTransformGeneric", "weight transform"), ("Memset", "memset"),
            ("init_device_workspace", "workspace init"), ("nhwcAddPadding", "padding"),
            ("fprop_implicit_gemm", "sm90 xmma implicit GEMM"),
            ("cutlass__5x_cudnn", "CUTLASS sm80 implicit GEMM"),
            ("cutlass::Kernel2", "CUTLASS GEMM"), ("winograd", "Winograd"),
            ("implicit_convolve_sgemm", "legacy CUDA-core implicit GEMM"),
            ("precomputed_convolve_sgemm", "precomputed CUDA-core GEMM"),
            ("kern_precompute_indices", "index precompute"), ("nvjet", "cuBLAS GEMM"),
            ("xmma_gemm", "cuBLAS GEMM"),
            ("elementwise_kernel", "bias add"))
MAIN = {"sm90 xmma implicit GEMM", "CUTLASS sm80 implicit GEMM", "CUTLASS GEMM", "Winograd",
        "legacy CUDA-core implicit GEMM", "precomputed CUDA-core GEMM", "cuBLAS GEMM", "other"}


def family(name: str) -> str:
    return next((f for key, f in FAMILIES if key in name), "other")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", default=str(ROOT / "calibration/h200/conv-kernels/fit"))
    ap.add_argument("--measurements", default=str(ROOT / "calibration/h200/measurements.csv"))
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    with open(folder / "cases.csv", newline="") as f:
        cases = list(csv.DictReader(f))
    with gzip.open(folder / "kernels.csv.gz", "rt", newline="") as f:   # gzipped since session 12
        kernels = list(csv.DictReader(f))
    m = read_measurements(args.measurements)
    old = dict(zip(m["case_id"], m["kernel_s"]))
    time = {(c["case_id"], c["format"]): float(c["kernel_s"]) for c in cases}
    cont = [cid for cid, fmt in time if fmt == "contiguous" and cid in old]
    ratio = np.array([time[(cid, "contiguous")] / old[cid] for cid in cont])
    print(f"{len(cont)} contiguous cases: new / committed time median {np.median(ratio):.3f}, "
          f"median |deviation| {np.median(np.abs(ratio - 1)):.1%}")
    cl = np.array([time[(cid, "channels_last")] / time[(cid, "contiguous")] for cid in cont
                   if (cid, "channels_last") in time])
    print(f"channels_last / contiguous: median {np.median(cl):.2f}, 10th-90th percentile "
          f"{np.percentile(cl, 10):.2f}-{np.percentile(cl, 90):.2f}")
    per_case = collections.defaultdict(dict)
    for k in kernels:
        if k["format"] == "contiguous":
            fam = family(k["name"])
            t = float(k["calls"]) * float(k["duration_s"])
            per_case[k["case_id"]][fam] = per_case[k["case_id"]].get(fam, 0.0) + t
    main_of = collections.Counter(max((f for f in fams if f in MAIN), key=fams.get, default="none")
                                  for fams in per_case.values())
    beside = collections.Counter(f for fams in per_case.values() for f in fams if f not in MAIN)
    print("main kernel family (contiguous): " +
          ", ".join(f"{f} {n}" for f, n in main_of.most_common()))
    print("beside it, in how many cases: " +
          ", ".join(f"{f} {n}" for f, n in beside.most_common()))
    path_rule(per_case)
    side_kernels(ROOT / "calibration/h200/launch-grids/h200-conv2d/kernels.csv.gz",
                 args.measurements)
    return 0


def side_kernels(path: Path, measurements: str) -> None:
    """The kernels beside each conv2d call's convolution (see the module docstring)."""
    from roofsim.calibration.fit import measurement_table
    from roofsim.hardware import load_hardware
    from roofsim.perfmodel import _conv_sizes
    m = read_measurements(measurements)
    m = m.select(m["kind"] == "conv2d")
    table = measurement_table(m)
    inputs, outputs, elt = _conv_sizes(table)
    # the filter alone (table.weight_bytes adds the bias, which the transform does not move)
    weight = elt * table.param("c_in") * table.param("c_out") * table.param("kernel") ** 2
    row = {c: i for i, c in enumerate(m["case_id"])}
    per = collections.defaultdict(list)          # family -> [(row, seconds per call, calls)]
    with gzip.open(path, "rt", newline="") as f:
        for k in csv.DictReader(f):
            if k["case_id"] in row and family(k["name"]) not in MAIN:
                per[family(k["name"])].append((row[k["case_id"]], float(k["duration_s"]),
                                               float(k["calls"])))
    floor = load_hardware("h200").launch_overhead_s("cuda_graph")
    print(f"\nbeside the convolution ({path.parent.name}, {len(row)} conv2d rows; the physics "
          f"charges each such kernel a launch floor of {floor * 1e6:.2f} us, the passes their "
          f"bytes at the kind's eta_memory x HBM):")
    moved = {"input transform": 2 * elt * inputs, "output transform": 2 * elt * outputs,
             "bias add": 2 * elt * outputs, "weight transform": 2 * weight}
    for fam, ks in sorted(per.items(), key=lambda kv: -len(kv[1])):
        i = np.array([k[0] for k in ks])
        t = np.array([k[1] for k in ks])
        line = (f"  {fam:18} {len(ks):5d} rows, {np.median([k[2] for k in ks]):.0f} call(s) "
                f"each, median {np.median(t) * 1e6:6.2f} us, min {t.min() * 1e6:6.2f} us")
        one = np.array([k[2] for k in ks]) == 1    # a row of two calls: a mean over both
        if fam in moved and one.sum() > 2:
            i, t = i[one], t[one]
            b = moved[fam][i]
            # floor + bytes / bandwidth, least squares in relative error
            (a, inv), *_ = np.linalg.lstsq(np.stack([np.ones_like(b), b], 1) / t[:, None],
                                           np.ones_like(t), rcond=None)
            line += (f"; fit on its {one.sum()} one-call rows: {a * 1e6:.2f} us + bytes / "
                     f"{1 / inv / 1e12:.2f} TB/s")
        print(line)


def path_rule(per_case: dict) -> None:
    """How roofsim.perfmodel's conv2d path rule (conv_paths) matches the kernels each call ran:
    the share of calls whose layout transforms it names, and the share of a transforming call's
    time that its passes (transforms, weight transform, bias add, memsets) took."""
    from roofsim.perfmodel import conv_paths
    shapes = {cid: dict(kv.split("=") for kv in cid.split("|")[2].split(",")) for cid in per_case}
    ids = sorted(per_case)
    c_in, ker, stride = (np.array([float(shapes[c][k]) for c in ids])
                         for k in ("c_in", "kernel", "stride"))
    tc, _ = conv_paths(c_in, ker, stride)
    transformed = np.array(["input transform" in per_case[c] for c in ids])
    share = [1.0 - max(v for f, v in per_case[c].items() if f in MAIN) / sum(per_case[c].values())
             for c in ids if "input transform" in per_case[c]]
    print(f"path rule (perfmodel.conv_paths): names {np.mean(tc == transformed):.0%} of "
          f"{len(ids)} calls' transforms; the passes beside the main kernel took a median "
          f"{np.median(share):.0%} of a transforming call")


if __name__ == "__main__":
    raise SystemExit(main())
