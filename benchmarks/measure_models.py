"""Measure shipped transformers models end to end on a GPU (issue 12): prefill at P tokens and one
decode step at KV length L, as kernel time and as wall time, with NVML state beside every row.

    PYTHONPATH=. python3 benchmarks/measure_models.py --out $OUT              # on the GPU machine
    PYTHONPATH=. python3 benchmarks/measure_models.py --device cpu --tiny --out /tmp/m   # a check

What runs: each model of --models (workloads/models/<name>.json) built from its config with
random bf16 weights on the device (roofsim.workloads.hf.build: AutoModelForCausalLM, or
AutoModelForImageTextToText for vision-language models; SDPA; transformers' default experts
implementation), fed through the stage cases roofsim captures (roofsim.workloads.hf.cases):
- prefill: P random token ids per row (--prefill, rows --prefill-batch), a fresh KV cache,
           logits of the last position only (logits_to_keep=1, as generation does);
- MoE models: with --routing balanced every top-k router's picks are replaced by balanced
           routing (what capture assumes); by default the random router's own picks stand;
- decode:  one token per row (rows --batch) with a DynamicCache already holding L positions
           (--decode-kv; random K/V of the shapes the model caches, found by a one-token probe);
- vision:  the vision encoder over one --image (vision-language models only).
Per case, after --warmup forwards: wall time from CUDA events around one forward (--repeats,
fresh inputs and a device sync before each; median, min, max) and kernel time from
torch.profiler (sum of GPU kernel durations of one forward and their count, median over
--profile-repeats), NVML state after the case. With --graph, a decode step is also captured as
a CUDA graph over a StaticCache and replayed (wall time per step, row stage decode_graph; and
the replay's kernels under torch.profiler, --profile-repeats times: kernel_s, kernel_count);
where this transformers version cannot do that the row says why (status skipped). With --sms N
everything runs inside a CUDA green context of N SMs (roofsim.calibration.green: an H200 no
profile has seen; provenance.json's sm_restriction records the count probed), and
bench_models_accuracy.py predicts it on `roofsim hardware derive <device> --sms N`.
Outputs under --out/<model>/, written as measured (a run cut short keeps its rows):
  e2e.csv           one row per case
  kernels.csv.gz    every kernel of the last profiled forward of each case
  provenance.json   device snapshot before and after, versions, settings, command, date
Copy each folder to calibration/<device>/e2e/<model>/ (device = roofsim.calibration.device's
id); benchmarks/bench_models_accuracy.py compares them with `roofsim predict --model`. These
measurements are a test set: nothing is fitted to them. Never changes clocks, power or modes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure_e2e import (METHOD, Outputs, Timer, check_repeats,  # noqa: E402  (one harness)
                         measure_case, sdpa_enabled, time_graph)
from roofsim.e2e import DECODE_GRAPH  # noqa: E402

DEFAULT_MODELS = "llama-3.1-8b,qwen3-30b-a3b,qwen2.5-7b,mistral-7b-v0.3,deepseek-v2-lite"
TINY_LAYERS = 2
TINY_PREFILL, TINY_DECODE_KV = "16", "32"
STATE_FIELDS = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "temp_c", "throttle")
ROW_FIELDS = (
    "model", "stage", "batch", "tokens", "kv_len", "image", "layers", "status", "error",
    "wall_median_s", "wall_min_s", "wall_max_s", "wall_repeats",
    "kernel_s", "kernel_min_s", "kernel_max_s", "kernel_count",
    "memcpy_s", "memcpy_count", "memset_s", "memset_count", "profiler_device_s",
    "profile_repeats", "host_s", "host_probe_s", "host_probe_repeats_s",
    "wall_held_median_s", "wall_held_min_s",
) + STATE_FIELDS + ("timestamp",)
# ts: the kernel's start (us, the profiler's clock), so that the gaps between a replayed
# graph's nodes can be read; grid / block: its launch (blocks, threads per block) as CUPTI
# recorded it.
KERNEL_FIELDS = ("stage", "batch", "tokens", "kv_len", "index", "category", "name",
                 "duration_s", "ts", "grid", "block", "op", "input_dims")


def int_list(flag: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"{flag}: {text!r} is not a comma-separated list of integers") from None
    if any(v < 1 for v in values):
        raise SystemExit(f"{flag}: every value must be >= 1")
    return values


def parse_image(text: str) -> tuple[int, int] | None:
    """'WxH' -> (height, width), as roofsim's --image."""
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--image: {text!r} is not WxH (e.g. 1024x1024)") from None
    return h, w


