"""Stage timing of one request on one workload: records -> engine -> seconds.

    p = predict((2, 3), prompt_tokens=16, decode_tokens=100, hardware=load_hardware("h100-sxm"),
                profile=load_profile("h100-sxm"), implementation="reference")   # DeepSeek-OCR
    p = predict(model="llama-3.1-8b", prompt_tokens=4096, decode_tokens=16, hardware=hw)
    p.ttft_s, p.tpot_s, p.stages["prefill"].by_bound

Workloads (roofsim.workloads): DeepSeek-OCR by default (`implementation`: the captured
transformers-based `reference`, or the analytic model with `flash` / `normal` attention), or
any transformers model by name or config.json (`model`), captured from its implementation.
Stages: `vision` (DeepSeek-OCR; vision-language models given an image), `prefill` and `decode`
(one decode step: the mean over the K steps, which is TPOT). TTFT = vision + prefill.

Predicted time is GPU kernel time: the sum over kernels of the engine's per-launch time
(roofsim.timing, with the calibration profile where given), as a profiler's sum of kernel
durations measures it; with `host_overhead_s`, each stage also gets an eager wall-time estimate.

One function, `predict_request`, serves the CLI (`roofsim predict`), the report's headroom
section and the end-to-end accuracy benchmarks; `predict` is its keyword form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .errors import UserError
from .hardware import HardwareSpec
from .stages import DECODE, PREFILL, STAGES, TTFT_STAGES, VISION
from .timing import StageTiming, eager_wall_s, time_stage, time_stages
from .workloads import DEFAULT_PROMPT_TOKENS, Request, StageRecords, workload
from .workloads.deepseek_ocr.workload import IMPLEMENTATIONS, grid_of

__all__ = ["DEFAULT_PROMPT_TOKENS", "IMPLEMENTATIONS", "Prediction", "STAGES", "StageRecords",
           "StageTiming", "TTFT_STAGES", "eager_wall_s", "predict", "predict_request", "request_for",
           "stage_records", "time_stage"]


@dataclass(frozen=True)
class Prediction:
    implementation: str
    hardware: str
    calibration: str                          # profile's device, "" without one
    grid: tuple[int, int] | None
    image_tokens: int
    prompt_tokens: int
    decode_tokens: int
    stages: Mapping[str, StageTiming]         # the workload's stages (decode: one step; K >= 1)
    host_overhead_s: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    model: str = "deepseek-ocr"
    batch: int = 1
    image: tuple[int, int] | None = None

    def _s(self, stage: str) -> float:
        t = self.stages.get(stage)
        return t.kernel_s if t is not None else 0.0

    @property
    def vision_s(self) -> float:
        return self._s(VISION)

    @property
    def prefill_s(self) -> float:
        return self._s(PREFILL)

    @property
    def ttft_s(self) -> float:
        return sum(self._s(s) for s in TTFT_STAGES)

    @property
    def tpot_s(self) -> float | None:
        d = self.stages.get(DECODE)
        return d.kernel_s if d is not None else None

    @property
    def latency_s(self) -> float:
        """End-to-end kernel time of each request of the batch: TTFT + K x TPOT (the B rows
        start and finish together)."""
        return self.ttft_s + self.decode_tokens * (self.tpot_s or 0.0)

    @property
    def throughput_tokens_per_s(self) -> float:
        """Generated tokens per second of the whole batch over its run: B x K / latency."""
        lat = self.latency_s
        return self.batch * self.decode_tokens / lat if lat > 0 else 0.0

    @property
    def decode_throughput_tokens_per_s(self) -> float | None:
        """Generated tokens per second while the batch decodes: B / TPOT."""
        t = self.tpot_s
        return self.batch / t if t else None

    @property
    def eager_ttft_s(self) -> float | None:
        e = [self.stages[s].eager_s for s in TTFT_STAGES if s in self.stages]
        return None if any(v is None for v in e) else float(sum(e))

    @property
    def eager_tpot_s(self) -> float | None:
        d = self.stages.get(DECODE)
        return d.eager_s if d is not None else None

    def as_dict(self) -> dict:
        grid = f"{self.grid[0]}x{self.grid[1]}" if self.grid else None
        out = {"model": self.model, "implementation": self.implementation,
               "hardware": self.hardware, "calibration": self.calibration or None,
               "grid": grid, "image_tokens": self.image_tokens,
               "prompt_tokens": self.prompt_tokens, "decode_tokens": self.decode_tokens,
               "batch": self.batch}
        if self.image is not None:
            out["image"] = f"{self.image[1]}x{self.image[0]}"          # WxH
        if VISION in self.stages:
            out["vision_s"] = self.vision_s
        out.update({"prefill_s": self.prefill_s, "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
                    "host_overhead_s": self.host_overhead_s, "eager_ttft_s": self.eager_ttft_s,
                    "eager_tpot_s": self.eager_tpot_s, "latency_s": self.latency_s,
                    "throughput_tokens_per_s": self.throughput_tokens_per_s,
                    "decode_throughput_tokens_per_s": self.decode_throughput_tokens_per_s,
                    "stages": {s: t.as_dict() for s, t in self.stages.items()},
                    "notes": list(self.notes)})
        return out


def stage_records(implementation: str, grid, prompt_tokens: int, decode_tokens: int, *,
                  cfg=None, use_cache: bool = True, model: str | None = None,
                  batch: int = 1, image=None) -> StageRecords:
    """The records of a request (DeepSeek-OCR with `implementation`, or `model`)."""
    wl = workload(model, implementation, cfg=cfg)
    return wl.stage_records(request_for(wl, grid, prompt_tokens, decode_tokens, batch, image),
                            use_cache=use_cache)


def request_for(wl, grid, prompt_tokens, decode_tokens, batch=1, image=None) -> Request:
    """The Request of a workload: DeepSeek-OCR reads the grid ('RxC' text accepted)."""
    return Request(prompt_tokens=prompt_tokens, decode_tokens=decode_tokens, batch=batch,
                   grid=grid_of(grid) if wl.name == "deepseek-ocr" else grid,
                   image=tuple(image) if image is not None else None)


def _calibration_name(profile) -> str:
    if profile is None:
        return ""
    return getattr(profile, "device_id", "") or getattr(profile, "device_name", "") or "profile"


def predict_request(wl, request: Request, *, hardware: HardwareSpec, profile=None,
                    host_overhead_s: float | None = None, use_cache: bool = True,
                    records: StageRecords | None = None) -> Prediction:
    """Per-stage GPU kernel time of one request on a workload (see the module docstring).
    Pass `records` to reuse already built stage records (they must match the request)."""
    if host_overhead_s is not None and not (np.isfinite(host_overhead_s) and host_overhead_s >= 0):
        raise UserError(f"host overhead: expected a finite number of seconds >= 0, "
                        f"got {host_overhead_s}")
    recs = records if records is not None else wl.stage_records(request, use_cache=use_cache)
    stages = time_stages(recs.parts, hardware, profile, host_overhead_s)
    return Prediction(implementation=wl.implementation, hardware=hardware.id,
                      calibration=_calibration_name(profile), grid=request.grid,
                      image_tokens=recs.image_tokens, prompt_tokens=request.prompt_tokens,
                      decode_tokens=request.decode_tokens, stages=stages,
                      host_overhead_s=host_overhead_s, notes=recs.notes, model=wl.name,
                      batch=request.batch, image=request.image)


def predict(grid=None, prompt_tokens: int = DEFAULT_PROMPT_TOKENS, decode_tokens: int = 1, *,
            hardware: HardwareSpec, profile=None, implementation: str = "reference",
            model: str | None = None, batch: int = 1, image=None,
            host_overhead_s: float | None = None, cfg=None, use_cache: bool = True,
            records: StageRecords | None = None) -> Prediction:
    """predict_request for DeepSeek-OCR (grid, implementation) or a `model`."""
    wl = workload(model, implementation, cfg=cfg)
    return predict_request(wl, request_for(wl, grid, prompt_tokens, decode_tokens, batch, image),
                           hardware=hardware, profile=profile, host_overhead_s=host_overhead_s,
                           use_cache=use_cache, records=records)
