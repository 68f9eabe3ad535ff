"""`roofsim report`: evaluate every sweep, draw every figure, write report.md (+ report.json).

Work order (one progress bar over all of it):
1. per-layer check (analytic layers; the reference side from roofsim.verify when available);
2. the crop-grid sweep (analytic normal, analytic flash, reference), evaluated once and read as
   the vision, decode and vision+prefill sweeps;
3. the decoder sweeps (prefill length, K, B, heads) and the named workload profiles;
4. figures, drawn in worker processes (matplotlib is the slowest part);
5. tables and the Markdown text.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .. import __version__, plots
from ..errors import UserError
from ..io import atomic_write_json, atomic_write_text, output_folder
from ..objectives import Budgets
from ..progress import Progress
from ..sweep import (SWEEP_DIRS, SweepResult, default_sources, grid_points, load_profiles,
                     profile_points, run_sweep, vary_points, write_outputs)
from . import sections, tables
from .markdown import Table
from .options import KNOB_SWEEPS, ReportOptions, ReportResult, knob_figure_names


def expected_figures(hardware_name: str = "", knob_sweeps=KNOB_SWEEPS,
                     budgets: Budgets | None = None) -> list[str]:
    """Relative paths (without extension; each exists as .svg and .png) of every figure a
    report draws; `hardware_name` "" when no latency is predicted."""
    budgets = budgets or Budgets()
    out = []
    for kind, stem in SWEEP_DIRS.items():
        for spec in plots.figure_plan(_shape_only(kind, "image_tokens", hardware_name), stem,
                                      budgets, hardware_name):
            out.append(f"sweep/{stem}/{spec.name}")
    for ks in knob_sweeps or ():
        stem, kind, knob = ks[:3]
        names = knob_figure_names(ks)
        for spec in plots.figure_plan(_shape_only(kind, knob, hardware_name), stem, budgets,
                                      hardware_name):
            if spec.name in names:
                out.append(f"sweep/{stem}/{spec.name}")
    return out


def _shape_only(kind: str, x_key: str, hardware_name: str) -> SweepResult:
    """A result without points: enough for figure_plan to name the figures."""
    return SweepResult(kind=kind, points=(), sources=(), costs={}, components={},
                       predictions={"flash": (True,)} if hardware_name else {}, x_key=x_key)


def _draw_task(result: SweepResult, folder: str, stem: str, name: str, budgets: Budgets,
               hardware_name: str) -> list[str]:
    """One figure (runs in a worker process)."""
    for spec in plots.figure_plan(result, stem, budgets, hardware_name):
        if spec.name == name:
            return [str(p) for p in spec.draw(result, Path(folder) / name)]
    raise KeyError(name)


def build_report(opts: ReportOptions) -> ReportResult:
    """Build the report in a temporary folder beside opts.out_dir and move its files into
    opts.out_dir when it is complete (roofsim.io.output_folder): an error or Ctrl-C leaves an
    older report there as it was, and a second build into the same folder is refused."""
    final = Path(opts.out_dir)
    with output_folder(final, option="--out") as staged:
        staged_opts = dataclasses.replace(opts, out_dir=staged)
        if opts.model is not None:          # a transformers model: its own, shorter report
            from .model import build_model_report
            res = build_model_report(staged_opts)
        else:
            res = _build(staged_opts)

    def moved(p: Path) -> Path:
        return final / Path(p).relative_to(staged)
    return dataclasses.replace(res, path=moved(res.path), out_dir=final,
                               figures=[moved(f) for f in res.figures])


def _build(opts: ReportOptions) -> ReportResult:
    t0 = time.perf_counter()
    from ..workloads import deepseek_ocr as ds
    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = ds.load_config()
    grids = tuple(opts.grids) if opts.grids is not None else tuple(ds.sweep_grids())
    if not grids:
        raise UserError("--grids: give at least one crop grid")
    profiles = load_profiles(opts.profiles_path)
    hw = opts.hardware
    hw_name = getattr(hw, "name", "") or getattr(hw, "id", "")
    budgets = opts.budgets
    knob_specs = (KNOB_SWEEPS if opts.knob_sweeps is True
                  else tuple(opts.knob_sweeps) if opts.knob_sweeps else ())

    # Progress units: one per evaluated point and source, per figure, and a few fixed steps.
    n_src = 3 if opts.reference else 2
    n_points = len(grids) + len(profiles) + sum(len(ks[3]) for ks in knob_specs)
    n_figs_estimate = 27 + sum(len(ks[4]) for ks in knob_specs)
    bar = Progress(total=n_points * n_src + n_figs_estimate + 4, label="roofsim report",
                   enabled=opts.progress)
    bar.__enter__()
    phases: dict[str, float] = {}
    last = [time.perf_counter()]

    def mark(name: str) -> None:
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + now - last[0]
        last[0] = now

    mark("setup")
    workers = _Workers(opts.jobs if opts.figures else 1)
    try:
        if opts.reference:
            bar.note("loading the reference implementation (torch, transformers)")
        sources, ref_note = default_sources(opts.reference, accounting=opts.accounting,
                                            lm_head=opts.lm_head)
        bar.step("sources ready" + (f" ({ref_note})" if ref_note else ""))
        mark("sources (torch import)")
        notes = {"reference": ref_note} if ref_note else {}
        # The per-layer check captures every reference layer: run it beside the sweeps.
        verifying = workers.submit(sections.verification_rows, cfg,
                                   opts.reference and not ref_note)
        checking = workers.submit(sections.end_to_end_rows, opts.reference and not ref_note,
                                  10 if opts.prompt_tokens is None else opts.prompt_tokens,
                                  opts.decode_tokens)

        def ticker(what: str, n: int):
            return lambda src, i: bar.step(f"{what}: {src} {i + 1}/{n}")

        for src in sources:
            if hasattr(src, "prepare"):
                bar.note("capturing the reference at a few shapes (cached on disk)")
                src.prepare()
                mark("reference shape models")
        common = dict(cfg=cfg, hardware=hw, profile=opts.calibration, notes=notes)
        pts = grid_points(grids, prompt_tokens=opts.prompt_tokens,
                          decode_tokens=opts.decode_tokens, cfg=cfg)
        grid_result = run_sweep("vision", pts, sources, on_point=ticker("crop grids", len(pts)),
                                **common)
        sweeps: dict[str, SweepResult] = {}
        for kind in ("vision", "decode", "vision-prefill"):
            stem = SWEEP_DIRS[kind]
            sweeps[stem] = grid_result.with_kind(kind)
            write_outputs(sweeps[stem], out / "sweep" / stem)
        # Figures are drawn in worker processes while the decoder sweeps run.
        drawing = []
        knob_names = {ks[0]: knob_figure_names(ks) for ks in knob_specs}

        def draw(stem: str, res: SweepResult) -> None:
            light = _without_configs(res)
            for spec in plots.figure_plan(res, stem, budgets, hw_name):
                if stem in knob_names and spec.name not in knob_names[stem]:
                    continue
                drawing.append((os.path.join("sweep", stem, spec.name), workers.submit(
                    _draw_task, light, str(out / "sweep" / stem), stem, spec.name, budgets,
                    hw_name) if opts.figures else None))

        for stem in list(sweeps):
            draw(stem, sweeps[stem])
        mark("crop-grid sweep")

        knob_results: dict[str, SweepResult] = {}
        for stem, kind, knob, values, _ in knob_specs:
            kp = vary_points([(knob, list(values))], grid=None, prompt_tokens=opts.prompt_tokens,
                             decode_tokens=opts.decode_tokens, cfg=cfg)
            res = run_sweep(kind, kp, sources, x_key=knob, on_point=ticker(knob, len(kp)),
                            **common)
            knob_results[stem] = sweeps[stem] = res
            write_outputs(res, out / "sweep" / stem, stem=stem)
            draw(stem, res)
        mark("decoder sweeps")
        prof_points = profile_points(profiles, cfg)
        prof_result = run_sweep("vision-prefill", prof_points, sources,
                                on_point=ticker("profiles", len(prof_points)), **common)
        write_outputs(prof_result, out / "profiles", stem="profiles")
        bar.step("sweep data written")
        mark("profiles and data files")

        planned = {name for name, _ in drawing}
        assert planned == set(expected_figures(hw_name, knob_specs, budgets)), \
            "figure plan and expected_figures disagree"
        bar.total = bar.done + len(drawing) + 2
        bar.note("per-layer check")
        verification = verifying.result()
        end_to_end = checking.result()
        bar.step("per-layer check")
        mark("per-layer check (rest)")
        figures: list[Path] = []
        for name, fut in drawing:
            if fut is not None:
                figures += [Path(p) for p in fut.result()]
            bar.step(os.path.basename(name))
        mark("figures (rest)")

        # Tables and text.
        tabs = _tables(sweeps, knob_results, profiles, prof_result, verification, cfg, budgets,
                       hw_name)
        elapsed = time.perf_counter() - t0
        md = sections.render(opts=opts, hw=hw, cfg=cfg, sweeps=sweeps, knob_results=knob_results,
                             profiles=profiles, prof_result=prof_result, tables=tabs,
                             notes=_all_notes(notes, sweeps, prof_result), elapsed_s=elapsed,
                             version=__version__, verification=verification,
                             end_to_end=end_to_end,
                             knob_specs=knob_specs)
        path = atomic_write_text(out / "report.md", md, what="report")
        atomic_write_json(out / "report.json", {
            "roofsim_version": __version__, "hardware": getattr(hw, "id", ""),
            "budgets": {"ttft_s": budgets.ttft_s, "tpot_s": budgets.tpot_s},
            "accounting": opts.accounting, "lm_head": opts.lm_head,
            "tables": {k: t.as_dict() for k, t in tabs.items()},
            "figures": sorted(os.path.relpath(f, out) for f in figures),
        }, indent=1, what="report")
        bar.step("report.md written")
        mark("tables and text")
    except BaseException:
        workers.close(abort=True)
        raise
    finally:
        workers.close()
        bar.close()
    return ReportResult(path=path, out_dir=out, tables=tabs, figures=figures, sweeps=sweeps,
                        notes=_all_notes(notes, sweeps, prof_result),
                        elapsed_s=time.perf_counter() - t0, phases=phases)


class _Done:
    """A finished inline task, shaped like a Future."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


