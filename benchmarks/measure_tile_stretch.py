"""Time a few persistent cuBLAS (nvjet) products on the whole GPU or on N SMs (a CUDA green
context): the stretch their tile count gives on a few SMs fewer than the grid was sized for.

    OUT=... python3 benchmarks/measure_tile_stretch.py N      # N = 0: the whole GPU

Writes $OUT/stretch-sm<N>.json: per shape (a [m, k] x [k, n] bf16 product) the median of five
runs of 20 back-to-back products with the NVML state beside it (roofsim.calibration.nvml), the
SM restriction probed and the device's state before and after. One SM count per process (a green
context is set once). Session 37 ran an uncommitted copy of this code without the NVML fields for
calibration/h100-sxm/tile-stretch (nvidia-smi before and after: see its README).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Llama-3.1-8B's prefill products at 1536 and 4608 tokens (m, k, n)
SHAPES = [(1536, 4096, 4096), (1536, 14336, 4096), (1536, 4096, 14336), (4608, 4096, 4096),
          (4608, 14336, 4096)]


def main(argv: list[str]) -> int:
    import torch
    from roofsim.calibration.green import restrict_sms
    from roofsim.calibration.nvml import Nvml
    n = int(argv[0])
    nv = Nvml()
    before = nv.snapshot()
    restriction = restrict_sms(n or None)
    out = {"sms": restriction.as_dict(), "device": torch.cuda.get_device_name(0),
           "torch": torch.__version__, "device_before": before, "rows": []}
    for m, k, nn in SHAPES:
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(k, nn, device="cuda", dtype=torch.bfloat16)
        for _ in range(3):
            a @ b
        torch.cuda.synchronize()
        times = []
        for _ in range(5):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(20):
                a @ b
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 20 * 1e-3)
        times.sort()
        out["rows"].append({"m": m, "k": k, "n": nn, "s": times[2], **nv.state()})
        print(n, m, k, nn, f"{times[2] * 1e6:.1f} us", flush=True)
    out["device_after"] = nv.snapshot()
    with open(os.path.join(os.environ["OUT"], f"stretch-sm{n}.json"), "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
