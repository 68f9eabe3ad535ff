"""`roofsim predict-kernels CASES.csv --hardware H [--calibration DIR] [-o OUT.csv]`

Predicts the time of one launch of each kernel listed in CASES.csv on a hardware spec, with the
roofline alone or calibrated by a profile (`roofsim calibrate`). CASES.csv has a `kind` column,
a `dtype` column (torch names in any case: bfloat16, float16, float32, float8_e4m3fn; empty
means bfloat16; float32 matrix products are CUDA-core work, TF32 off) and shape parameter columns
named exactly
m,n,k,bias,batch,heads,seq_q,seq_kv,head_dim,causal,rows,cols,numel,c_in,c_out,h,w,kernel,stride,padding
(and the rest of roofsim.records.SHAPE_PARAMS: head_dim_v, an attention's value head size)
(unused cells empty; missing columns count as empty). The output repeats every input row, in
order and as written, with two more columns: `predicted_s` (seconds per launch) and `bound`
(launch, tensor, cuda or memory: the roofline term that bounds the launch). Parameter meanings:
kernels/README.md; an example: kernels/example-cases.csv.
"""

from __future__ import annotations

import argparse
import difflib
import sys

import numpy as np

from ..errors import UserError
from ..hardware import DTYPE_ALIASES, TENSOR_DTYPES, canonical_dtype
from ..io import CsvTable, atomic_write_text, check_output_file, csv_text, read_csv
from ..records import KINDS, SHAPE_PARAMS
from .args import nonempty
from .common import add_hardware_args, calibration_note, hardware_from_args, load_calibration

OUTPUT_COLUMNS = ("predicted_s", "bound")
# The case dtypes kernels/README.md documents (an empty cell is bfloat16).
CASE_DTYPES = TENSOR_DTYPES
# 0/1 switches; every other shape parameter is a size (an integer).
FLAG_PARAMS = ("bias", "causal")
EXAMPLE = "kernels/example-cases.csv"
# How alike (difflib's ratio) a column the tool does not know must be to one the file lacks to
# be taken for its misspelling ('dtyp', 'causel', 'bais'), rather than the user's own column.
MISSPELT_CUTOFF = 0.75


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict-kernels", help="predict per-launch times of kernels listed in a CSV",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", metavar="CASES.csv", type=nonempty("a CSV file"),
                        help=f"kernels to predict (see above; example: {EXAMPLE})")
    add_hardware_args(parser)
    parser.add_argument("--calibration", metavar="DIR", type=nonempty("a calibration folder"),
                        help="a calibration folder (or a shipped one's name, e.g. h100-sxm): "
                             "calibrated prediction; without it, the roofline alone")
    parser.add_argument("-o", "--output", metavar="OUT.csv", type=nonempty("a file name"),
                        help="write here (default stdout); written whole or not at all")
    parser.set_defaults(func=run)


def read_cases(path) -> CsvTable:
    """The cases file: a header with `kind`, no duplicated column, no row longer than it, and
    no column that looks like a misspelt one it lacks (other columns are the user's own, kept
    as written in the output)."""
    table = read_csv(path, required=("kind",),
                     expected=f"a header with kind, dtype and shape parameters "
                              f"{','.join(SHAPE_PARAMS)}")
    known = ("kind", "dtype") + SHAPE_PARAMS
    absent = [c for c in known if c not in table.header]
    for name in table.header:
        if name in known:
            continue
        close = difflib.get_close_matches(name, absent, n=1, cutoff=MISSPELT_CUTOFF)
        if close:
            raise UserError(f"{path}: column {name!r}: did you mean {close[0]!r}? (a column "
                            f"roofsim does not know is kept as the user's own; rename this one "
                            f"if it is {close[0]})")
    return table


def _dtype(table: CsvTable, row) -> str:
    text = row.get("dtype") or "bfloat16"
    dtype = canonical_dtype(text.lower())     # BF16, Float16: case carries no meaning
    if dtype not in CASE_DTYPES or text.lower() == "tf32":
        aliases = ", ".join(sorted(a for a in DTYPE_ALIASES if a != "tf32"))
        raise UserError(f"{table.where(row, 'dtype')}: {text!r} is not a documented dtype "
                        f"(expected one of {', '.join(CASE_DTYPES)}; aliases {aliases})")
    return dtype


def _param(table: CsvTable, row, p: str, max_elements: float | None) -> float:
    cell = row.get(p, "")
    where = table.where(row, p)
    try:
        value = float(cell)
    except ValueError:
        raise UserError(f"{where}: expected a number, got {cell!r}") from None
    if p in FLAG_PARAMS:
        # attention's bias 2: a key mask shared by heads and queries (roofsim/kernels/attention)
        allowed = (0.0, 1.0, 2.0) if p == "bias" and row.get("kind") == "attention" else \
            (0.0, 1.0)
        if value not in allowed:
            raise UserError(f"{where}: expected {' or '.join(f'{a:g}' for a in allowed)}, "
                            f"got {cell!r}")
        return value
    if not np.isfinite(value) or value < 0 or value != int(value):
        raise UserError(f"{where}: expected an integer >= 0, got {cell!r}")
    if max_elements is not None and value > max_elements:
        raise UserError(f"{where}: {cell} elements along one dimension do not fit in the "
                        f"device's memory (at most {max_elements:.4g} of this dtype)")
    return value


