"""The report's Markdown text: the specification's sections, in its order, with every table and
figure generated, plus the predicted latency on the chosen hardware."""

from __future__ import annotations

from .. import units
from ..errors import UserError
from ..sources import SOURCE_LABELS
from ..sweep import SWEEP_DIRS
from .markdown import bullet_list, figure

# ---- per-layer check -------------------------------------------------------------------------

def verification_rows(cfg, reference: bool = True) -> list[dict]:
    """Rows of the per-layer check: per verification layer the analytic FLOPs and, when the
    reference can be captured, the captured FLOPs (roofsim.verify.layer_verification), their
    relative difference and the status against roofsim.verify's tolerance."""
    if reference:
        try:
            from ..verify import layer_verification
            return [{"group": r.group, "layer": r.layer, "impl_class": r.impl_class,
                     "analytic_gflops": r.theoretical_flops / 1e9,
                     "reference_gflops": r.measured_flops / 1e9,
                     "counter_gflops": r.captured_tensor_flops / 1e9,
                     "rel_diff_percent": abs(r.rel_diff) * 100, "status": r.status,
                     "note": r.note, "explanation": r.explanation}
                    for r in layer_verification(cfg)]
        except (ImportError, UserError) as err:   # torch / transformers missing or too old
            why = f"reference capture unavailable: {err}"
    else:
        why = "reference not requested"
    from ..workloads import deepseek_ocr as ds
    return [{"group": v.group, "layer": v.name, "impl_class": v.impl_class,
             "analytic_gflops": ds.layer_records(cfg, v.name).totals()["flops"] / 1e9,
             "reference_gflops": None, "counter_gflops": None, "rel_diff_percent": None,
             "status": "n/a",
             "note": v.note, "explanation": "", "why": why}
            for v in ds.VERIFICATION_LAYERS]


def end_to_end_rows(reference: bool, prompt_tokens: int, decode_tokens: int) -> dict:
    """roofsim verify's end-to-end check (vision-only, prefill, decode and the full model per
    crop grid, analytic against captured), or {"why": reason} when the reference is missing."""
    if not reference:
        return {"why": "reference not requested"}
    try:
        from ..verify import verification_report
        return verification_report(prompt_tokens=prompt_tokens, decode_tokens=decode_tokens,
                                   layers=False)
    except (ImportError, UserError) as err:   # torch / transformers missing or too old
        return {"why": f"reference capture unavailable: {err}"}


def _end_to_end(e2e: dict) -> str:
    from ..verify import E2E_HEADERS, e2e_cells, e2e_explanations
    from .markdown import Table
    out = ["### End-to-end verification: vision-only and full model per crop grid\n"]
    if "end_to_end" not in e2e:
        out.append(f"Unavailable in this run ({e2e.get('why', 'no reference')}); "
                   "`roofsim verify --e2e-only` prints it.\n")
        return "\n".join(out)
    rows = e2e["end_to_end"]
    tol = e2e["tolerance"]
    out.append(f"The analytic model (flash attention, model accounting, LM head on the last "
               f"position) against the kernels captured from the reference for whole stages: "
               f"vision only, prefill, decode ({rows['decode_tokens']} steps) and the full "
               f"model, at {rows['prompt_tokens']} prompt tokens; FLOPs, bytes moved and "
               f"kernel launches (`roofsim verify --e2e-only` prints the same).\n")
    out.append(Table("end_to_end", E2E_HEADERS,
                     tuple(tuple(e2e_cells(r)) for r in rows["rows"])).markdown() + "\n")
    expl = e2e_explanations(rows, tol)
    if expl:
        out.append(f"Every difference over {100 * tol:g}%, by kernel kind (captured - "
                   f"analytic):\n")
        out.append(bullet_list([f"{head}: " + " ".join(lines) for head, lines in expl]) + "\n")
    return "\n".join(out)


