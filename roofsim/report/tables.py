"""The report's tables, built from sweep results and the objectives (raw SI values kept in the
rows; the formats convert at the edge). Each function returns a markdown.Table."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from .. import units
from ..objectives import Budgets, tpot_requirement, ttft_requirement
from ..sweep import SweepResult, grid_text
from .markdown import Table, fixed, ratio, sci, sig, text

GRID_HEADERS = ("Num crops", "Crop grid (H×W)", "Image tokens (global + crops)")
BOUND_NAMES = {"launch": "launch floor", "tensor": "tensor core", "cuda": "CUDA core",
               "memory": "memory"}


def _tf(x):
    return None if x is None else units.to_tflops(x)


def _grid_cells(result: SweepResult, i: int) -> tuple:
    p = result.points[i]
    return (p.num_crops, grid_text(p.grid), p.image_tokens)


def split_table(result: SweepResult, key: str, source: str = "flash") -> Table:
    """The specification's FLOP split table (analytic `source`), plus the total of the other
    sources for comparison."""
    others = [s for s in result.sources if s != source]
    rows = []
    for i in range(len(result.points)):
        c = result.stage_cost(source, i)
        r = c.flops_tensor / c.flops_cuda if c.flops_cuda > 0 else math.inf
        extra = []
        for s in others:
            o = result.stage_cost(s, i)
            extra.append(_tf(o.flops) if o is not None else None)
        rows.append(_grid_cells(result, i) + (_tf(c.flops_tensor), _tf(c.flops_cuda), r)
                    + tuple(extra))
    headers = GRID_HEADERS + ("Tensor Core FLOPs (TFLOPs)", "CUDA-core FLOPs (TFLOPs)",
                              "Tensor:CUDA ratio (CUDA=1.0)") + tuple(
        f"Total FLOPs, {_short(s)} (TFLOPs)" for s in others)
    formats = (str, str, str, sci, sci, ratio) + (sci,) * len(others)
    return Table(key, headers, tuple(rows), formats)


def _short(source: str) -> str:
    return {"normal": "analytic normal attention", "flash": "analytic flash attention",
            "reference": "reference"}.get(source, source)


def ttft_table(result: SweepResult, budgets: Budgets, source: str = "flash",
               key: str = "ttft_required") -> Table:
    """Required TFLOP/s for the TTFT budget (vision + prefill), as the specification's table,
    plus the bandwidth the budget requires and the reference's requirement."""
    rows = []
    ref = "reference" if "reference" in result.sources else None
    for i in range(len(result.points)):
        req = ttft_requirement(result.costs[source][i], budgets.ttft_s)
        ref_tf = None
        if ref and result.costs[ref][i] is not None:
            ref_tf = units.to_tflops(ttft_requirement(result.costs[ref][i],
                                                      budgets.ttft_s).flops_per_s)
        rows.append(_grid_cells(result, i) + (units.to_tflops(req.flops_per_s),
                                              req.bytes_per_s / 1e12, ref_tf))
    headers = GRID_HEADERS + (
        f"Required TFLOPs/s ({_short(source)})",
        "Required bandwidth (TB/s, weights included)", "Required TFLOPs/s (reference)")
    return Table(key, headers, tuple(rows), (str, str, str, fixed(3), fixed(3), fixed(3)))


def tpot_table(result: SweepResult, budgets: Budgets, source: str = "flash",
               key: str = "tpot_required") -> Table:
    rows = []
    ref = "reference" if "reference" in result.sources else None
    for i in range(len(result.points)):
        k = result.points[i].request.decode_tokens
        req = tpot_requirement(result.costs[source][i], k, budgets.tpot_s)
        ref_tf = None
        if ref and result.costs[ref][i] is not None:
            ref_tf = units.to_tflops(tpot_requirement(result.costs[ref][i], k,
                                                      budgets.tpot_s).flops_per_s)
        rows.append(_grid_cells(result, i) + (k, units.to_tflops(req.flops_per_s),
                                              req.bytes_per_s / 1e12, ref_tf))
    headers = GRID_HEADERS + (
        "Decode steps (K)", f"Required TFLOPs/s ({_short(source)})",
        "Required bandwidth (TB/s, weights included)", "Required TFLOPs/s (reference)")
    return Table(key, headers, tuple(rows), (str, str, str, str, fixed(3), fixed(3), fixed(3)))


def _ms(x):
    return None if x is None else units.to_ms(x)


