"""`roofsim predict-kernels CASES.csv --hardware H [--calibration DIR] [-o OUT.csv]`

Predicts the time of one launch of each kernel listed in CASES.csv on a hardware spec, with the
roofline alone or calibrated by a profile (`roofsim calibrate`). CASES.csv has a `kind` column,
a `dtype` column (torch names: bfloat16, float16, float32; empty means bfloat16) and shape
parameter columns named exactly
m,n,k,bias,batch,heads,seq_q,seq_kv,head_dim,causal,rows,cols,numel,c_in,c_out,h,w,kernel,stride,padding
(unused cells empty; missing columns count as empty). The output repeats every input row, in
order and as written, with two more columns: `predicted_s` (seconds per launch) and `bound`
(launch, tensor, cuda or memory: the roofline term that bounds the launch). Parameter meanings:
kernels/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..records import KINDS, SHAPE_PARAMS
from .common import add_hardware_args, hardware_from_args

OUTPUT_COLUMNS = ("predicted_s", "bound")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict-kernels", help="predict per-launch times of kernels listed in a CSV",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", metavar="CASES.csv", help="kernels to predict (see above)")
    add_hardware_args(parser)
    parser.add_argument("--calibration", metavar="DIR",
                        help="a calibration folder (or a shipped one's name, e.g. h100-sxm): "
                             "calibrated prediction; without it, the roofline alone")
    parser.add_argument("-o", "--output", metavar="OUT.csv", help="write here (default stdout)")
    parser.set_defaults(func=run)


def read_cases(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read the file ({err})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "kind" not in header:
        raise UserError(f"{path}: no 'kind' column (expected a header with kind, dtype and shape "
                        f"parameters {','.join(SHAPE_PARAMS)})")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:
            raise UserError(f"{path}: line {reader.line_num}: more cells than header columns")
        rows.append({k: (v or "").strip() for k, v in row.items()})
    return header, rows


def cases_to_table(path, rows: list[dict[str, str]]):
    """A RecordTable of the cases (roofsim.kernels formulas); UserError names file, line, column."""
    from ..hardware import canonical_dtype
    from ..kernels import records_from_params
    n = len(rows)
    kinds = np.empty(n, dtype=object)
    dtypes = np.empty(n, dtype=object)
    params = {p: np.full(n, np.nan) for p in SHAPE_PARAMS}
    for i, row in enumerate(rows):
        line = i + 2
        kind = row.get("kind", "")
        if kind not in KINDS:
            raise UserError(f"{path}: line {line}: kind {kind!r} is not one of {', '.join(KINDS)}")
        kinds[i] = kind
        dtypes[i] = canonical_dtype(row.get("dtype") or "bfloat16")
        for p in SHAPE_PARAMS:
            cell = row.get(p, "")
            if cell == "":
                continue
            try:
                value = float(cell)
            except ValueError:
                raise UserError(f"{path}: line {line}: column {p}: expected a number, got "
                                f"{cell!r}") from None
            if not np.isfinite(value) or value < 0:
                raise UserError(f"{path}: line {line}: column {p}: expected a finite number "
                                f">= 0, got {cell!r}")
            params[p][i] = value
    used = {p: v for p, v in params.items() if not np.isnan(v).all()}
    try:
        return records_from_params(kinds, used, dtypes, name=[f"line {i + 2}" for i in range(n)])
    except UserError as err:
        raise UserError(f"{path}: {err}") from None


def predict(path, rows, hardware, profile=None):
    """(predicted seconds per launch, bound names) for the case rows."""
    from ..engine import simulate
    if not rows:
        return np.zeros(0), np.zeros(0, dtype=object)
    table = cases_to_table(path, rows)
    timing = simulate(table, hardware, profile)
    return timing.launch_time_s, timing.bound_names()


def run(args: argparse.Namespace) -> int:
    hardware = hardware_from_args(args)
    profile = None
    if args.calibration:
        from ..calibration import load_profile
        profile = load_profile(args.calibration)
    header, rows = read_cases(args.cases)
    seconds, bounds = predict(args.cases, rows, hardware, profile)
    out_header = header + [c for c in OUTPUT_COLUMNS if c not in header]
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.DictWriter(stream, fieldnames=out_header, lineterminator="\n")
        writer.writeheader()
        for row, t, b in zip(rows, seconds, bounds):
            writer.writerow(dict(row, predicted_s=repr(float(t)), bound=b))
    finally:
        if args.output:
            stream.close()
    if args.output:
        covered = "" if profile is None else f", calibrated by {args.calibration}"
        print(f"predicted {len(rows)} kernels on {hardware.id}{covered} -> {args.output}",
              file=sys.stderr)
    return 0