def cases_of(args, mc) -> list[dict]:
    """The (stage, batch, tokens, kv_len, image) cases of one model, in the order run."""
    out = []
    if mc.is_vision_language and args.image:
        out.append({"stage": "vision", "batch": 1, "tokens": 0, "kv_len": 0,
                    "image": args.image})
    for b in args.prefill_batch:
        for p in args.prefill:
            out.append({"stage": "prefill", "batch": b, "tokens": p, "kv_len": 0, "image": None})
    for b in args.batch:
        for kv in args.decode_kv:
            out.append({"stage": "decode", "batch": b, "tokens": 1, "kv_len": kv, "image": None})
            if args.graph:
                out.append({"stage": DECODE_GRAPH, "batch": b, "tokens": 1, "kv_len": kv,
                            "image": None})
    return out


# ---- CUDA graph of a decode step ---------------------------------------------------------

def measure_graph_decode(model, mc, batch: int, kv_len: int, torch, timer: Timer, warmup: int,
                         repeats: int, profile_repeats: int = 0) -> tuple[dict, list[dict]]:
    """(row, kernels): wall time per replay of a decode step captured as a CUDA graph over a
    StaticCache of kv_len + 1 positions (filled by a prefill of kv_len tokens), and, with
    `profile_repeats`, the kernels of the replay as torch.profiler's trace gives them (CUPTI
    records each kernel node of a replayed graph): their summed time and count (median over the
    profiled replays), so that a graph's wall time splits into its kernels and what the graph
    adds between them. Raises where this transformers version cannot run it (the caller
    records the row as skipped)."""
    import transformers
    from roofsim.workloads.hf import build
    if not timer.cuda:
        raise RuntimeError("CUDA graphs need a CUDA device")
    cfg = build.text_config(model)
    cache = transformers.StaticCache(config=cfg, max_cache_len=kv_len + 1)
    kwarg = build.cache_kwarg(model)
    vocab = cfg.vocab_size
    with torch.no_grad():
        model(input_ids=build.token_ids(batch, kv_len, vocab, "cuda"), use_cache=True,
              logits_to_keep=1, **{kwarg: cache})
    lengths = [t for t in (getattr(layer, "cumulative_length", None) for layer in cache.layers)
               if isinstance(t, torch.Tensor)]
    if not lengths:
        raise RuntimeError(f"transformers {transformers.__version__}: StaticCache layers keep "
                           "no device-side length; a replayed step cannot be reset")
    ids = build.token_ids(batch, 1, vocab, "cuda")

    def reset():
        for t in lengths:
            t.fill_(kv_len)

    def step():
        return model(input_ids=ids, use_cache=True, logits_to_keep=1, **{kwarg: cache})

    return time_graph(step, reset, torch, timer, warmup, repeats, profile_repeats)


