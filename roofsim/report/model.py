"""The report of a transformers model (`roofsim report --model NAME`): what the model is, what
one request costs stage by stage (captured from its implementation), the TTFT / TPOT predicted
on the hardware with the bound that dominates, and two sweeps (prompt length: TTFT; batch:
TPOT) written as CSV, JSON and figures like DeepSeek-OCR's sweeps.

DeepSeek-OCR's report (roofsim.report.build) reproduces its specification; a transformers model
has no specification, so its report is this shorter one.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import units
from ..io import atomic_write_text
from ..objectives import tpot_requirement, ttft_requirement
from ..predict import predict_request
from ..sources import WorkloadSource
from ..sweep import model_points, run_sweep, write_outputs
from ..workloads import DEFAULT_PROMPT_TOKENS, Request, workload
from ..workloads.hf.summary import model_summary
from .markdown import Table, fixed, sig, text
from .options import ReportResult

# (stem, sweep kind, knob, values): prompt length against TTFT, batch against TPOT.
MODEL_SWEEPS = (
    ("prefill_tokens", "vision-prefill", "prefill-tokens", (512, 1024, 2048, 4096, 8192)),
    ("batch", "decode", "batch", (1, 2, 4, 8, 16, 32)),
)


def _describe(wl, request) -> str:
    d = wl.describe(request)
    return f"image {d['image']} ({d['image_tokens']} tokens), " if "image" in d else ""


def _ms(s) -> float:
    return units.to_ms(s) if s is not None else float("nan")


def build_model_report(opts):
    """Write <out>/report.md and the sweeps for opts.model (roofsim.report.ReportOptions)."""
    t0 = time.perf_counter()
    out = Path(opts.out_dir)                # build_report's staging folder (it exists)
    wl = workload(opts.model)
    hw = opts.hardware
    hw_name = getattr(hw, "name", "") or getattr(hw, "id", "")
    s = model_summary(wl.config)
    prompt = opts.prompt_tokens if opts.prompt_tokens is not None else DEFAULT_PROMPT_TOKENS
    request = Request(prompt_tokens=prompt, decode_tokens=opts.decode_tokens, image=opts.image)
    ev = WorkloadSource(wl).evaluate(request)
    p = predict_request(wl, request, hardware=hw, profile=opts.calibration)
    tables = {
        "model": Table("model", ("field", "value"), tuple(
            (k, v) for k, v in (("model", wl.name), ("type", s["model_type"]),
                                ("config", s["source"]), ("parameters", f"{s['parameters']:,}"),
                                ("active parameters", f"{s['active_parameters']:,}"),
                                ("layers", s["layers"]),
                                ("experts (top-k / routed)",
                                 f"{s['top_k']} / {s['experts']}" if s["experts"] else "-"),
                                ("vision encoder", "yes" if s["vision_language"] else "no")))),
        "stage_costs": Table(
            "stage_costs", ("Stage", "Tensor TFLOPs", "CUDA-core TFLOPs", "GB moved",
                            "Weight GB read", "KV cache GB", "Launches"),
            tuple((st, units.to_tflops(c.flops_tensor), units.to_tflops(c.flops_cuda),
                   units.to_gb(c.io_bytes), units.to_gb(c.weight_bytes),
                   units.to_gb(c.kv_cache_bytes), c.launches) for st, c in ev.costs.items()),
            (text, sig(4), sig(4), sig(4), sig(4), sig(4), fixed(0)),
            caption=f"Captured cost of one request: {_describe(wl, request)}prompt {prompt} "
                    f"tokens, K = {request.decode_tokens} decode steps (the decode row covers "
                    "all K)."),
        "prediction": Table(
            "prediction", ("Stage", f"Kernel ms ({hw_name})", "Kernels", "Bound",
                           "Calibrated"),
            tuple((("decode step" if st == "decode" else st), _ms(t.kernel_s), t.launches,
                   t.bound, f"{t.calibrated_fraction:.0%}") for st, t in p.stages.items()),
            (text, sig(4), fixed(0), text, text),
            caption=f"TTFT {_ms(p.ttft_s):.4g} ms, TPOT {_ms(p.tpot_s):.4g} ms on {hw_name}"
                    f"{' (calibration ' + p.calibration + ')' if p.calibration else ''}: GPU "
                    "kernel time, the sum of per-kernel times."),
    }
    sweeps, figures = {}, []
    budgets = opts.budgets
    for stem, kind, knob, values in MODEL_SWEEPS:
        points = model_points([(knob, list(values))], wl, prompt_tokens=prompt,
                              decode_tokens=opts.decode_tokens, image=opts.image)
        res = run_sweep(kind, points, [WorkloadSource(wl)], hardware=hw,
                        profile=opts.calibration, x_key=knob)
        folder = out / "sweep" / stem
        write_outputs(res, folder, stem=stem)
        sweeps[stem] = res
        if opts.figures:
            from ..plots import draw_all
            for _, paths in draw_all(res, folder, stem, budgets, hw_name):
                figures += [Path(x) for x in paths]
        rows = []
        for i, pt in enumerate(res.points):
            c, pr = res.costs["captured"][i], res.predictions["captured"][i]
            rows.append((pt.label,
                         units.to_tflops(ttft_requirement(c, budgets.ttft_s).flops_per_s),
                         units.to_tflops(tpot_requirement(c, pt.request.decode_tokens,
                                                          budgets.tpot_s).flops_per_s),
                         _ms(pr.ttft_s), pr.ttft_bound, _ms(pr.tpot_s), pr.tpot_bound))
        tables[f"sweep_{stem}"] = Table(
            f"sweep_{stem}", ("Point", "TTFT req TFLOP/s", "TPOT req TFLOP/s",
                              f"TTFT ms ({hw_name})", "TTFT bound", f"TPOT ms ({hw_name})",
                              "TPOT bound"),
            tuple(rows), (text, sig(4), sig(4), sig(4), text, sig(4), text),
            caption=f"Sweep of {knob} (data: sweep/{stem}/{stem}.csv, .json); budgets TTFT "
                    f"{budgets.ttft_s:g} s, TPOT {budgets.tpot_s:g} s per token.")
    md = [f"# {wl.name}: roofsim report", "",
          f"Generated by `{opts.command}`: the model built from its config on meta (no weights) "
          "and captured from its transformers implementation; time from roofsim's engine.", ""]
    for key, t in tables.items():
        md += [f"## {key.replace('_', ' ').capitalize()}", "", t.markdown(), ""]
        if t.caption:
            md += [t.caption, ""]
    links = [Path(f).relative_to(out).as_posix() for f in figures]
    md += [f"![{f}]({f})" for f in links if f.endswith(".svg")]
    path = atomic_write_text(out / "report.md", "\n".join(md) + "\n", what="report")
    notes = {"model": "; ".join(p.notes)} if p.notes else {}
    return ReportResult(path=path, out_dir=out, tables={k: t.as_dict() for k, t in tables.items()},
                        figures=figures, sweeps=sweeps, notes=notes,
                        elapsed_s=time.perf_counter() - t0)