class _Workers:
    """Worker processes (forked: they inherit the imported modules) for the figures and the
    per-layer check; inline execution with one job or where fork is unavailable."""

    def __init__(self, jobs: int):
        import multiprocessing as mp
        jobs = jobs or min(os.cpu_count() or 1, 4)
        self.pool = None
        if jobs > 1 and "fork" in mp.get_all_start_methods():
            self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork"),
                                            initializer=_ignore_sigint)

    def submit(self, fn, *args):
        if self.pool is None:
            return _Done(fn(*args))
        return self.pool.submit(fn, *args)

    def close(self, abort: bool = False) -> None:
        """Wait for the workers; with abort (an error, Ctrl-C), stop them at once."""
        if self.pool is None:
            return
        pool, self.pool = self.pool, None
        if abort:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the main process, which stops them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _without_configs(res: SweepResult) -> SweepResult:
    """Figures do not need the points' model configs (which hold mappingproxy: unpicklable)."""
    import dataclasses
    return dataclasses.replace(res, points=tuple(dataclasses.replace(p, cfg=None)
                                                 for p in res.points))


def _all_notes(notes, sweeps, prof_result) -> dict:
    out = dict(notes)
    for name, res in list(sweeps.items()) + [("profiles", prof_result)]:
        for k, v in res.notes.items():
            if v and v not in out.values():
                out[f"{name}:{k}"] = v
    return out


