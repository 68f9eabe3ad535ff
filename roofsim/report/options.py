"""What a report is asked for and what it gives back (ReportOptions, ReportResult), and the
decoder sweeps DeepSeek-OCR's report draws: shared by the report's builders and sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..objectives import Budgets

DEFAULT_OUT = "roofsim-report"

# The decoder sweeps of "Sequence Length and Decoder Sweeps": (folder, sweep kind, knob, values,
# figures drawn). Base request: the Gundam global view only (273 image tokens), the default
# prompt, K = 100, B = 1. Figure names: "{stem}" is the FLOPs figure, "{stem}_stagecost_kv_gb"
# the KV cache, "predicted_tpot" the TPOT predicted on the hardware (see plots.figure_plan).
KNOB_SWEEPS: tuple[tuple[str, str, str, tuple[int, ...], tuple[str, ...]], ...] = (
    ("prefill_tokens", "vision-prefill", "prefill-tokens",
     (512, 1024, 2048, 4096, 8192, 16384, 32768), ("{stem}", "{stem}_stagecost_kv_gb",
                                                    "predicted_ttft")),
    ("decode_tokens", "decode", "decode-tokens", (25, 50, 100, 200, 400, 800, 1600, 3200),
     ("{stem}", "{stem}_stagecost_kv_gb")),
    ("batch", "decode", "batch", (1, 2, 4, 8, 16, 32, 64),
     ("{stem}", "{stem}_stagecost_kv_gb", "predicted_tpot")),
    ("heads", "decode", "heads", (5, 10, 20, 40), ("{stem}",)),
    ("kv_heads", "decode", "kv-heads", (1, 2, 5, 10), ("{stem}_stagecost_kv_gb",)),
)


def knob_figure_names(spec) -> list[str]:
    stem, figures = spec[0], spec[4]
    return [f.format(stem=stem) for f in figures]


@dataclass(frozen=True)
class ReportOptions:
    hardware: object                         # roofsim.hardware.HardwareSpec
    out_dir: Path = Path(DEFAULT_OUT)
    grids: tuple | None = None               # None: the specification's 47 grids
    decode_tokens: int = 100
    prompt_tokens: int | None = None         # None: the workload's default (10)
    budgets: Budgets = field(default_factory=Budgets)
    reference: bool = True
    accounting: str = "model"
    lm_head: str = "last"
    knob_sweeps: bool | tuple = True         # True: KNOB_SWEEPS; or a tuple of the same shape
    profiles_path: str | None = None
    calibration: object = None               # a calibration profile for the engine
    calibration_name: str = ""
    jobs: int = 0                            # figure processes; 0: one per core (at most 4)
    progress: bool = True
    figures: bool = True                     # False: text and data only (tests)
    command: str = "roofsim report"
    model: str | None = None                 # a transformers model (roofsim.report.model)
    image: tuple | None = None               # its image (height, width), vision-language only


@dataclass(frozen=True)
class ReportResult:
    path: Path
    out_dir: Path
    tables: dict
    figures: list
    sweeps: dict
    notes: dict
    elapsed_s: float
    phases: dict = field(default_factory=dict)   # wall seconds per phase (benchmark)