def predicted_grid_table(result: SweepResult, budgets: Budgets, hardware_name: str,
                         key: str = "predicted_grid") -> Table:
    """Predicted TTFT / TPOT per crop grid on the hardware, with the dominating bound."""
    rows = []
    for i in range(len(result.points)):
        f = result.predictions["flash"][i]
        ref = result.predictions.get("reference", (None,) * len(result.points))[i]
        meets = f.meets(budgets)
        rows.append(_grid_cells(result, i) + (
            units.to_ms(f.ttft_s), BOUND_NAMES[f.ttft_bound], units.to_ms(f.tpot_s),
            BOUND_NAMES[f.tpot_bound], "yes" if meets["ttft"] and meets["tpot"] else
            ("TTFT" if not meets["ttft"] and meets["tpot"] else
             "TPOT" if meets["ttft"] else "TTFT, TPOT"),
            _ms(ref.ttft_s) if ref else None, _ms(ref.tpot_s) if ref else None))
    headers = GRID_HEADERS + (
        "TTFT (ms, analytic flash)", "TTFT bound", "TPOT (ms, analytic flash)", "TPOT bound",
        "Meets both budgets (else: which missed)",
        "TTFT (ms, reference)", "TPOT (ms, reference)")
    return Table(key, headers, tuple(rows),
                 (str, str, str, sig(4), str, sig(4), str, str, sig(4), sig(4)),
                 caption=f"on {hardware_name}")


def knob_table(result: SweepResult, budgets: Budgets, key: str, default_heads: int = 0,
               default_kv_heads: int = 0) -> Table:
    """One row per knob value: what the decoder sweeps vary, with both objectives."""
    rows = []
    knob = result.x_key
    for i, p in enumerate(result.points):
        c = result.costs["flash"][i]
        k = p.request.decode_tokens
        vp = c["vision"] + c["prefill"]
        ttft = ttft_requirement(c, budgets.ttft_s)
        tpot = tpot_requirement(c, k, budgets.tpot_s)
        pred = result.predictions["flash"][i]
        ref = result.costs.get("reference", (None,) * len(result.points))[i]
        rows.append((p.knobs[knob], p.image_tokens + p.request.prompt_tokens, k, p.request.batch,
                     p.knobs.get("heads", default_heads),
                     p.knobs.get("kv-heads", p.knobs.get("heads", default_kv_heads)), _tf(vp.flops), _tf(c["decode"].flops),
                     units.to_gb(c["decode"].kv_cache_bytes),
                     c["decode"].arithmetic_intensity / units.BITS_PER_BYTE,
                     units.to_tflops(ttft.flops_per_s), units.to_tflops(tpot.flops_per_s),
                     _ms(pred.ttft_s) if pred else None, _ms(pred.tpot_s) if pred else None,
                     _tf(ref["decode"].flops) if ref else None))
    headers = (knob, "Prefill context (tokens)", "K", "B", "Heads", "KV heads",
               "Vision+prefill FLOPs (TFLOPs)", "Decode FLOPs (TFLOPs)", "KV cache (GB)",
               "Decode arithmetic intensity (FLOPs/bit)", "Required TFLOPs/s (TTFT)",
               "Required TFLOPs/s (TPOT)", "Predicted TTFT (ms)", "Predicted TPOT (ms)",
               "Decode FLOPs, reference (TFLOPs)")
    return Table(key, headers, tuple(rows),
                 (str, str, str, str, str, str, sci, sci, sig(4), sig(4), fixed(3), fixed(3),
                  sig(4), sig(4), sci))


def profile_table(profiles: Sequence, result: SweepResult, budgets: Budgets,
                  key: str = "profiles") -> Table:
    """The named workload profiles side by side (analytic flash)."""
    rows = []
    for prof, i in zip(profiles, range(len(result.points))):
        p = result.points[i]
        c = result.costs["flash"][i]
        k = p.request.decode_tokens
        ttft = ttft_requirement(c, budgets.ttft_s)
        tpot = tpot_requirement(c, k, budgets.tpot_s)
        rows.append((prof.name, f"{prof.width}x{prof.height}", prof.mode, grid_text(p.grid)
                     if p.grid and p.grid != (1, 1) else "-", p.image_tokens,
                     p.request.prompt_tokens, k, p.request.batch,
                     _tf((c["vision"] + c["prefill"]).flops), _tf(c["decode"].flops),
                     units.to_gb(c["decode"].kv_cache_bytes),
                     units.to_tflops(ttft.flops_per_s), ttft.bytes_per_s / 1e12,
                     units.to_tflops(tpot.flops_per_s), tpot.bytes_per_s / 1e12))
    headers = ("Profile", "Image (px)", "Mode", "Crop grid (H×W)", "Image tokens",
               "Prompt tokens", "Output tokens (K)", "Batch",
               "Vision+prefill FLOPs (TFLOPs)", "Decode FLOPs (TFLOPs)", "KV cache (GB)",
               "TTFT: required TFLOPs/s", "TTFT: required TB/s", "TPOT: required TFLOPs/s",
               "TPOT: required TB/s")
    return Table(key, headers, tuple(rows),
                 (str, str, str, str, str, str, str, str, sci, sci, sig(4), fixed(3), fixed(3),
                  fixed(3), fixed(3)))