def _cuda_core_note(cfg, opts, grid) -> str:
    """Why the CUDA-core column is not the specification's: what roofsim counts, by kind."""
    from ..workloads import deepseek_ocr as ds
    from .markdown import Table, sig
    req = ds.Request(grid=grid, prompt_tokens=opts.prompt_tokens if opts.prompt_tokens
                     is not None else 10, decode_tokens=opts.decode_tokens)
    tables = ds.stage_records(cfg, req, attention="flash", lm_head=opts.lm_head,
                              accounting=opts.accounting)
    by_kind: dict[str, dict[str, float]] = {}
    for stage, t in tables.items():
        cuda = t.flops_cuda * t.count
        for kind in dict.fromkeys(t.kind.astype(str)):
            v = float(cuda[t.kind == kind].sum())
            if v > 0:
                by_kind.setdefault(kind, {})[stage] = v
    order = sorted(by_kind, key=lambda k: -sum(by_kind[k].values()))
    rows = tuple((k, *(by_kind[k].get(s, 0.0) / 1e9 for s in ds.STAGES)) for k in order)
    rows += (("total", *(sum(r[j] for r in rows) for j in range(1, 4))),)
    g = f"{grid[0]}x{grid[1]}"
    steps = opts.decode_tokens
    gate = by_kind.get("linear", {}).get("decode", 0.0) / max(steps, 1)
    table = Table("cuda_core_by_kind", ("Kernel kind", "Vision (GFLOPs)", "Prefill (GFLOPs)",
                                        f"Decode, K = {steps} (GFLOPs)"), rows,
                  (str, sig(4), sig(4), sig(4)))
    return (
        "**Why the CUDA-core column differs from the specification's.** The specification's "
        "CUDA-core FLOPs are 3 to 70 times below roofsim's, and its decode column is the same "
        "4.408e-05 TFLOPs (K = 100) at every crop grid: it does not grow with the context, so "
        "it leaves out the attention work that does (the score scaling and softmax over every "
        "cached key), and at 0.44 MFLOP per step it is also below the fp32 MoE-gate product "
        f"alone ({gate / 1e6:.3g} MFLOP per step here: a float32 matrix product, CUDA-core "
        "work with TF32 off). roofsim counts every non-matrix operation the kernels run, with "
        "the per-element counts of kernels/README.md (softmax 5, LayerNorm 5, RMSNorm 3, GELU "
        "4, SiLU 4, rotary 3, residual and bias adds 1) plus float32 matrix products. The "
        "specification's vision column does grow with roofsim's GELU counts per crop, but no "
        "one convention (a subset of kernel kinds with fixed per-element counts) was found "
        "that reproduces its vision, prefill and decode tables together, so `--accounting "
        "report` keeps roofsim's CUDA-core count and reproduces the tensor-core column only. "
        f"roofsim's CUDA-core FLOPs by kernel kind at grid {g}:\n\n"
        + table.markdown() + "\n")


def _tolerance_percent() -> float:
    try:
        from ..verify import TOLERANCE
        return TOLERANCE * 100
    except ImportError:  # pragma: no cover
        return 1.0


# ---- text ------------------------------------------------------------------------------------

def _fig(folder: str, name: str, alt: str) -> str:
    return figure(f"sweep/{folder}/{name}.svg", alt) + f"  \n[PNG](sweep/{folder}/{name}.png)"


def _figures(result, stem: str, budgets, hw_name: str, only=None) -> str:
    from ..plots import figure_plan
    parts = []
    for spec in figure_plan(result, stem, budgets, hw_name):
        if only is not None and spec.name not in only:
            continue
        parts.append(spec.caption + "\n\n" + _fig(stem, spec.name, "DeepSeek-OCR " + spec.caption))
    return "\n\n".join(parts)


def _data_links(stem: str) -> str:
    return (f"Data: [`sweep/{stem}/{stem}.csv`](sweep/{stem}/{stem}.csv), "
            f"[`sweep/{stem}/{stem}.json`](sweep/{stem}/{stem}.json) (SI units).")