# ---- main ----------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (created; one folder per model)")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (a check)")
    ap.add_argument("--models", default=DEFAULT_MODELS,
                    help=f"shipped model names or config.json paths (default {DEFAULT_MODELS})")
    ap.add_argument("--prefill", default="512,4096", help="prompt tokens P (default 512,4096)")
    ap.add_argument("--prefill-batch", default="1", help="prefill batch rows (default 1)")
    ap.add_argument("--decode-kv", default="1024,8192",
                    help="KV length L of the decode step (default 1024,8192)")
    ap.add_argument("--batch", default="1", help="decode batch rows (default 1)")
    ap.add_argument("--image", default="1024x1024",
                    help="image WxH of the vision stage of vision-language models ('' for none)")
    ap.add_argument("--routing", default="model", choices=("model", "balanced"),
                    help="MoE routing: the random-weight router's own picks (model), or "
                         "balanced as capture assumes (roofsim.reference.routing."
                         "force_balanced_routing): random routers send most tokens to a few "
                         "experts")
    ap.add_argument("--graph", action="store_true",
                    help="also time a decode step replayed as a CUDA graph (StaticCache)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--profile-repeats", type=int, default=3)
    ap.add_argument("--tiny", action="store_true",
                    help=f"{TINY_LAYERS} layers per model, P={TINY_PREFILL}, L={TINY_DECODE_KV} "
                         "unless given (CPU check)")
    ap.add_argument("--budget", type=float, default=0.0,
                    help="stop starting new cases after this many seconds (0: no limit)")
    ap.add_argument("--sms", type=int, default=0,
                    help="run on N of the GPU's SMs (a CUDA green context; 0: the whole GPU)")
    args = ap.parse_args(argv)
    check_repeats(args)
    t_start = time.perf_counter()
    if args.tiny:
        args.prefill = TINY_PREFILL if args.prefill == ap.get_default("prefill") else args.prefill
        args.decode_kv = TINY_DECODE_KV if args.decode_kv == ap.get_default("decode_kv") \
            else args.decode_kv
        args.image = "112x112" if args.image == ap.get_default("image") else args.image
    args.prefill = int_list("--prefill", args.prefill)
    args.prefill_batch = int_list("--prefill-batch", args.prefill_batch)
    args.decode_kv = int_list("--decode-kv", args.decode_kv)
    args.batch = int_list("--batch", args.batch)
    args.image = parse_image(args.image)

    import torch
    import transformers
    from roofsim.calibration.device import current_device_name, device_id
    from roofsim.calibration.nvml import Nvml
    from roofsim.calibration.run import host_cpu
    from roofsim.errors import UserError
    from roofsim.reference.routing import force_balanced_routing
    from roofsim.workloads.hf import build, cases
    from roofsim.workloads.hf.configs import model_config

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device (use --device cpu --tiny for a check)")
    try:
        models = [model_config(m) for m in args.models.split(",") if m]
    except UserError as err:
        raise SystemExit(str(err)) from None
    if args.tiny:
        models = [mc.with_layers(TINY_LAYERS) for mc in models]
    dtype = torch.bfloat16
    nv = Nvml()
    name = current_device_name() if args.device.startswith("cuda") else "cpu"
    restriction = None
    if args.sms:
        from roofsim.calibration.green import restrict_sms
        try:
            restriction = restrict_sms(args.sms)
        except UserError as err:
            raise SystemExit(str(err)) from None
    dev_id = device_id(name) + (f"-sm{restriction.sms}" if restriction else "")
    timer = Timer(torch, args.device)
    out_root = Path(args.out)
    command = " ".join(["measure_models.py"] + (sys.argv[1:] if argv is None else list(argv)))
    print(f"device {name} ({dev_id}), torch {torch.__version__}, transformers "
          f"{transformers.__version__}", flush=True)
    results, stopped = [], False
    for mc in models:
        if stopped:
            break
        out = out_root / mc.name
        out.mkdir(parents=True, exist_ok=True)
        prov = {
            "what": f"roofsim transformers workload {mc.name}: prefill and one decode step",
            "model": mc.name, "config_source": mc.source, "config": dict(mc.raw),
            "device_id": dev_id, "device_name": name,
            "sm_restriction": restriction.as_dict() if restriction else None,
            "device_before": nv.snapshot(), "torch": torch.__version__,
            "cuda": getattr(torch.version, "cuda", None),
            "transformers": transformers.__version__, "python": platform.python_version(),
            "host": platform.node(), "host_cpu": host_cpu(), "command": command,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": {"prefill": args.prefill, "prefill_batch": args.prefill_batch,
                         "decode_kv": args.decode_kv, "batch": args.batch,
                         "image": f"{args.image[1]}x{args.image[0]}" if args.image else None,
                         "graph": args.graph, "warmup": args.warmup, "repeats": args.repeats,
                         "profile_repeats": args.profile_repeats, "dtype": "bfloat16",
                         "attention": build.ATTENTION_IMPLEMENTATION,
                         "experts": "transformers' default", "layers": mc.layers,
                         "routing": args.routing,
                         "tiny": args.tiny, "device": args.device},
            "method": METHOD + "; random weights",
        }
        if args.device.startswith("cuda"):
            prov["sdpa"] = sdpa_enabled(torch)
        (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str) + "\n")
        t0 = time.perf_counter()
        try:
            model = build.build_model(mc, args.device, dtype)
            if args.routing == "balanced":
                prov["settings"]["routers_balanced"] = force_balanced_routing(model)
            shapes = build.kv_shapes(model, args.device)
        except Exception as err:  # a model that does not build here: say so, go on
            print(f"{mc.name}: cannot build ({type(err).__name__}: {err})", flush=True)
            prov["error"] = f"{type(err).__name__}: {err}"[:300]
            (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str) + "\n")
            continue
        timer.sync()
        print(f"{mc.name}: built in {time.perf_counter() - t0:.1f} s", flush=True)
        outputs = Outputs(out, ROW_FIELDS, KERNEL_FIELDS, nv)
        try:
            for c in cases_of(args, mc):
                if args.budget and time.perf_counter() - t_start > args.budget:
                    print(f"budget reached: {mc.name} {c['stage']} b={c['batch']} and later "
                          "cases not measured", flush=True)
                    stopped = True
                    break
                base = {"model": mc.name, "stage": c["stage"], "batch": c["batch"],
                        "tokens": c["tokens"], "kv_len": c["kv_len"],
                        "image": f"{c['image'][1]}x{c['image'][0]}" if c["image"] else "",
                        "layers": mc.num_layers}
                kernels = []
                try:
                    if c["stage"] == DECODE_GRAPH:
                        try:
                            row, kernels = measure_graph_decode(
                                model, mc, c["batch"], c["kv_len"], torch, timer, args.warmup,
                                args.repeats, args.profile_repeats)
                            row.update(status="ok", error="")
                        except Exception as err:
                            row = {"status": "skipped",
                                   "error": f"{type(err).__name__}: {err}"[:300]}
                    else:
                        if c["stage"] == "vision":
                            case = cases.vision_case(model, mc, c["image"], device=args.device,
                                                     dtype=dtype)
                        elif c["stage"] == "prefill":
                            case = cases.prefill_case(model, mc, c["tokens"], batch=c["batch"],
                                                      device=args.device, dtype=dtype)
                        else:
                            case = cases.decode_case(model, mc, c["kv_len"], batch=c["batch"],
                                                     device=args.device, dtype=dtype,
                                                     shapes=shapes)
                        row, kernels = measure_case(case, torch, timer, args.warmup,
                                                    args.repeats, args.profile_repeats)
                        row.update(status="ok", error="")
                except Exception as err:  # OOM or an op that refuses: record it and go on
                    row = {"status": "failed", "error": f"{type(err).__name__}: {err}"[:300]}
                if timer.cuda:
                    torch.cuda.empty_cache()
                row.update(base)
                results.append(outputs.write(row, kernels, {
                    k: c[k] for k in ("stage", "batch", "tokens", "kv_len")}))
                print(f"{mc.name:<18} {c['stage']:<12} b={c['batch']:<3} P={c['tokens']:<5} "
                      f"L={c['kv_len']:<5} {row['status']:<7} wall "
                      f"{row.get('wall_median_s', float('nan')) * 1e3:9.3f} ms  kernel "
                      f"{row.get('kernel_s', float('nan')) * 1e3:9.3f} ms "
                      f"({row.get('kernel_count', 0)} kernels)  {row['error']}", flush=True)
        finally:
            outputs.close()
            prov["device_after"] = nv.snapshot()
            prov["elapsed_s"] = round(time.perf_counter() - t0, 1)
            (out / "provenance.json").write_text(json.dumps(prov, indent=1, default=str) + "\n")
            del model
            if timer.cuda:
                torch.cuda.empty_cache()
    failed = [r for r in results if r["status"] == "failed"]
    print(f"\n{len(results)} cases, {len(failed)} failed, {time.perf_counter() - t_start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
