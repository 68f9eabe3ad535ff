"""Step times of a serving simulation, from the engine (roofsim.predict), cached per bucket.

A step runs `prefill_tokens` prompt tokens (chunks of one or more requests) and one token for
each of `decode_seqs` decoding sequences, which attend to `decode_context` cached positions in
all. Its time:
- decode only: the engine's decode step of B sequences at mean context L = context / B;
- with prefill tokens: the engine's prefill of (prefill + decode) tokens as one sequence (the
  linear layers see every token of the step once), plus the decode rows' attention to their
  caches: decode(B, L) - decode(B, L0), L0 the smallest context bucket. A chunk's attention to
  the earlier chunks of its own prompt is left out (it is the attention of a prefill of the
  chunk's length).
Buckets: B in powers of 2, L in powers of 4 (from 64), prefill tokens in powers of 2 (from 16);
between buckets the time is interpolated linearly (the decode step is affine in L), and each
bucket is timed once, on first use. The engine is the only source of time here.
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..predict import predict_request, request_for
from ..stages import DECODE, PREFILL, VISION
from .requests import ServeRequest
from .scheduler import StepPlan

DECODE_CONTEXT_BASE, DECODE_CONTEXT_RATIO = 64, 4
PREFILL_BASE = 16


def _bracket(x: float, base: int, ratio: int) -> tuple[int, int, float]:
    """(lower bucket, upper bucket, weight of the upper) for x on a geometric grid from base."""
    if x <= base:
        return base, base, 0.0
    k = math.floor(math.log(x / base, ratio))
    lo = base * ratio ** k
    while lo * ratio <= x:          # guard float rounding of the log
        lo *= ratio
    while lo > x:
        lo //= ratio
    hi = lo * ratio
    if lo == x:
        return lo, lo, 0.0
    return lo, hi, (x - lo) / (hi - lo)


class EngineStepTimes:
    """Step times of one workload on one GPU (with a calibration profile or not), or on one
    GPU of a parallel plan (`plan`: each bucket's records sharded by roofsim.parallel, the
    collectives on the critical path)."""

    def __init__(self, wl, *, hardware, profile=None, use_cache: bool = True, plan=None):
        self.wl, self.hardware, self.profile, self.use_cache = wl, hardware, profile, use_cache
        self.plan = plan
        self._deepseek = wl.name == "deepseek-ocr"
        self.base_positions = self._prompt_positions(None)     # image tokens with no image
        self.decode_ = lru_cache(maxsize=None)(self._decode)
        self.prefill_ = lru_cache(maxsize=None)(self._prefill)
        self.vision_ = lru_cache(maxsize=None)(self._vision)
        self.positions_ = lru_cache(maxsize=None)(self._prompt_positions)

    # ---- what a request is for this workload ------------------------------------------------

    def _shape(self, image):
        """(grid, image) of the workload's request for an image (height, width) or None."""
        if not self._deepseek:
            return None, image
        if image is None:
            return None, None
        from ..workloads.deepseek_ocr import choose_grid, load_config
        cfg = self.wl.cfg if self.wl.cfg is not None else load_config()
        h, w = image
        return choose_grid(w, h, cfg.views.min_crops, cfg.views.max_crops,
                           crop_size=cfg.views.crop_size), None

    def _request(self, image, prompt: int, decode: int, batch: int = 1):
        grid, img = self._shape(image)
        return request_for(self.wl, grid, prompt, decode, batch, img)

    def _prompt_positions(self, image) -> int:
        grid, img = self._shape(image)
        if self._deepseek:
            return int(self.wl.image_tokens(grid))
        return int(self.wl.image_tokens(request_for(self.wl, None, 1, 0, 1, img))) \
            if img is not None else 0

    def prompt_positions(self, request: ServeRequest) -> int:
        return self.positions_(request.image) + request.prompt_tokens

    # ---- engine calls, one per bucket --------------------------------------------------------

    def _time(self, request, stage: str) -> float:
        records = None
        if self.plan is not None and not self.plan.is_single:
            from ..parallel import shard_stage_records
            records = shard_stage_records(self.wl.stage_records(request, use_cache=self.use_cache),
                                          self.plan)
        p = predict_request(self.wl, request, hardware=self.hardware, profile=self.profile,
                            use_cache=self.use_cache, records=records)
        return float(p.stages[stage].kernel_s)

    def _text(self, positions: int) -> int:
        """Text tokens that give `positions` decoder positions (with the workload's image
        tokens of an imageless request: DeepSeek-OCR's global view)."""
        return max(int(positions) - self.base_positions, 1 if not self.base_positions else 0)

    def _decode(self, batch: int, context: int) -> float:
        return self._time(self._request(None, self._text(context), 1, batch), DECODE)

    def _prefill(self, tokens: int) -> float:
        return self._time(self._request(None, self._text(tokens), 0, 1), PREFILL)

    def _vision(self, image) -> float:
        if VISION not in self.wl.stages or (image is None and not self._deepseek):
            return 0.0
        return self._time(self._request(image, 1, 0, 1), VISION)

    # ---- interpolation ----------------------------------------------------------------------

    def decode_s(self, batch: int, context: float) -> float:
        """One decode step of `batch` sequences at mean context `context` positions."""
        b0, b1, wb = _bracket(batch, 1, 2)
        c0, c1, wc = _bracket(context, DECODE_CONTEXT_BASE, DECODE_CONTEXT_RATIO)

        def at(b):
            return (1 - wc) * self.decode_(b, c0) + (wc * self.decode_(b, c1) if wc else 0.0)

        return (1 - wb) * at(b0) + (wb * at(b1) if wb else 0.0)

    def prefill_s(self, tokens: int) -> float:
        t0, t1, w = _bracket(tokens, PREFILL_BASE, 2)
        return (1 - w) * self.prefill_(t0) + (w * self.prefill_(t1) if w else 0.0)

    def step_s(self, plan: StepPlan) -> float:
        d, c = plan.decode_seqs, plan.prefill_tokens
        if not c:
            return self.decode_s(d, plan.decode_context / d) if d else 0.0
        t = self.prefill_s(c + d)
        if d:
            t += max(self.decode_s(d, plan.decode_context / d)
                     - self.decode_s(d, DECODE_CONTEXT_BASE), 0.0)
        return t

    def vision_s(self, request: ServeRequest) -> float:
        return self.vision_(request.image)

    @property
    def buckets_timed(self) -> int:
        return sum(f.cache_info().currsize for f in (self.decode_, self.prefill_, self.vision_))