def cases_to_table(table: CsvTable, hardware=None):
    """A RecordTable of the cases (roofsim.kernels formulas); a UserError names file, line and
    column. With `hardware`, a size larger than its memory holds is refused too."""
    from ..kernels import records_from_params, used_columns
    from ..kernels._common import ELEMENT_BYTES
    rows = table.rows
    n = len(rows)
    kinds = np.empty(n, dtype=object)
    dtypes = np.empty(n, dtype=object)
    params = {p: np.full(n, np.nan) for p in SHAPE_PARAMS}
    memory = hardware.mem_capacity_bytes if hardware is not None else None
    for i, row in enumerate(rows):
        kind = row.get("kind", "")
        if kind not in KINDS:
            raise UserError(f"{table.where(row)}: kind {kind!r} is not one of "
                            f"{', '.join(KINDS)}")
        kinds[i] = kind
        dtypes[i] = _dtype(table, row)
        max_elements = memory / ELEMENT_BYTES[dtypes[i]] if memory is not None else None
        for p in SHAPE_PARAMS:
            if row.get(p, "") != "":
                params[p][i] = _param(table, row, p, max_elements)
        _check_cat_inputs(table, row, {p: v[i] for p, v in params.items()})
    used = used_columns(params)
    try:
        records = records_from_params(kinds, used, dtypes,
                                      name=[f"line {r.line}" for r in rows])
    except UserError as err:
        raise UserError(f"{table.where(_failing_row(table, kinds, used, dtypes))}: {err}") \
            from None
    _check_work(table, records, memory)
    return records


def _check_cat_inputs(table: CsvTable, row, p) -> None:
    """inputs / largest (a cat of unequal inputs, kernels/README.md): both or neither, on a cat,
    at least 2 inputs, the largest no more than all of them and at least its share."""
    given = [k for k in ("inputs", "largest") if not np.isnan(p[k])]
    if not given:
        return
    if row.get("kind") != "cat" or len(given) == 1:
        raise UserError(f"{table.where(row, given[0])}: inputs and largest describe a cat of "
                        f"unequal inputs; give both, on a cat row")
    numel = p["numel"] if not np.isnan(p["numel"]) else 0.0
    if p["inputs"] < 2 or not (numel / p["inputs"] <= p["largest"] <= numel):
        raise UserError(f"{table.where(row, 'largest')}: expected inputs >= 2 and numel / inputs "
                        f"<= largest <= numel, got inputs {p['inputs']:g}, largest "
                        f"{p['largest']:g}, numel {numel:g}")


def _failing_row(table: CsvTable, kinds, used, dtypes):
    """The first row whose formula refuses it alone (only called once one has)."""
    from ..kernels import records_from_params
    for i, row in enumerate(table.rows):
        try:
            records_from_params(kinds[i:i + 1], {p: v[i:i + 1] for p, v in used.items()},
                                dtypes[i:i + 1])
        except UserError:
            return row
    return None


def _check_work(table: CsvTable, records, memory) -> None:
    """Finite work, and an output (written once, so resident) within the device memory."""
    work = np.stack([records.flops_tensor, records.flops_cuda, records.bytes_read,
                     records.bytes_written])
    bad = ~np.isfinite(work).all(axis=0)
    if memory is not None:
        bad |= records.bytes_written > memory
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = table.rows[i]
        if not np.isfinite(work[:, i]).all():
            raise UserError(f"{table.where(row)}: the sizes give more work than a float holds; "
                            f"expected sizes a GPU could run")
        raise UserError(f"{table.where(row)}: the kernel writes {records.bytes_written[i]:.4g} "
                        f"bytes, more than the device's {memory:.4g} bytes of memory")


def predict(table: CsvTable, hardware, profile=None):
    """(predicted seconds per launch, bound names) for the cases: each kernel's duration run
    alone, its inputs in DRAM (as calibration times kernels; l2_warm=False)."""
    from ..engine import simulate
    if not table.rows:
        return np.zeros(0), np.zeros(0, dtype=object)
    records = cases_to_table(table, hardware)
    timing = simulate(records, hardware, profile, l2_warm=False)
    return timing.launch_time_s, timing.bound_names()


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output_file(args.output, option="--output")
    hardware = hardware_from_args(args)
    profile = None
    if args.calibration is not None:
        profile = load_calibration(args.calibration)
    table = read_cases(args.cases)
    note = calibration_note(profile, hardware)
    seconds, bounds = predict(table, hardware, profile)
    out_header = list(table.header) + [c for c in OUTPUT_COLUMNS if c not in table.header]
    text = csv_text(out_header, [dict(row.cells, predicted_s=repr(float(t)), bound=b)
                                 for row, t, b in zip(table.rows, seconds, bounds)])
    if args.output is None:
        sys.stdout.write(text)
        return 0
    atomic_write_text(args.output, text, what="predictions")
    covered = "" if profile is None else f", calibrated by {args.calibration}"
    print(f"predicted {len(table.rows)} kernels on {hardware.id}{covered} -> {args.output}",
          file=sys.stderr)
    if note:
        print(note.line(), file=sys.stderr)
    return 0
