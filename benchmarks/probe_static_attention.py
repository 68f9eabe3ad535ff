"""Which SDPA kernel a StaticCache decode step's attention call runs, and what it costs (issue 16).

calibration/h200/static measured cuDNN's flash fprop at 172.5 us per layer (Llama 3.1 8B, batch
1, 8192 cached positions) inside the step, while the kernel suite's attention runner timed 16.5
us for what roofsim records of that call. transformers 5.24 (integrations/sdpa_attention.py)
calls SDPA there with a mask, so without enable_gqa: one query per sequence is packed per K/V
head (pack_gqa: q[b, kv_heads, n_rep, d], a view of the projection's output) and the mask
[b, 1, 1, kv] (bool, from masking_utils) is shared by the heads. This script times that call
and its variants (mask dtype and shape, packed or per-head queries, no mask), each as the
harness times kernels (roofsim.calibration.timing.CudaTimer: graph replays, cold L2) and under
torch.profiler (the kernels of one call, measure_e2e.profile_once).

    PYTHONPATH=. python3 benchmarks/probe_static_attention.py --out $OUT/attn \
        --batch 1,8 --kv 1024,8192 [--sms N]

Writes <out>/cases.csv (variant, batch, kv, kernel_s, kernel names) and provenance.json.
Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from measure_e2e import profile_once  # noqa: E402  (one trace reader)
from measure_models import int_list  # noqa: E402

HEADS, KV_HEADS, HEAD_DIM = 32, 8, 128     # Llama 3.1 8B's attention
VARIANTS = ("packed_boolmask", "packed_floatmask", "packed_nomask", "perhead_boolmask",
            "perhead_floatmask_full", "perhead_gqa_nomask", "packed_floatmask_full")


@dataclass
class ProbeRun:
    """One probe run: its green context (held while the run lasts; None on the whole chip), its
    output folder, NVML and the provenance it writes beside cases.csv."""

    restriction: object
    out: Path
    nv: object
    prov: dict

    @classmethod
    def start(cls, what: str, script: str, argv, sms: int, out: str) -> "ProbeRun":
        from roofsim.calibration.nvml import Nvml
        from roofsim.calibration.run import software_versions
        restriction = None
        if sms:
            from roofsim.calibration.green import restrict_sms
            restriction = restrict_sms(sms)
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        nv = Nvml()
        prov = {"what": what, "software": software_versions(),
                "sms": restriction.as_dict() if restriction is not None else None,
                "command": " ".join([script] + (sys.argv[1:] if argv is None else list(argv))),
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "device_before": nv.snapshot()}
        return cls(restriction, folder, nv, prov)

    def finish(self, rows: list[dict]) -> None:
        """cases.csv (the rows) and provenance.json (with the device state after)."""
        with open(self.out / "cases.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["case"])
            w.writeheader()
            w.writerows(rows)
        self.prov["device_after"] = self.nv.snapshot()
        (self.out / "provenance.json").write_text(json.dumps(self.prov, indent=1) + "\n")


def inputs(variant: str, b: int, kv: int, torch):
    """The SDPA call's tensors: q as the model's view of its projection's output, k / v a static
    cache of kv positions, the mask as named."""
    dev, dt = "cuda", torch.bfloat16
    n_rep = HEADS // KV_HEADS
    proj = torch.randn(b, 1, HEADS * HEAD_DIM, device=dev, dtype=dt)
    q = proj.view(b, 1, HEADS, HEAD_DIM).transpose(1, 2)          # [b, 32, 1, d], a view
    k = torch.randn(b, KV_HEADS, kv, HEAD_DIM, device=dev, dtype=dt)
    v = torch.randn(b, KV_HEADS, kv, HEAD_DIM, device=dev, dtype=dt)
    boolmask = torch.ones(b, 1, 1, kv, device=dev, dtype=torch.bool)
    boolmask[..., kv - kv // 4:] = False                           # unfilled cache positions
    floatmask = torch.zeros(b, 1, 1, kv, device=dev, dtype=dt).masked_fill(~boolmask,
                                                                          float("-inf"))
    packed = q.reshape(b, KV_HEADS, n_rep, HEAD_DIM)
    kw = {}
    if variant == "packed_boolmask":
        args = (packed, k, v, boolmask)
    elif variant == "packed_floatmask":
        args = (packed, k, v, floatmask)
    elif variant == "packed_floatmask_full":
        args = (packed, k, v, floatmask.expand(b, KV_HEADS, n_rep, kv).contiguous())
    elif variant == "packed_nomask":
        args = (packed, k, v, None)
    elif variant == "perhead_boolmask":
        args = (q, k.repeat_interleave(n_rep, 1), v.repeat_interleave(n_rep, 1), boolmask)
    elif variant == "perhead_floatmask_full":
        args = (q.contiguous(), k.repeat_interleave(n_rep, 1), v.repeat_interleave(n_rep, 1),
                floatmask.expand(b, HEADS, 1, kv).contiguous())
    elif variant == "perhead_gqa_nomask":
        args, kw = (q, k, v, None), {"enable_gqa": True}
    else:
        raise ValueError(variant)
    return args, kw


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--kv", default="1024,8192")
    ap.add_argument("--sms", type=int, default=0)
    args = ap.parse_args(argv)
    import torch
    import torch.nn.functional as F
    from roofsim.calibration.timing import CudaTimer
    run = ProbeRun.start("SDPA kernel of a StaticCache decode step's call and variants",
                         "probe_static_attention.py", argv, args.sms, args.out)
    timer = CudaTimer()
    rows = []
    for b in int_list("--batch", args.batch):
        for kv in int_list("--kv", args.kv):
            for variant in VARIANTS:
                try:
                    a, kw = inputs(variant, b, kv, torch)

                    def fn(q, k, v, m, kw=kw):
                        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw)
                    res = timer.time(fn, lambda a=a: a)
                    ks = collections.Counter()
                    for k in profile_once(fn, a, torch):
                        ks[k["name"][:90]] += k["calls"] * k["duration_s"]
                except Exception as err:
                    print(f"{variant} b={b} kv={kv}: {type(err).__name__}: {err}"[:200])
                    continue
                top = ks.most_common(1)[0] if ks else ("", 0.0)
                rows.append({"variant": variant, "batch": b, "kv": kv, "kernel_s": res.kernel_s,
                             "kernel_max_s": res.kernel_max_s, "kernels": len(ks),
                             "main_kernel": top[0], "main_s": top[1],
                             "all_kernels": json.dumps(dict(ks))})
                print(f"{variant:24s} b={b:2d} kv={kv:6d} {res.kernel_s * 1e6:8.1f} us  "
                      f"{top[0][:70]}")
    run.finish(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
