"""How fast a product streams an operand whose rows start off the sector grid (issue 11, session 47:
roofsim.perfmodel.STREAM_ALIGN_SHARE), measured and as the H200's profile predicts.

    python benchmarks/stream_alignment.py

For every stable gemm / linear row of at most 16 rows (a batched product's m, a linear's rows)
streaming at least --min-mb of its large operand: the rate it streamed that operand at (its bytes
over the launch's time), grouped by device, SM count, kind and the operand rows' alignment (the
largest power of two dividing a linear's k or a bmm's n in bytes, at most 128), and that rate over
the 128-byte group's: measured, and with the H200's profile as bench_transfer.py fits it (the
H200's spec restricted to the run's SMs; the H100 SXM's for its runs). The sets: stream_align.yaml
on the H200 (the same shapes at four alignments: the measurement the shares were read off) and on
the H100 SXM (timed after the shares were committed: their check on the other chip), and the H100
SXM's narrow sets on the whole GPU, 8 and 16 SMs (random shapes: the agreement quoted beside
it). calibration/README.md quotes it.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, device_profile, stable  # noqa: E402
from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.fit import measurement_table, sm_restriction_of  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

SETS = ([("h200", f, "stream-align") for f in ("h200", "h200-sm8", "h200-sm16")] +
        [("h100-sxm", f, "stream-align") for f in ("h100-sxm", "h100-sxm-sm8", "h100-sxm-sm16")] +
        [("h100-sxm", f, f"narrow-fresh{i}") for f in ("h100-sxm", "h100-sxm-sm8",
                                                       "h100-sxm-sm16")
         for i in (3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17)])


def streamed(table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows of the product, the streamed operand's bytes, its rows' alignment in bytes)."""
    elt = 2.0
    m, n, k, b = (np.nan_to_num(table.param(p), nan=d) for p, d in
                  (("m", 1.0), ("n", 1.0), ("k", 1.0), ("batch", 1.0)))
    linear = table.kind == "linear"
    rows = np.where(linear, m * b, m)
    nbytes = np.where(linear, n * k, b * k * n) * elt
    align = perfmodel.row_alignment_bytes(np.where(linear, k, n) * elt, 128.0)
    return rows, nbytes, align


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-mb", type=float, default=100.0,
                    help="streamed operand of at least this many MB (default 100)")
    args = ap.parse_args(argv)
    profile = device_profile("h200")
    rates = defaultdict(lambda: ([], []))
    for device, folder, name in SETS:
        label = f"{device} {name}" if name == "stream-align" else f"{device} narrow sets"
        path = CAL / folder / name
        if not (path / "measurements.csv.gz").is_file():
            continue
        m = stable(path / "measurements.csv")
        table = measurement_table(m)
        sel = np.isin(table.kind, perfmodel.STREAM_ALIGN_KINDS) & \
            ~perfmodel.misaligned_operands(table)
        rows, nbytes, align = streamed(table)
        sel &= (rows <= 16) & (nbytes >= args.min_mb * 1e6) & (table.dtype == "bfloat16")
        if not sel.any():
            continue
        sms = sm_restriction_of(path)
        hw = load_hardware(device)
        spec = derive_sm_restricted(hw, sms) if sms else hw
        pred = profile.predict_launch_s(table, spec)
        for i in np.flatnonzero(sel):
            key = (label, sms or hw.sm_count, table.kind[i], align[i])
            rates[key][0].append(nbytes[i] / m["kernel_s"][i])
            rates[key][1].append(nbytes[i] / pred[i])
    out = []
    for key in sorted(rates):
        device, sms, kind, align = key
        ref = rates.get((device, sms, kind, 128.0))
        meas, model = (np.mean(v) for v in rates[key])
        if ref is None:
            continue
        r_meas, r_model = np.mean(ref[0]), np.mean(ref[1])
        out.append([device, sms, kind, int(align), len(rates[key][0]), f"{meas / 1e9:.0f}",
                    f"{meas / r_meas:.2f}", f"{model / 1e9:.0f}", f"{model / r_model:.2f}"])
    print(format_table(["runs", "SMs", "kind", "row align (B)", "rows", "measured GB/s",
                        "share", "H200 profile GB/s", "share"], out))
    print("\nperfmodel.STREAM_ALIGN_SHARE: " +
          ", ".join(f"{int(a)} B {s:.2f}" for a, s in perfmodel.STREAM_ALIGN_SHARE.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
