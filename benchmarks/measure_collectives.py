"""Time NCCL collectives on 2-8 GPUs of one host (issue 14, item 3), the way nccl-tests does.

    # on a machine with N GPUs (one process per GPU):
    PYTHONPATH=. python3 benchmarks/measure_collectives.py --gpus 8 --out $OUT
    PYTHONPATH=. python3 benchmarks/measure_collectives.py --gpus 4 --out $OUT --dry-run   # check

What runs: for each collective of --collectives (all_reduce, all_gather, reduce_scatter,
all_to_all, send_recv) and each message size from --min-bytes to --max-bytes (doubling; default
1 KB .. 1 GB of --dtype bf16), on one process per GPU (torch.multiprocessing, NCCL backend):
--warmup untimed calls, then --iters calls between two CUDA events, after a barrier; the time
of one call is the mean; the row keeps the largest over ranks (as nccl-tests reports).
Sizes follow nccl-tests: the all-reduce's buffer, the all-gather's gathered output, the
reduce-scatter's input, one rank's all-to-all send buffer, the send/recv message (rank 0 ->
rank 1, the others idle). algbw = size / time; busbw = algbw x factor (2(n-1)/n all-reduce,
(n-1)/n all-gather, reduce-scatter and all-to-all, 1 send/recv): roofsim.kernels.comm.bus_factor,
so the columns compare with nccl-tests' and with roofsim's link roof.
NVLink SHARP and multicast are off (NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1,
NVSHMEM_DISABLE_NVLS=1; set before NCCL starts): the ring / tree algorithms roofsim models.
Outputs under --out/collectives-<n>gpu/, written as measured:
  collectives.csv   one row per (collective, size): time, algbw, busbw, NVML state of GPU 0
  provenance.json   NVML snapshot of every GPU before and after, NCCL / torch versions, the
                    command, the environment settings above, the date
Copy the folder to calibration/<device>/collectives/. --dry-run validates the arguments and
prints the plan; it starts no process and writes nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from roofsim.kernels.comm import bus_factor  # noqa: E402
from roofsim.records import COMM_KINDS  # noqa: E402

NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
            "NVSHMEM_DISABLE_NVLS": "1"}
DTYPES = {"bfloat16": 2, "float16": 2, "float32": 4}
ROW_FIELDS = ("collective", "ranks", "dtype", "size_bytes", "numel", "time_s", "algbw_gbps",
              "busbw_gbps", "iters", "sm_clock_mhz", "power_w", "temp_c", "throttle",
              "timestamp")


def sizes(lo: int, hi: int, elt: int, ranks: int) -> list[int]:
    """Message sizes in bytes from lo to hi, doubling, each a multiple of ranks x elt."""
    out, s = [], lo
    while s <= hi:
        unit = ranks * elt
        out.append(max(unit, (s // unit) * unit))
        s *= 2
    return sorted(set(out))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpus", type=int, default=8, help="GPUs (processes), 2 .. 8; default 8")
    p.add_argument("--collectives", default=",".join(COMM_KINDS))
    p.add_argument("--min-bytes", type=int, default=1 << 10)
    p.add_argument("--max-bytes", type=int, default=1 << 30)
    p.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES))
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--out", required=True)
    p.add_argument("--dry-run", action="store_true",
                   help="validate the arguments and print the plan; write nothing")
    args = p.parse_args(argv)
    if not 2 <= args.gpus <= 8:
        p.error(f"--gpus {args.gpus}: expected 2 .. 8 GPUs of one host")
    args.collectives = [c.strip() for c in args.collectives.split(",") if c.strip()]
    bad = [c for c in args.collectives if c not in COMM_KINDS]
    if bad or not args.collectives:
        p.error(f"--collectives: unknown {bad}; expected some of {', '.join(COMM_KINDS)}")
    if not 0 < args.min_bytes <= args.max_bytes <= 1 << 33:
        p.error("--min-bytes / --max-bytes: expected 0 < min <= max <= 8 GiB")
    if args.warmup < 0 or args.iters < 1:
        p.error("--warmup >= 0 and --iters >= 1 expected")
    return args


def _worker(rank: int, args: argparse.Namespace, folder: str) -> None:   # pragma: no cover (GPU)
    import torch
    import torch.distributed as dist
    os.environ.update(NCCL_ENV)
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=args.gpus,
                            init_method="tcp://127.0.0.1:29533")
    from roofsim.calibration.nvml import Nvml
    nv = Nvml(rank) if rank == 0 else None
    n, dtype, elt = args.gpus, getattr(torch, args.dtype), DTYPES[args.dtype]
    rows = []
    for coll in args.collectives:
        for size in sizes(args.min_bytes, args.max_bytes, elt, n):
            numel = size // elt
            if coll == "all_reduce":
                buf = torch.ones(numel, dtype=dtype, device="cuda")
                op = lambda: dist.all_reduce(buf)  # noqa: E731
            elif coll == "all_gather":
                out = torch.empty(numel, dtype=dtype, device="cuda")
                inp = torch.ones(numel // n, dtype=dtype, device="cuda")
                op = lambda: dist.all_gather_into_tensor(out, inp)  # noqa: E731
            elif coll == "reduce_scatter":
                inp = torch.ones(numel, dtype=dtype, device="cuda")
                out = torch.empty(numel // n, dtype=dtype, device="cuda")
                op = lambda: dist.reduce_scatter_tensor(out, inp)  # noqa: E731
            elif coll == "all_to_all":
                inp = torch.ones(numel, dtype=dtype, device="cuda")
                out = torch.empty(numel, dtype=dtype, device="cuda")
                op = lambda: dist.all_to_all_single(out, inp)  # noqa: E731
            else:
                buf = torch.ones(numel, dtype=dtype, device="cuda")
                op = (lambda: dist.send(buf, 1)) if rank == 0 else \
                    (lambda: dist.recv(buf, 0)) if rank == 1 else (lambda: None)
            for _ in range(args.warmup):
                op()
            torch.cuda.synchronize()
            dist.barrier()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(args.iters):
                op()
            end.record()
            torch.cuda.synchronize()
            t = torch.tensor([start.elapsed_time(end) / 1e3 / args.iters], device="cuda")
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            if rank == 0:
                time_s = float(t.item())
                ranks = 2 if coll == "send_recv" else n
                algbw = size / time_s / 1e9
                state = nv.state() if nv else {}
                rows.append({"collective": coll, "ranks": ranks, "dtype": args.dtype,
                             "size_bytes": size, "numel": numel, "time_s": time_s,
                             "algbw_gbps": algbw,
                             "busbw_gbps": algbw * float(bus_factor(coll, ranks)),
                             "iters": args.iters, **{k: state.get(k, "") for k in
                                                     ("sm_clock_mhz", "power_w", "temp_c",
                                                      "throttle")},
                             "timestamp": datetime.now(timezone.utc).isoformat()})
                with open(Path(folder) / "collectives.csv", "w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=ROW_FIELDS)
                    w.writeheader()
                    w.writerows(rows)
    dist.destroy_process_group()


def main(argv=None) -> int:
    args = parse_args(argv)
    folder = Path(args.out) / f"collectives-{args.gpus}gpu"
    plan = {c: len(sizes(args.min_bytes, args.max_bytes, DTYPES[args.dtype], args.gpus))
            for c in args.collectives}
    if args.dry_run:
        print(f"dry run: {args.gpus} GPUs, {args.dtype}, {args.min_bytes} .. {args.max_bytes} "
              f"bytes; sizes per collective {plan}; env {NCCL_ENV}; would write {folder}/")
        return 0
    os.environ.update(NCCL_ENV)                                # before NCCL initializes
    import torch
    import torch.multiprocessing as mp
    from roofsim.calibration.nvml import Nvml
    if torch.cuda.device_count() < args.gpus:
        print(f"--gpus {args.gpus}: only {torch.cuda.device_count()} GPUs visible",
              file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    before = [Nvml(i).snapshot() for i in range(args.gpus)]
    started = datetime.now(timezone.utc).isoformat()
    mp.spawn(_worker, args=(args, str(folder)), nprocs=args.gpus, join=True)
    prov = {"command": " ".join(sys.argv), "started": started,
            "finished": datetime.now(timezone.utc).isoformat(), "env": NCCL_ENV,
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "nccl": ".".join(map(str, torch.cuda.nccl.version())),
            "host": platform.node(), "nvml_before": before,
            "nvml_after": [Nvml(i).snapshot() for i in range(args.gpus)],
            "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    (folder / "provenance.json").write_text(json.dumps(prov, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