def _tables(sweeps, knob_results, profiles, prof_result, verification, cfg, budgets,
            hw_name) -> dict[str, Table]:
    from ..workloads import deepseek_ocr as ds
    t: dict[str, Table] = {}
    t["verification"] = tables.verification_table(verification)
    t["impl_classes"] = tables.impl_class_table(verification)
    t["vision_split"] = tables.split_table(sweeps["vision_crops"], "vision_split")
    t["decode_split"] = tables.split_table(sweeps["e2e_decode"], "decode_split")
    t["vision_prefill_split"] = tables.split_table(sweeps["e2e_vision_prefill"],
                                                   "vision_prefill_split")
    for stem, res in knob_results.items():
        t[f"knob_{stem}"] = tables.knob_table(res, budgets, f"knob_{stem}",
                                              default_heads=cfg.decoder.heads,
                                              default_kv_heads=cfg.decoder.kv_heads)
    t["profiles"] = tables.profile_table(profiles, prof_result, budgets)
    t["ttft_required"] = tables.ttft_table(sweeps["e2e_vision_prefill"], budgets)
    t["tpot_required"] = tables.tpot_table(sweeps["e2e_decode"], budgets)
    t["predicted_grid"] = tables.predicted_grid_table(sweeps["e2e_vision_prefill"], budgets,
                                                      hw_name)
    t["predicted_profiles"] = tables.predicted_profile_table(profiles, prof_result, budgets)
    counts = ds.parameter_counts(cfg)
    t["parameters"] = tables.parameter_table(counts, cfg.element_bytes)
    return t
