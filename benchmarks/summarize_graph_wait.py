"""When an idle GPU waits for the host's whole CUDA-graph launch (issue 16): the figures of
calibration/README.md's session-49 note, from the committed files.

    python benchmarks/summarize_graph_wait.py

Every committed decode step replayed as a CUDA graph and timed twice (benchmarks/measure_e2e.py
--graph and measure_models.py --graph: decode_graph rows with wall_held_median_s, every
calibration/**/e2e.csv): on an idle stream (wall_median_s) and with the GPU held busy until the
host's graph.replay() returned (wall_held_median_s), the host's time in replay() beside them
(host_s). Where the GPU starts the graph's first node as soon as the launch lets it, idle and held
walls differ by little; where it waits for the whole launch, idle - held approaches host_s.

Prints, per model, batch and the graph's memcpy / memset node counts (memcpy_count,
memset_count: what torch.profiler recorded in the replay), the rows, the median idle - held wall,
the median host_s and the median of their ratio, and the devices the rows come from; then, for
DeepSeek-OCR's steps, the correlation of idle - held with host_s and, per device, the held wall
less the profiled kernels per kernel node (kernel_s, kernel_count: the graph's own gaps). roofsim's
graph mode (roofsim.wall.stage_wall) charges graph_launch_s on the idle stream and reaches the
whole launch (graph_launch_node_s per node) only in its upper bound (graph_high_s).
"""

from __future__ import annotations

import collections
import csv
import statistics
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "calibration"


OCR = "deepseek-ocr"


def wait_rows() -> dict[tuple, list[tuple[float, float, str, float | None]]]:
    """{(model, batch, memcpy nodes, memset nodes): [(idle - held s, host_s, device, held wall
    less kernels per kernel node in s or None), ...]}."""
    out: dict[tuple, list[tuple[float, float, str, float | None]]] = collections.defaultdict(list)
    for path in sorted(CAL.glob("**/e2e.csv")):
        device = path.relative_to(CAL).parts[0]
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r.get("stage") != "decode_graph" or r.get("status", "ok") != "ok" or \
                        not r.get("wall_held_median_s") or not r.get("host_s"):
                    continue
                key = (r.get("model") or OCR, int(r.get("batch") or 1),
                       int(float(r.get("memcpy_count") or 0)),
                       int(float(r.get("memset_count") or 0)))
                held = float(r["wall_held_median_s"])
                gap = (held - float(r["kernel_s"])) / float(r["kernel_count"]) \
                    if r.get("kernel_s") and r.get("kernel_count") else None
                out[key].append((float(r["wall_median_s"]) - held, float(r["host_s"]), device,
                                 gap))
    return out


def main() -> int:
    rows = wait_rows()
    print(f"{'model':<18}{'batch':>6}{'memcpy':>8}{'memset':>8}{'rows':>6}{'idle-held us':>14}"
          f"{'host_s us':>11}{'ratio':>7}  devices")
    for (model, batch, cp, ms), v in sorted(rows.items()):
        devices = sorted({x[2] for x in v})
        print(f"{model:<18}{batch:>6}{cp:>8}{ms:>8}{len(v):>6}"
              f"{statistics.median(x[0] for x in v) * 1e6:>14.0f}"
              f"{statistics.median(x[1] for x in v) * 1e6:>11.0f}"
              f"{statistics.median(x[0] / x[1] for x in v):>7.2f}  "
              f"{', '.join(devices[:4])}{' ...' if len(devices) > 4 else ''}")
    ocr = [x for (model, *_), v in rows.items() if model == OCR for x in v]
    if len(ocr) > 2:
        corr = np.corrcoef([x[0] for x in ocr], [x[1] for x in ocr])[0, 1]
        print(f"\n{OCR}: idle - held against host_s over {len(ocr)} rows: correlation {corr:.2f}")
        by_device = collections.defaultdict(list)
        for x in ocr:
            if x[3] is not None:
                by_device[x[2]].append(x[3])
        for device, gaps in sorted(by_device.items()):
            print(f"  {device:<16} held wall less kernels per node: median "
                  f"{statistics.median(gaps) * 1e6:.3f} us ({len(gaps)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