def predicted_profile_table(profiles: Sequence, result: SweepResult, budgets: Budgets,
                            key: str = "predicted_profiles") -> Table:
    rows = []
    for prof, i in zip(profiles, range(len(result.points))):
        f = result.predictions["flash"][i]
        ref = result.predictions.get("reference", (None,) * len(result.points))[i]
        meets = f.meets(budgets)
        total = f.ttft_s + f.stage_s["decode"]
        rows.append((prof.name, units.to_ms(f.stage_s["vision"]), units.to_ms(f.stage_s["prefill"]),
                     units.to_ms(f.ttft_s), BOUND_NAMES[f.ttft_bound], units.to_ms(f.tpot_s),
                     BOUND_NAMES[f.tpot_bound], total, "yes" if meets["ttft"] else "no",
                     "yes" if meets["tpot"] else "no",
                     _ms(ref.ttft_s) if ref else None, _ms(ref.tpot_s) if ref else None))
    headers = ("Profile", "Vision (ms)", "Prefill (ms)", "TTFT (ms)", "TTFT bound", "TPOT (ms)",
               "TPOT bound", "End to end (s)", f"TTFT <= {budgets.ttft_s:g} s",
               f"TPOT <= {units.to_ms(budgets.tpot_s):g} ms", "TTFT (ms, reference)",
               "TPOT (ms, reference)")
    return Table(key, headers, tuple(rows),
                 (str, sig(4), sig(4), sig(4), str, sig(4), str, sig(4), str, str, sig(4), sig(4)))


def parameter_table(counts: Mapping[str, int], element_bytes: int,
                    key: str = "parameters") -> Table:
    parts = ("sam", "clip", "projector", "separators", "decoder_layers", "embed_tokens", "lm_head",
             "total")
    names = {"sam": "SAM-base (vision)", "clip": "CLIP-L (vision)", "projector": "projector",
             "separators": "newline / view separator", "decoder_layers": "decoder layers",
             "embed_tokens": "token embedding", "lm_head": "LM head", "total": "total"}
    rows = [(names[k], counts[k], counts[k] * element_bytes / 1e9) for k in parts if k in counts]
    return Table(key, ("Component", "Parameters", "Size (GB, bf16)"), tuple(rows),
                 (str, lambda n: f"{n:,}", fixed(3)))


def verification_table(rows: Sequence[Mapping], key: str = "verification") -> Table:
    """Per-layer check: reference ("measured") vs analytic ("theoretical") GFLOPs."""
    out = []
    for r in rows:
        out.append((r["group"], r["layer"], r.get("reference_gflops"), r["analytic_gflops"],
                    r.get("rel_diff_percent"), r.get("status", ""), r.get("counter_gflops"),
                    r.get("note", "")))
    headers = ("Group", "Analytic layer", "Measured FLOPs (GFLOPs, reference capture)",
               "Theoretical FLOPs (GFLOPs, analytic)", "Rel diff (%)", "Status",
               "FLOP counter (GFLOPs, captured tensor-core: the specification's convention)",
               "Note")
    return Table(key, headers, tuple(out),
                 (str, str, "{:.4e}".format, "{:.4e}".format, lambda x: f"{x:.4f}%", str,
                  "{:.4e}".format, str))


def impl_class_table(rows: Sequence[Mapping], key: str = "impl_classes") -> Table:
    return Table(key, ("Group", "Analytic layer", "Impl class (fully qualified path)"),
                 tuple((r["group"], r["layer"], r["impl_class"]) for r in rows), (str, str, str))


__all__ = ["split_table", "ttft_table", "tpot_table", "predicted_grid_table", "knob_table",
           "profile_table", "predicted_profile_table", "parameter_table", "verification_table",
           "impl_class_table", "text"]
