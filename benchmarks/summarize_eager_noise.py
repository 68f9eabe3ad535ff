"""How reproducible an eager (host-bound) wall time is on the GPU machine: the figures of
calibration/<device>/host/noise/README.md, from the committed files.

    python benchmarks/summarize_eager_noise.py [--device h200]

1. Each noise probe (benchmarks/gpu_transfer.sh PHASE=noise; calibration/<device>/host/noise*):
   one case, Llama 3.1 8B's decode step (batch 8, KV 1024), timed in separate processes,
   unpinned and pinned to one CPU, with the host's CPU jiffies before and after each process;
   and DeepSeek-OCR's decode step in two processes. Per process: the median, min and max of its
   repeats and, where measure_*.py recorded it, the host probe (host_probe_s: seconds per eager
   dispatch of a one-element add in the same process just before the case).
2. DeepSeek-OCR's decode step in every committed end-to-end set of the device (whole chip and
   SM-restricted): the same kernels and the same host work at every crop grid (only the KV
   length differs), so the spread of its eager wall is the host's, not the model's; and how
   that wall follows the host probe its process read (every process of every set with one).
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "calibration"
JIFFIES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _rows(path: Path, stage: str = "decode") -> list[dict]:
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r["stage"] == stage and r["status"] == "ok"]


def _ms(x) -> float:
    return float(x) * 1e3


def host_deltas(path: Path) -> dict[str, dict]:
    """run,pin -> steal jiffies and busy share of the CPU time between 'before' and 'after'."""
    out, before = {}, {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            key = f"{r['run']},{r['pin']}"
            if r["when"] == "before":
                before[key] = r
                continue
            b = before.get(key)
            if b is None:
                continue
            d = {j: float(r[j]) - float(b[j]) for j in JIFFIES}
            total = sum(d.values())
            out[key] = {"steal": d["steal"], "busy": 1.0 - (d["idle"] + d["iowait"]) / total,
                        "seconds": float(r["t"]) - float(b["t"])}
    return out


def probe_walls(noise: Path) -> tuple[list[float], list[float]]:
    """Eager wall medians (ms) of the noise probe: the Llama case's processes, DeepSeek-OCR's."""
    llama = [_ms(r["wall_median_s"]) for d in sorted(noise.glob("run*-*"))
             for r in _rows(next(d.glob("*/e2e.csv")))]
    ocr = [_ms(r["wall_median_s"]) for d in sorted(noise.glob("ocr-run*"))
           for r in _rows(d / "e2e.csv")]
    return llama, ocr


def ocr_decode_walls(device: str, exclude: tuple[str, ...] = ()) -> tuple[list[float], int]:
    """(eager wall medians in ms, sets) of DeepSeek-OCR's batch-1 decode step over every
    committed end-to-end set of `device`, whole chip and SM-restricted, bar the sets named in
    `exclude` (folder names, at every SM count)."""
    walls, folders = [], 0
    for folder in sorted(CAL.glob(f"{device}*/e2e*")):
        path = folder / "e2e.csv"
        if folder.name in exclude:
            continue
        if path.is_file() and "grid" in path.open().readline():
            folders += 1
            walls += [_ms(r["wall_median_s"]) for r in _rows(path)
                      if r.get("batch", "1") in ("", "1")]
    return walls, folders


def ocr_decode_probes(device: str, exclude: tuple[str, ...] = ()) -> list[tuple[float, float]]:
    """(eager wall, host probe) in seconds of DeepSeek-OCR's batch-1 decode step in every
    committed end-to-end set of `device` and every process of it (process*/), where the row
    carries a probe (roofsim.e2e.row_probe), bar the sets named in `exclude` (folder names, at
    every SM count)."""
    from roofsim.e2e import PROCESS_GLOB, row_probe, row_wall
    out = []
    for folder in sorted(CAL.glob(f"{device}*/e2e*")):
        if folder.name in exclude:
            continue
        for path in [folder / "e2e.csv"] + sorted(folder.glob(f"{PROCESS_GLOB}/e2e.csv")):
            if not (path.is_file() and "grid" in path.open().readline()):
                continue
            out += [(row_wall(r), row_probe(r)) for r in _rows(path)
                    if r.get("batch", "1") in ("", "1") and row_probe(r) is not None]
    return out


def typical_probe(device: str, exclude: tuple[str, ...] = ()) -> tuple[float, int]:
    """(seconds, readings): the median host probe of the machine's processes, read beside
    DeepSeek-OCR's decode step in every committed end-to-end set of `device` bar `exclude`
    (ocr_decode_probes); (0, 0) where none carries one. The speed of the typical process, which
    the host model's costs are scaled to (benchmarks/fit_host.py)."""
    probes = [p for _, p in ocr_decode_probes(device, exclude)]
    return (float(np.median(probes)), len(probes)) if probes else (0.0, 0)


def probe_tracking(pairs: list[tuple[float, float]]) -> str:
    """How an eager wall follows its process's host probe: the log-log correlation and slope
    (1: in proportion), and the wall in probes (median, and the spread of its log)."""
    w, p = (np.log(np.array(x)) for x in zip(*pairs))
    slope = float(np.polyfit(p, w, 1)[0])
    ratio = w - p
    return (f"{len(pairs)} rows with a probe: log-correlation {np.corrcoef(p, w)[0, 1]:.2f}, "
            f"log-log slope {slope:.2f}; wall = {np.exp(np.median(ratio)):,.0f} probes "
            f"(std of log {ratio.std():.3f}), where the wall alone spreads {w.std():.3f}")


