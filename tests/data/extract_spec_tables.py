"""Extract the specification report's tables into tests/data/spec_tables.json.

Provenance: the specification report (../shared/spec/000_1b73f4edf235d5a7.txt beside the
repository). Regenerate with
    python tests/data/extract_spec_tables.py ../shared/spec/000_1b73f4edf235d5a7.txt
The numbers are transcribed as printed; nothing is edited by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("spec_tables.json")

# Table key -> the first header cells that identify it, in document order where headers repeat.
SWEEP_KEYS = ("vision", "decode", "vision_prefill")


def markdown_tables(text: str) -> list[list[list[str]]]:
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    # drop the alignment row
    return [[r for r in t if not set("".join(r)) <= set(":- ")] for t in tables]


def _grid(cell: str) -> list[int]:
    r, c = cell.split("x")
    return [int(r), int(c)]


def extract(text: str) -> dict:
    tables = markdown_tables(text)
    out: dict = {"source": "../shared/spec/000_1b73f4edf235d5a7.txt", "sweeps": {}}
    sweeps = []
    for t in tables:
        header, rows = t[0], t[1:]
        if header[:2] == ["Group", "Analytic layer"] and "Measured FLOPs (GFLOPs)" in header:
            out["verification"] = [
                {"group": r[0], "layer": r[1], "measured_gflops": float(r[2]),
                 "theoretical_gflops": float(r[3]), "rel_diff_percent": float(r[4].rstrip("%"))}
                for r in rows]
        elif header[:2] == ["Group", "Analytic layer"]:
            out["impl_classes"] = {r[1]: r[2] for r in rows}
        elif header[:2] == ["Num crops", "Crop grid (H×W)"] and "Tensor Core FLOPs (TFLOPs)" in header:
            sweeps.append([{"num_crops": int(r[0]), "grid": _grid(r[1]), "image_tokens": int(r[2]),
                            "tensor_tflops": float(r[3]), "cuda_tflops": float(r[4])} for r in rows])
        elif header[:2] == ["Num crops", "Crop grid (H×W)"] and len(header) == 4:
            out["ttft_required_tflops"] = [{"grid": _grid(r[1]), "image_tokens": int(r[2]),
                                            "tflops_per_s": float(r[3])} for r in rows]
        elif header[:2] == ["Num crops", "Crop grid (H×W)"] and len(header) == 5:
            out["tpot_required_tflops"] = [{"grid": _grid(r[1]), "image_tokens": int(r[2]),
                                            "decode_steps": int(r[3]), "tflops_per_s": float(r[4])}
                                           for r in rows]
    if len(sweeps) != len(SWEEP_KEYS):
        raise SystemExit(f"expected {len(SWEEP_KEYS)} sweep tables, found {len(sweeps)}")
    out["sweeps"] = dict(zip(SWEEP_KEYS, sweeps))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    data = extract(Path(argv[1]).read_text(encoding="utf-8"))
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
