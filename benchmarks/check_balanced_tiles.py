"""Session 20's balanced-tile stretch on the sets measured after it (issue 11): the H200 profile
refitted with whole rounds (roofsim.perfmodel.BALANCED_TAIL_TILES infinite, the model before
session 20) and with the committed tail, side by side.

    python benchmarks/check_balanced_tiles.py

The H200 is fitted on its inputs as they were when the tail was chosen (less the runs of
mixed-fresh16 and -17 joined later in session 20). Scores, as benchmarks/bench_transfer.py does,
mixed-fresh17 (kernel MAPE on the rows whose shape the whole chip's fit left out) at every SM
count it was timed at, the reference's stages of
e2e-fresh44 and -45 (whole H200, 96, 104 and 120 SMs) and the transformers models of e2e-fresh46
(whole H200 and 112 SMs). calibration/README.md (session 20) quotes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_transfer import CAL, kernel_mape, stable, stage_rows  # noqa: E402
from check_more_companions import (SESSION20_COMPANIONS, SESSION20_MORE,  # noqa: E402
                                   h200_without)
from roofsim import perfmodel  # noqa: E402
from roofsim.calibration.fit import sm_restriction_of  # noqa: E402
from roofsim.cli.output import format_table  # noqa: E402
from roofsim.e2e import (compare_model_e2e, load_e2e, load_model_e2e,  # noqa: E402
                         measured_model, model_folders)
from roofsim.hardware import derive_sm_restricted, load_hardware  # noqa: E402

KERNEL_SET = "mixed-fresh17"
E2E_SETS = ("e2e-fresh44", "e2e-fresh45")
MODEL_SET = "e2e-fresh46"
WHOLE_ROUNDS = 1e9


def h200_as_chosen():
    """The H200's profile fitted on what it was fitted on when the tail was chosen: its recorded
    inputs less the runs of mixed-fresh16 and -17 that session 20 joined afterwards (the fresh
    set among them would otherwise be fit data); (profile, the case ids of its fit split)."""
    return h200_without(SESSION20_MORE + SESSION20_COMPANIONS)


def spec_of(folder: Path):
    sms = sm_restriction_of(folder)
    return derive_sm_restricted(load_hardware("h200"), sms) if sms else load_hardware("h200")


def folders(name: str) -> list[Path]:
    out = [d / name for d in [CAL / "h200"] + sorted(CAL.glob("h200-sm*")) if (d / name).is_dir()]
    return sorted(out, key=lambda f: sm_restriction_of(f) or 132)


def worst_stage_errors(profile, name: str) -> dict[str, str]:
    """The worst error of the reference's vision, prefill and decode over the grids of the
    end-to-end set `name`, at each SM count it was measured on, keyed '<folder> <set> <stage>
    (worst)'."""
    out = {}
    for folder in folders(name):
        meas, _ = load_e2e(folder)
        rows = stage_rows(meas, spec_of(folder), profile, "h200", folder.parent.name, "")
        for stage in ("vision", "prefill", "decode"):
            err = [r["error"] for r in rows if r["stage"] == stage]
            worst = err[int(np.argmax(np.abs(err)))]
            out[f"{folder.parent.name} {name} {stage} (worst)"] = f"{100 * worst:+.1f} %"
    return out


def scores(profile, fitted: set) -> dict[str, str]:
    out = {}
    for folder in folders(KERNEL_SET):
        m = stable(folder / "measurements.csv")
        m = m.select(~np.isin(m["case_id"], sorted(fitted)))
        mape, _, _ = kernel_mape(profile, m, spec_of(folder))
        out[f"{folder.parent.name} {KERNEL_SET} kernels (MAPE)"] = f"{100 * mape:.1f} %"
    for name in E2E_SETS:
        out.update(worst_stage_errors(profile, name))
    for folder in folders(MODEL_SET):
        for sub in model_folders(folder):
            meas, prov = load_model_e2e(sub)
            comps = compare_model_e2e(measured_model(sub, prov), meas, spec_of(sub), profile)
            for stage in ("prefill", "decode"):
                err = [c.error for c in comps if c.stage == stage]
                if err:
                    worst = err[int(np.argmax(np.abs(err)))]
                    out[f"{folder.parent.name} {MODEL_SET} {sub.name} {stage} (worst)"] = \
                        f"{100 * worst:+.1f} %"
    return out


def main() -> int:
    chosen = perfmodel.BALANCED_TAIL_TILES
    try:
        perfmodel.BALANCED_TAIL_TILES = WHOLE_ROUNDS
        before = scores(*h200_as_chosen())
    finally:
        perfmodel.BALANCED_TAIL_TILES = chosen
    after = scores(*h200_as_chosen())
    print(format_table(["set", "whole rounds (before)", f"tail {chosen:g} (committed)"],
                       [[k, before[k], after[k]] for k in after]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