def noise_folders(device: str) -> list[Path]:
    return sorted(p for p in (CAL / device / "host").glob("noise*") if p.is_dir())


def speed_ratios(device: str, exclude: tuple[str, ...] = ()) -> list[float]:
    """Each host-bound eager wall over the median of its own case: each noise probe's Llama
    processes and OCR rows, and the OCR decode step over every committed set bar `exclude`."""
    groups = [g for noise in noise_folders(device) for g in probe_walls(noise)]
    sets, _ = ocr_decode_walls(device, exclude)
    out = []
    for group in groups + [sets]:
        if group:
            med = statistics.median(group)
            out += [w / med for w in group]
    return out


SPREAD_QUANTILES = (0.05, 0.95)


def speed_band(ratios: list[float]) -> tuple[float, float]:
    """(low, high): the SPREAD_QUANTILES of the ratios, low at most 1 and high at least 1."""
    lo, hi = np.quantile(np.asarray(ratios, dtype=np.float64), SPREAD_QUANTILES)
    return round(min(float(lo), 1.0), 3), round(max(float(hi), 1.0), 3)


def spread(values: list[float], what: str) -> str:
    med = statistics.median(values)
    return (f"{len(values)} {what}: {min(values):.1f} .. {max(values):.1f} ms, median "
            f"{med:.1f} ({min(values) / med:.2f}x .. {max(values) / med:.2f}x the median)")


def _probe_us(r) -> str:
    v = r.get("host_probe_s", "")
    return f"{float(v) * 1e6:6.2f}" if v else "     -"


def cv(values: list[float]) -> float:
    return statistics.pstdev(values) / statistics.mean(values)


def show_probe(noise: Path) -> None:
    """One noise-probe folder: per process its wall, the host probe (where recorded), the
    steal and CPU load the guest saw."""
    deltas = host_deltas(noise / "host-state.csv")
    print(f"{noise.relative_to(ROOT)}: one case per process")
    print(f"{'process':14} {'pin':5} {'wall median':>11} {'min':>7} {'max':>7} {'kernel':>7}  "
          f"{'probe us':>8} {'steal':>5} {'CPU busy':>8}")
    walls, ratios = [], []
    for d in sorted(noise.glob("run*-*")):
        run, pin = d.name[3:].split("-", 1)
        for r in _rows(next(d.glob("*/e2e.csv"))):
            h = deltas.get(f"{run},{pin}", {})
            print(f"{'llama ' + d.name:14} {pin:5} {_ms(r['wall_median_s']):11.1f} "
                  f"{_ms(r['wall_min_s']):7.1f} {_ms(r['wall_max_s']):7.1f} "
                  f"{_ms(r['kernel_s']):7.2f}  {_probe_us(r):>8} "
                  f"{h.get('steal', float('nan')):5.0f} {100 * h.get('busy', float('nan')):7.1f}%")
            walls.append(float(r["wall_median_s"]))
            if r.get("host_probe_s"):
                ratios.append(float(r["wall_median_s"]) / float(r["host_probe_s"]))
    for d in sorted(noise.glob("ocr-run*")):
        for r in _rows(d / "e2e.csv"):
            print(f"{'ocr ' + d.name[4:] + ' ' + r['grid']:14} {'none':5} "
                  f"{_ms(r['wall_median_s']):11.1f} {_ms(r['wall_min_s']):7.1f} "
                  f"{_ms(r['wall_max_s']):7.1f} {_ms(r['kernel_s']):7.2f}  {_probe_us(r):>8}")
    llama, ocr = probe_walls(noise)
    print(f"Llama 3.1 8B decode (b=8, KV 1024), eager wall: {spread(llama, 'processes')}")
    print(f"DeepSeek-OCR decode (2 processes): {spread(ocr, 'rows')}")
    if len(ratios) == len(walls) and walls:
        print(f"Llama: the wall's spread (coefficient of variation) {cv(walls):.0%}; wall / host "
              f"probe {cv(ratios):.0%} (a probe that tracked the host's speed would bring the "
              f"second near 0)")
    print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="h200")
    args = ap.parse_args(argv)
    for noise in noise_folders(args.device):
        show_probe(noise)
    sets, folders = ocr_decode_walls(args.device)
    print(f"DeepSeek-OCR decode step, every committed end-to-end set of {args.device} "
          f"({folders} sets; grids, prompts and SM counts differ; kernels 2-10 "
          f"ms, host-bound): {spread(sets, 'rows')}")
    print(f"DeepSeek-OCR decode step against its process's host probe (roofsim.host.HostModel."
          f"probe_s): {probe_tracking(ocr_decode_probes(args.device))}")
    lo, hi = speed_band(speed_ratios(args.device))
    print(f"pooled, each over its case's median: 5th-95th percentile {lo:.2f}x .. {hi:.2f}x "
          f"(every set; host.json's speed_spread, benchmarks/fit_host.py, leaves out its "
          f"SPREAD_HELD_OUT)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
