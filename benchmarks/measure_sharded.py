"""Measure a tensor-parallel transformers model on N GPUs (issue 14, item 4): TTFT and TPOT to
compare with `roofsim predict --model M --tp N [--ep N]`.

    torchrun --nproc-per-node 4 benchmarks/measure_sharded.py --model qwen3-30b-a3b --out $OUT
    PYTHONPATH=. python3 benchmarks/measure_sharded.py --model qwen3-30b-a3b --gpus 4 \
        --out /tmp/s --dry-run                              # validates, writes nothing

What runs (one process per GPU, launched by torchrun): the model of workloads/models/<name>.json
built from its config with random bf16 weights, sharded by transformers' `tp_plan="auto"` over
torch.distributed (NCCL; NVLS and multicast off as in measure_collectives.py); per case, after
--warmup forwards, CUDA-event wall time of one forward (median of --repeats, a barrier and a
device sync before each): prefill of --prompt-tokens, then one decode step with the cache that
prefill left. Rank 0 writes --out/sharded-<model>-tp<N>/sharded.csv (one row per stage) and
provenance.json (NVML of every GPU, versions, command, date). --ep N asks for transformers'
expert parallelism (`distributed_config`, where this transformers version has it; the row says
which ran).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure_collectives import NCCL_ENV  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parent.parent / "workloads" / "models"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--gpus", type=int, default=int(os.environ.get("WORLD_SIZE", "0")) or None,
                   help="tensor-parallel degree (default: torchrun's WORLD_SIZE)")
    p.add_argument("--ep", type=int, default=1)
    p.add_argument("--prompt-tokens", type=int, default=1024)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--out", required=True)
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    if not (MODELS_DIR / f"{args.model}.json").exists():
        names = sorted(x.stem for x in MODELS_DIR.glob("*.json"))
        p.error(f"--model {args.model}: not a shipped model ({', '.join(names)})")
    if args.gpus is None or args.gpus not in (1, 2, 4, 8):
        p.error(f"--gpus {args.gpus}: expected 1, 2, 4 or 8 (or run under torchrun)")
    if args.ep not in (1, args.gpus):
        p.error(f"--ep {args.ep}: expected 1 or --gpus")
    if args.prompt_tokens < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--prompt-tokens >= 1, --repeats >= 1, --warmup >= 0 expected")
    return args


def _time(torch, fn, warmup, repeats, dist):                  # pragma: no cover (GPU)
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        dist.barrier()
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        out.append(a.elapsed_time(b) / 1e3)
    return statistics.median(out)


def main(argv=None) -> int:
    args = parse_args(argv)
    folder = Path(args.out) / (f"sharded-{args.model}-tp{args.gpus}"
                               + ("" if args.ep == 1 else f"-ep{args.ep}"))
    if args.dry_run:
        print(f"dry run: {args.model} tp={args.gpus} ep={args.ep}, {args.prompt_tokens} prompt "
              f"tokens; would write {folder}/")
        return 0
    os.environ.update(NCCL_ENV)                                     # pragma: no cover (GPU)
    import torch
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM
    from roofsim.calibration.nvml import Nvml
    dist.init_process_group("nccl")
    rank = dist.get_rank()
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    from roofsim.workloads.hf.build import hf_config
    from roofsim.workloads.hf.configs import model_config
    cfg = hf_config(model_config(args.model))
    kwargs = {"tp_plan": "auto", "torch_dtype": torch.bfloat16}
    model = AutoModelForCausalLM.from_config(cfg, **kwargs).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, args.prompt_tokens), device="cuda")
    state = {}

    def prefill():
        with torch.no_grad():
            state["out"] = model(ids, use_cache=True, logits_to_keep=1)

    def decode():
        with torch.no_grad():
            model(ids[:, :1], past_key_values=state["out"].past_key_values, use_cache=True)

    ttft = _time(torch, prefill, args.warmup, args.repeats, dist)
    prefill()
    tpot = _time(torch, decode, args.warmup, args.repeats, dist)
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sharded.csv").write_text(
            "model,tp,ep,prompt_tokens,stage,wall_median_s\n"
            f"{args.model},{args.gpus},{args.ep},{args.prompt_tokens},prefill,{ttft}\n"
            f"{args.model},{args.gpus},{args.ep},{args.prompt_tokens},decode,{tpot}\n")
        (folder / "provenance.json").write_text(json.dumps({
            "command": " ".join(sys.argv), "date": datetime.now(timezone.utc).isoformat(),
            "torch": torch.__version__, "env": NCCL_ENV, "tp_plan": "auto",
            "nvml": [Nvml(i).snapshot() for i in range(torch.cuda.device_count())]},
            indent=1, default=str))
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