def render(*, opts, hw, cfg, sweeps, knob_results, profiles, prof_result, tables, notes,
           elapsed_s, version, verification, knob_specs=(), end_to_end=None) -> str:
    from ..workloads import deepseek_ocr as ds
    budgets = opts.budgets
    hw_name = getattr(hw, "name", "") or getattr(hw, "id", "")
    vis = sweeps[SWEEP_DIRS["vision"]]
    dec = sweeps[SWEEP_DIRS["decode"]]
    vp = sweeps[SWEEP_DIRS["vision-prefill"]]
    has_ref = vis.available("reference")
    counts = ds.parameter_counts(cfg)
    e = cfg.element_bytes
    k = opts.decode_tokens
    prompt = vis.points[0].request.prompt_tokens
    L = []
    add = L.append

    add("# DeepSeek-OCR Analytical Performance Report\n")
    add(f"Generated by roofsim {version} (`{opts.command}`) in {elapsed_s:.1f} s, offline, "
        f"without a GPU. Every table and figure below is computed by roofsim: the analytic "
        f"workload (`roofsim.workloads.deepseek_ocr`), the captured reference implementation "
        f"(`roofsim.reference`, traced on meta tensors) and the per-kernel roofline engine "
        f"(`roofsim.engine`).\n")

    add("## Overview and Scope\n")
    items = [
        f"Model: {cfg.name} ({counts['total']:,} parameters, "
        f"{counts['total'] * e / 1e9:.2f} GB in {cfg.dtype}; about "
        f"{counts['activated_per_decoded_token'] / 1e6:.0f}M activated per decoded token).",
        f"Sources compared: {', '.join(SOURCE_LABELS[s] for s in vis.sources)}."
        + ("" if has_ref else " The reference is unavailable in this run: "
           + notes.get("reference", "capture failed") + "; its columns show n/a."),
        f"Accounting: `{opts.accounting}` "
        + ("(the real computation: causal prefill attention, the model's projector)"
           if opts.accounting == "model" else
           "(the specification's counting conventions)")
        + f"; LM head over {'the last prefill position' if opts.lm_head == 'last' else 'every prefill position'}"
        + (". `--accounting report --lm-head all` counts as the specification does (full "
           "prefill score matrix, its projector convention, logits for every position); "
           "roofsim's tests check that convention against the specification's sweep tables"
           if opts.accounting == "model" else "") + ".",
        f"Sweeps: {len(vis.points)} crop grids (Gundam mode: one 1024 global view plus "
        f"640 crops), prompt {prompt} tokens, decode K = {k} steps, batch 1.",
        f"Objectives: TTFT budget {budgets.ttft_s:g} s (vision + prefill), TPOT budget "
        f"{units.to_ms(budgets.tpot_s):g} ms per token (decode).",
        f"Hardware for predicted latency: {hw_name} (`{getattr(hw, 'id', '')}`)"
        + (f", calibrated by {opts.calibration_name}. " + _calibration_sentence(opts, hw)
           if opts.calibration is not None
           else ", roofline with the efficiencies of its hardware file (no calibration profile)."),
        "Units: FLOPs are 2 x multiply-accumulates; TFLOPs = 1e12 FLOPs; GB = 1e9 bytes; "
        "activation I/O in terabits (1e12 bits); arithmetic intensity in FLOPs per bit of "
        "activation I/O, as the specification plots it.",
    ]
    add(bullet_list(items) + "\n")
    other_notes = {kk: v for kk, v in notes.items() if kk != "reference"}
    if other_notes:
        add("Notes from this run:\n\n" + bullet_list(sorted(set(other_notes.values()))) + "\n")

    # -- per-layer check
    add("## Per-Layer Sanity Check (Layer-wise Verification)\n")
    ref_layers = any(r["reference_gflops"] is not None for r in verification)
    add("Each analytic layer at the specification's settings (one 1024 x 1024 global view; SAM "
        "at 64 x 64 tokens, CLIP at 257 tokens, decoder layers at 512 tokens, batch 1), against "
        "the FLOPs captured from the reference implementation of the same layer. "
        + ("" if ref_layers else "The reference column is unavailable in this run ("
           + (verification[0].get("why", "") if verification else "") + ").")
        + f" A row is marked ✓ within {_tolerance_percent():g}% (`roofsim verify` prints the "
          f"same check with bytes and kernel launches). The FLOP-counter column is what the "
          f"specification's Measured column counts: the captured tensor-core FLOPs only "
          f"(torch.utils.flop_counter sees matrix products, not softmax, norms or "
          f"activations).\n")
    add(tables["verification"].markdown() + "\n")
    off = [r for r in verification if r["status"] == "✗"]
    if off:
        add("Rows outside the tolerance, and why:\n\n" + bullet_list(
            [f"`{r['layer']}`: {r['explanation']}" for r in off]) + "\n")
    add("The following table maps analytic layers to their reference implementation classes.\n")
    add(tables["impl_classes"].markdown() + "\n")
    add(_end_to_end(end_to_end or {}))

    # -- sweeps
    add("## Cost vs. Sweep\n")
    add("How FLOPs, I/O and memory scale with the input shape and the decoder's parameters. "
        "The x axis of the crop-grid figures is the number of image tokens the decoder sees "
        "(global view + crops, newline and separator tokens included); the crop grid of each "
        "point is written above the plot as `[rows]x[cols]` (thinned where labels would "
        "overlap). `roofsim sweep vision|decode|vision-prefill` produces each sweep alone.\n")

    add("### Vision Input Shape Sweeps\n")
    add("The vision stage (SAM, compressor, CLIP, projector) over the global view and every "
        "crop. Crops are stacked in the batch dimension at a fixed 640 x 640 resolution, so "
        "vision cost grows linearly with the number of crops (attention is quadratic only "
        "within a tile).\n")
    add(_data_links(SWEEP_DIRS["vision"]) + "\n")
    add(_figures(vis, SWEEP_DIRS["vision"], budgets, hw_name) + "\n")
    add("The FLOP split of the analytic vision path (flash attention) at each crop grid, with "
        "the total of the other sources:\n")
    add(tables["vision_split"].markdown() + "\n")
    add(_cuda_core_note(cfg, opts, vis.points[0].request.grid or (1, 1)))

    add("### Sequence Length and Decoder Sweeps\n")
    add(f"Decode over the same crop grids, K = {k} decode steps after a prefill of image tokens "
        f"+ {prompt} prompt tokens; FLOPs, I/O and memory are totals over the K steps.\n")
    add(_data_links(SWEEP_DIRS["decode"]) + "\n")
    add(_figures(dec, SWEEP_DIRS["decode"], budgets, hw_name,
                 only=[s for s in _plan_names(dec, SWEEP_DIRS["decode"], budgets, hw_name)
                       if not s.startswith(("responsive_", "predicted_"))]) + "\n")
    add(f"The analytic decode FLOP split (K = {k} decode steps) for each crop grid:\n")
    add(tables["decode_split"].markdown() + "\n")
    if knob_results:
        add("#### Prefill context length, decode length K, batch size B and head configuration\n")
        add("Each sweep varies one knob around a base request of one Gundam global view "
            f"({next(iter(knob_results.values())).points[0].image_tokens} image tokens), "
            f"{prompt} prompt tokens, K = {k}, B = 1 and the model's heads "
            "(`roofsim sweep decode --vary batch=1,2,4,8` and so on). Changing the head count "
            "keeps the hidden size (head_dim = hidden / heads, KV heads follow); changing the KV "
            f"heads keeps the {cfg.decoder.heads} query heads (grouped-query attention shrinks "
            "the KV cache). The "
            "reference runs batch 1 with the model's own heads, so it has no value elsewhere.\n")
        titles = {"prefill_tokens": "Prefill context length S_prefill",
                  "decode_tokens": "Decode length K", "batch": "Batch size B",
                  "heads": "Head configuration: attention heads",
                  "kv_heads": "Head configuration: KV heads (grouped-query attention)"}
        from .options import knob_figure_names
        figs = {ks[0]: knob_figure_names(ks) for ks in knob_specs}
        for stem, res in knob_results.items():
            add(f"##### {titles.get(stem, stem)}\n")
            add(_data_links(stem) + "\n")
            add(_figures(res, stem, budgets, hw_name, only=figs[stem]) + "\n")
            add(tables[f"knob_{stem}"].markdown() + "\n")

    add("### Combined Workload Profiles\n")
    add("Vision + prefill (everything before the first output token) over the crop grids. "
        "The FLOPs figure breaks the analytic flash path into its components: vision encoder, "
        "decoder layers and LM head.\n")
    add(_data_links(SWEEP_DIRS["vision-prefill"]) + "\n")
    add(_figures(vp, SWEEP_DIRS["vision-prefill"], budgets, hw_name,
                 only=[s for s in _plan_names(vp, SWEEP_DIRS["vision-prefill"], budgets, hw_name)
                       if not s.startswith(("responsive_", "predicted_"))]) + "\n")
    add("The analytic vision+prefill FLOP split for each crop configuration:\n")
    add(tables["vision_prefill_split"].markdown() + "\n")
    add("#### Named OCR workloads\n")
    add("Realistic requests from `workloads/profiles.yaml`: image size, mode, prompt and output "
        "length; the crop grid is the one DeepSeek-OCR's preprocessor picks for the image. "
        "Data: [`profiles/profiles.csv`](profiles/profiles.csv), "
        "[`profiles/profiles.json`](profiles/profiles.json).\n")
    add(bullet_list([f"`{p.name}`: {p.description}" for p in profiles]) + "\n")
    add(tables["profiles"].markdown() + "\n")

    # -- objectives
    add("## Objective-based Analysis\n")
    add("Two user-facing objectives: time to first token (TTFT) for vision + prefill, and time "
        "per output token (TPOT) for decode. The required throughput is the stage's FLOPs over "
        "the budget; the required bandwidth is the bytes the stage moves to and from device "
        "memory (weights included) over the budget. Neither assumes any efficiency: they are "
        "what a GPU must sustain.\n")
    add("### Time-to-first-token (TTFT): vision+prefill\n")
    add(f"TTFT budget: {budgets.ttft_s:g} s for vision + prefill.\n")
    add(_figures(vp, SWEEP_DIRS["vision-prefill"], budgets, hw_name,
                 only=["responsive_tflops_by_ttft", "responsive_bandwidth_by_ttft"]) + "\n")
    add(f"For each crop grid, the compute throughput (analytic flash attention) and the "
        f"bandwidth required to meet the {budgets.ttft_s:g} s TTFT budget:\n")
    add(tables["ttft_required"].markdown() + "\n")
    add("### Time-per-output-token (TPOT): decode\n")
    add(f"TPOT budget: {units.to_ms(budgets.tpot_s):g} ms per token. The decode stage's work "
        f"over K = {k} steps is divided by K (the per-token average) and by the budget.\n")
    add(_figures(dec, SWEEP_DIRS["decode"], budgets, hw_name,
                 only=["responsive_tflops_by_tpot", "responsive_bandwidth_by_tpot"]) + "\n")
    add(tables["tpot_required"].markdown() + "\n")

    # -- predicted latency
    add(f"## Predicted latency on {hw_name}\n")
    add(_predicted_intro(hw, opts) + "\n")
    add(_figures(vp, SWEEP_DIRS["vision-prefill"], budgets, hw_name, only=["predicted_ttft"]))
    add("\n")
    add(_figures(dec, SWEEP_DIRS["decode"], budgets, hw_name, only=["predicted_tpot"]) + "\n")
    add("Per crop grid (prompt and K as in the sweeps):\n")
    add(tables["predicted_grid"].markdown() + "\n")
    add("Per named workload:\n")
    add(tables["predicted_profiles"].markdown() + "\n")
    add(_bandwidth_summary(tables, hw, budgets) + "\n")
    if has_ref:   # issue 16: what a clock shows, eager and as a CUDA graph
        from .walls import wall_section
        picks = sorted({0, len(vis.points) // 2, len(vis.points) - 1})
        add(wall_section(hw, opts.calibration, grids=[vis.points[i].request.grid for i in picks],
                         prompt_tokens=prompt, decode_tokens=k,
                         calibration_name=opts.calibration_name))
    if has_ref:   # issue 7: the reference against the flash ideal, at the largest grid
        from .headroom import headroom_section
        add(headroom_section(hw, opts.calibration, grid=vis.points[-1].request.grid,
                             prompt_tokens=prompt, decode_tokens=k,
                             calibration_name=opts.calibration_name))

    # -- appendix
    add("## Appendix: StageCost field definitions\n")
    add("`roofsim.records.StageCost` summarizes one stage (vision, prefill, decode; "
        "vision+prefill adds two). Inside roofsim every field is in SI units; the report "
        "converts at the edge.\n")
    add(bullet_list([
        "`flops_tensor`, `flops_cuda`: total stage FLOPs on tensor cores (matrix products on "
        "bf16/fp16/fp8/tf32) and on CUDA cores (everything else); the report prints TFLOPs.",
        "`activation_io_bytes`: activation reads and writes between on-chip memory and device "
        "memory, weights excluded (`io_bytes` includes them); printed in terabits.",
        "`arithmetic_intensity`: total FLOPs over activation I/O, FLOPs per byte inside "
        "roofsim; printed as FLOPs per bit (divided by 8).",
        "`activation_peak_bytes`: peak live activation memory, modelled as the largest "
        "single-kernel activation working set plus the residual stream kept across it; printed "
        "in GB. Capture does not see allocator lifetimes, so the reference has none (n/a).",
        "`kv_cache_bytes`: the KV cache held at the end of the stage, 2 (K, V) x layers x KV "
        f"heads x head_dim x element size = {ds.kv_cache_bytes_per_token(cfg):,} bytes per "
        "cached token for DeepSeek-OCR; printed in GB.",
        "`weight_bytes`: parameter bytes the stage reads, each launch counted.",
    ]) + "\n")
    add(f"Parameter footprint: DeepSeek-OCR has {counts['total']:,} parameters, "
        f"{counts['total'] * e / 1e9:.2f} GB in {cfg.dtype}, constant across crop grids (the "
        f"specification's 2.17 GB does not match the model); about "
        f"{counts['activated_per_decoded_token']:,} parameters are activated per decoded "
        f"token (6 of 64 routed experts per MoE layer).\n")
    add(tables["parameters"].markdown() + "\n")
    return "\n".join(L)


def _plan_names(result, stem, budgets, hw_name) -> list[str]:
    from ..plots import figure_plan
    return [s.name for s in figure_plan(result, stem, budgets, hw_name)]


def _predicted_intro(hw, opts) -> str:
    eff = getattr(hw, "efficiency", {})
    bf16 = hw.tensor_peak_flops("bfloat16") / 1e12 if hasattr(hw, "tensor_peak_flops") else 0
    return (f"The engine's per-kernel roofline on {getattr(hw, 'name', '')}: bf16 tensor peak "
            f"{bf16:g} TFLOP/s, memory {getattr(hw, 'mem_bandwidth_gbps', 0):g} GB/s, "
            f"efficiencies tensor {eff.get('tensor_core', 0):g} / CUDA "
            f"{eff.get('cuda_core', 0):g} / memory {eff.get('memory', 0):g}, launch floor "
            f"{getattr(hw, 'launch_overhead_us', {}).get('cuda_graph', 0):g} us per kernel "
            f"(CUDA graph). TTFT = vision + prefill time; TPOT = decode time / K. The bound is "
            f"the roof that accounts for most of the time (tensor core, CUDA core, memory or "
            f"the launch floor). Latency is for the analytic flash-attention records and for "
            f"the captured reference implementation."
            + (" A calibration profile replaces the roofline time of the kernels it covers."
               if opts.calibration is not None else ""))


def _bandwidth_summary(tables, hw, budgets) -> str:
    """What the budgets ask for against what the GPU has, and which roof bounds each objective
    (counted from the predicted-latency table)."""
    ttft, tpot = tables["ttft_required"].rows, tables["tpot_required"].rows
    pred = tables["predicted_grid"]
    if not ttft or not tpot:
        return ""
    bw = getattr(hw, "mem_bandwidth_gbps", 0) / 1e3
    bf16 = hw.tensor_peak_flops("bfloat16") / 1e12 if hasattr(hw, "tensor_peak_flops") else 0
    lo_hi = lambda rows, j: (min(r[j] for r in rows), max(r[j] for r in rows))  # noqa: E731
    (tb0, tb1), (tf0, tf1) = lo_hi(ttft, 4), lo_hi(ttft, 3)
    (pb0, pb1), (pf0, pf1) = lo_hi(tpot, 5), lo_hi(tpot, 4)

    def bounds(col: str) -> str:
        j = pred.headers.index(col)
        counts: dict[str, int] = {}
        for r in pred.rows:
            counts[r[j]] = counts.get(r[j], 0) + 1
        return ", ".join(f"{b}-bound at {n} of {len(pred.rows)} grids"
                         for b, n in sorted(counts.items(), key=lambda kv: -kv[1]))

    return (f"Bandwidth and throughput each budget requires (weights included), against the "
            f"{bw:g} TB/s and {bf16:g} TFLOP/s (bf16 dense) of this GPU: TTFT within "
            f"{budgets.ttft_s:g} s needs {tb0:.3f} to {tb1:.3f} TB/s and {tf0:.3f} to "
            f"{tf1:.3f} TFLOP/s over the crop grids; TPOT within "
            f"{units.to_ms(budgets.tpot_s):g} ms needs {pb0:.3f} to {pb1:.3f} TB/s and "
            f"{pf0:.3f} to {pf1:.3f} TFLOP/s. On this GPU, TTFT is "
            f"{bounds('TTFT bound')}; TPOT is {bounds('TPOT bound')} (each decode step reads "
            f"every active weight once).\n")


__all__ = ["render", "verification_rows"]


def _calibration_sentence(opts, hw) -> str:
    """The profile's measuring device, how the report's GPU relates to it, and the error band
    measured for such predictions (roofsim.calibration.band)."""
    from ..calibration.band import profile_note
    note = profile_note(opts.calibration, hw)
    text = (f"The profile was measured on {note.device_name} ({note.device_sms} SMs); "
            f"this GPU is {note.relation.replace('-', ' ')} to it")
    if note.band:
        text += ("; measured error of such predictions (benchmarks/bench_transfer.py): " +
                 ", ".join(f"{s} +-{e:.0%}" for s, e in note.band.items()))
    if note.warning and not note.band:
        text += f" ({note.warning})"
    return text + "."
