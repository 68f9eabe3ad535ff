"""What a block that exits at once costs an SM: roofsim.perfmodel.BLOCK_DISPATCH_CYCLES, from the
KV-cache appends of the committed end-to-end traces.

    python benchmarks/fit_block_dispatch.py [--kernel vectorized|generic] [--exclude SET ...]

Every two-input torch.cat of unequal bfloat16 inputs in calibration/h200*/e2e*/kernels.csv.gz
(a DynamicCache decode step appends [b, h, 1, d] to [b, h, L, d]; the traces record the inputs'
shapes) is one point: its measured kernel duration, the engine's prediction of the same cat as
if its inputs were equal (the H200 profile: calibration timed equal halves) on the SM count the
run was restricted to, and its idle blocks (roofsim.perfmodel.cat_empty_blocks). Each point
gives (measured - equal-input prediction) x SMs x SM clock / idle blocks; the constant is the
median over all points (robust: on many SMs the difference is a fraction of a microsecond and
noisy), printed beside each SM count's median and the least-squares slope through 0.
With --kernel generic, the same for roofsim.perfmodel.GENERIC_BLOCK_DISPATCH_CYCLES: every cat
the traces ran on ATen's generic kernel (CatArrayBatchedCopy, not _vectorized: a strided input,
as the rotary embedding's halves) with idle blocks (cat_empty_blocks of a strided cat), against
the engine's prediction of that strided cat without them.
Sets named by --exclude are left out (kept as a test); by default TEST_SETS, the sets kept out
of the fit (e2e-fresh7) or measured after it (e2e-fresh8 .. e2e-fresh14, e2e-fresh16 ..
e2e-fresh19).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofsim.calibration import load_profile  # noqa: E402
from roofsim.calibration.fit import sm_restriction_of  # noqa: E402
from roofsim.engine import simulate  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402
from roofsim.kernels import records_from_params  # noqa: E402
from roofsim.perfmodel import cat_empty_blocks  # noqa: E402

CAL = ROOT / "calibration"
TEST_SETS = ("e2e-fresh7", "e2e-fresh8", "e2e-fresh9", "e2e-fresh10", "e2e-fresh11",
             "e2e-fresh12", "e2e-fresh13", "e2e-fresh14", "e2e-fresh16", "e2e-fresh17",
             "e2e-fresh18", "e2e-fresh19", "e2e-fresh21",
             "e2e-fresh24", "e2e-fresh26")


GENERIC = "CatArrayBatchedCopy<"      # ATen's generic cat kernel, as a trace names it


def kv_appends(folder: Path, generic: bool = False) -> list[tuple[int, int, int, float]]:
    """(inputs, total elements, largest input's elements, duration) of every two-input cat of
    unequal inputs on the vectorized kernel; with `generic`, of every cat on the generic one
    (GENERIC), its inputs counted as the kernel's grid counts them (empty ones too)."""
    out = []
    with gzip.open(folder / "kernels.csv.gz", "rt", newline="") as f:
        for r in csv.DictReader(f):
            if r["op"] != "aten::cat" or r["category"] != "kernel" or \
                    (GENERIC in r["name"]) != generic:
                continue
            try:
                dims = json.loads(r["input_dims"])
            except json.JSONDecodeError:
                continue
            shapes = dims[0] if dims and isinstance(dims[0], list) and dims[0] and \
                isinstance(dims[0][0], list) else None
            if not shapes or (len(shapes) != 2 and not generic):
                continue
            sizes = [int(np.prod(s)) for s in shapes]
            if generic or (sizes[0] != sizes[1] and min(sizes) > 0):
                out.append((len(sizes), sum(sizes), max(sizes), float(r["duration_s"])))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", choices=("vectorized", "generic"), default="vectorized",
                    help="the cat kernel whose idle blocks to fit (default: vectorized)")
    ap.add_argument("--exclude", action="append", default=None,
                    help=f"a set name to leave out (default: {', '.join(TEST_SETS)})")
    args = ap.parse_args(argv)
    args.exclude = args.exclude if args.exclude is not None else list(TEST_SETS)
    profile = load_profile(CAL / "h200")
    whole = load_hardware("h200")
    xs, ys, per_sm = [], [], {}
    for folder in sorted(CAL.glob("h200*/e2e*")):
        if folder.name in args.exclude or not (folder / "kernels.csv.gz").is_file() \
                or not (folder / "e2e.csv").is_file() or "grid" not in \
                (folder / "e2e.csv").open().readline():
            continue
        generic = args.kernel == "generic"
        points = kv_appends(folder, generic)
        if not points:
            continue
        n = sm_restriction_of(folder)
        hw = derive_sm_restricted(whole, n) if n else whole
        inputs = np.array([p[0] for p in points], dtype=np.float64)
        numel = np.array([p[1] for p in points], dtype=np.float64)
        largest = np.array([p[2] for p in points], dtype=np.float64)
        measured = np.array([p[3] for p in points])
        strided = {"stride": np.full(len(numel), 1.0), "dims": np.full(len(numel), 2.0)} \
            if generic else {}
        equal = records_from_params("cat", {"numel": numel, **strided}, "bfloat16")
        base = simulate(equal, hw, profile).time_s
        idle = cat_empty_blocks(records_from_params(
            "cat", {"numel": numel, "inputs": inputs, "largest": largest, **strided},
            "bfloat16"), float(hw.grid_sms))
        keep = idle > 0
        idle, measured, base = idle[keep], measured[keep], base[keep]
        if not keep.any():
            continue
        x = idle / (np.minimum(hw.sm_count, np.maximum(idle, 1.0)) * hw.boost_clock_mhz * 1e6)
        xs.append(x)
        ys.append(measured - base)
        per_sm.setdefault(hw.sm_count, []).extend(((measured - base) / x).tolist())
    x, y = np.concatenate(xs), np.concatenate(ys)
    slope = float((x * y).sum() / (x * x).sum())
    what = "cats on the generic kernel" if args.kernel == "generic" else "KV appends"
    print(f"{len(x)} {what} in {len(xs)} sets (left out: {args.exclude or 'none'})")
    print(f"{'SMs':>4} {'points':>6} {'median cycles per idle block':>28}")
    for sms in sorted(per_sm):
        print(f"{sms:4d} {len(per_sm[sms]):6d} {statistics.median(per_sm[sms]):28.0f}")
    every = [v for vals in per_sm.values() for v in vals]
    print(f"least squares through 0: {slope:.0f}; median over the points: "
          f"{statistics.median(every):.0f} cycles per idle block ("
          f"{'GENERIC_' if args.kernel == 'generic' else ''}BLOCK_DISPATCH_CYCLES)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
