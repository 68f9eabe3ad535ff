"""The figures of calibration/h200/conv-kernels/README.md, from its files (issue 11).

    python benchmarks/summarize_conv_kernels.py [calibration/h200/conv-kernels/fit]

Prints, for the conv2d rows benchmarks/profile_conv.py profiled: how the harness's new timing of
each contiguous case compares with the calibration's committed one (repeatability), which kernel
family does each case's main work and which others run beside it (contiguous), and the
channels_last / contiguous time ratio.
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
    return 0


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
