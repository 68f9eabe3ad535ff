"""The H200 profile's kernel test sets by SM band (issue 11): every row's and one kind's rows'
mean MAPE, averaged over the sets of each band: test and fresh sets apart, and every set.

    python benchmarks/kernel_set_bands.py [--kind grouped_gemm]
    python benchmarks/kernel_set_bands.py --stages calibration/transfer.json

With --stages: the H200 profile's stage rows of a bench_transfer JSON (--json; an older one from
`git show REV:calibration/transfer.json`), mean and worst |error| by band and stage.

    python benchmarks/kernel_set_bands.py --samples --fit h100-sxm --kind gelu

With --samples: a profile (--fit, as bench_transfer fits it from its own measurements alone) on
each SM-restricted H200 sample (bench_transfer.restricted_devices: calibration/h200-sm<N>/
measurements.csv, every stable row), every row's MAPE and --kind's, per SM count.

The sets, the rows scored (those whose shape the H200's fit left out) and the fresh labels are
benchmarks/bench_transfer.py's (KERNEL_TEST_SETS, kernel_mape, is_fresh); bands: the whole chip,
8-16, 24-48 and 56-128 SMs. It scores the checkout it sits in, so a change's before and after
are this script run in two checkouts (`git worktree add /tmp/before REV`, copy the script in).
calibration/README.md and roofsim.perfmodel's grouped-GEMM comment (session 31) quote it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import (CAL, DEVICES, FIT, KERNEL_TEST_SETS, base_device,  # noqa: E402
                            device_profile, device_spec, fit_inputs, folder_device, is_fresh,
                            kernel_mape, restricted_devices, stable)
from roofsim.calibration.fit import sm_restriction_of  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402

BANDS = ((0, 0, "whole chip"), (1, 16, "8-16 SMs"), (17, 48, "24-48 SMs"),
         (49, 131, "56-128 SMs"))


def band_of(sms: int) -> str:
    return next(name for lo, hi, name in BANDS if lo <= sms <= hi)


def stage_bands(path: Path) -> list[list]:
    """Mean and worst |error| of the H200 profile's stage rows of a bench_transfer JSON, by band
    (the SM count in the row's target, 'h200-smN ...'; none: the whole chip) and stage."""
    errors = defaultdict(list)
    for r in json.loads(Path(path).read_text())["stages"]:
        device, sms = folder_device(r["target"].split(" ")[0])
        if r["fit"] != "h200" or device != "h200":
            continue
        errors[(band_of(sms), r["stage"])].append(abs(r["error"]))
    order = {name: i for i, (_, _, name) in enumerate(BANDS)}
    return [[band, stage, len(e), round(100 * float(np.mean(e)), 2), round(100 * max(e), 1)]
            for (band, stage), e in sorted(errors.items(), key=lambda kv: (order[kv[0][0]],
                                                                            kv[0][1]))]


def sample_rows(profile, kind: str) -> list[list]:
    """Per SM-restricted H200 sample: its SM count, rows and MAPE, and `kind`'s."""
    out = []
    for folder, sms in restricted_devices():
        m = stable(folder / "measurements.csv")
        spec = device_spec("h200", sms)
        mape, _, n = kernel_mape(profile, m, spec)
        sel = m.select(m["kind"] == kind)
        k_mape, _, k_n = kernel_mape(profile, sel, spec) if len(sel["kind"]) else (np.nan, 0, 0)
        out.append([sms, n, round(100 * mape, 1), k_n, round(100 * k_mape, 1)])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", default="grouped_gemm", help="the kind scored apart")
    ap.add_argument("--stages", type=Path, help="a bench_transfer JSON: its stage rows instead")
    ap.add_argument("--samples", action="store_true",
                    help="the SM-restricted H200 samples per SM count instead")
    ap.add_argument("--fit", default="h200", choices=DEVICES,
                    help="with --samples: the device whose profile predicts them")
    args = ap.parse_args(argv)
    if args.stages is not None:
        print(format_table(["band", "stage", "rows", "mean |error| %", "worst %"],
                           stage_bands(args.stages)))
        return 0
    if args.samples:
        print(format_table(["SMs", "rows", "MAPE %", f"{args.kind} rows", f"{args.kind} MAPE %"],
                           sample_rows(device_profile(args.fit), args.kind)))
        return 0
    profile = device_profile("h200")
    inputs = fit_inputs("h200")
    fitted = sorted(set(inputs.measurements["case_id"][inputs.measurements["split"] == FIT]))
    scores = defaultdict(list)
    for folder, name in KERNEL_TEST_SETS:
        if base_device(folder) != "h200":
            continue                 # another device's sets: bench_transfer scores them
        path = CAL / folder / name
        m = stable(path / "measurements.csv")
        m = m.select(~np.isin(m["case_id"], fitted))
        sms = sm_restriction_of(path)
        spec = device_spec("h200", sms)
        kind = m.select(m["kind"] == args.kind)
        for label in ("fresh" if is_fresh(folder, name) else "test", "every"):
            key = (band_of(sms), label)
            scores[key + ("all",)].append(kernel_mape(profile, m, spec)[0])
            if len(kind["kind"]):
                scores[key + (args.kind,)].append(kernel_mape(profile, kind, spec)[0])
    order = {name: i for i, (_, _, name) in enumerate(BANDS)}
    rows = [[band, label, rows_of, len(v), round(100 * float(np.mean(v)), 2)]
            for (band, label, rows_of), v in sorted(scores.items(),
                                                     key=lambda kv: (kv[0][2] != "all",
                                                                     order[kv[0][0]], kv[0][1]))]
    print(format_table(["band", "sets", "rows", "n sets", "mean MAPE %"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
