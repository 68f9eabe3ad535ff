"""A transformers model as a workload (roofsim.workloads.base.Workload): every stage captured
from the model built from its config on meta (roofsim.workloads.hf.cases), cached on disk by
the config's content and the stage's shape, so a cached prediction never imports torch.

Stages: vision (vision-language models given an image), prefill (image tokens + prompt tokens
per row), decode (the mean of K steps). A decode step is affine in the cache length between
changes of what the cache holds (a sliding window filling up): the mean over K steps is taken
from the ends of each affine piece, weighted by its steps.

Replayed as a CUDA graph (graph_parts), decode runs over a StaticCache sized for the whole
generation (prompt + K positions): every step runs the same kernels, attention over all
positions with a mask, so the mean step is the last one, captured as the static decode case
(kv_len = prompt + K - 1 held, one free position).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ... import capture as _capture
from ...errors import UserError
from ...stages import DECODE, PREFILL, VISION
from ..base import Request, StageRecords
from . import vision as _vision
from .cases import STATIC, case_key, stage_case
from .configs import ModelConfig

IMPLEMENTATION = "captured"


def sliding_window(mc: ModelConfig) -> int | None:
    """The sliding window of the decoder's attention, if it uses one."""
    t = mc.text
    w = t.get("sliding_window")
    if not w or t.get("use_sliding_window", True) is False:
        return None
    return int(w)


def decode_points(kv_first: int, steps: int, kinks=()) -> list[tuple[int, float]]:
    """(cache length, weight) pairs whose weighted sum is the mean decode step over cache
    lengths kv_first .. kv_first + steps - 1, for a step affine in the length between kinks."""
    if steps < 1:
        return []
    last = kv_first + steps - 1
    edges = sorted({k for k in kinks if kv_first < k <= last})
    pieces, start = [], kv_first
    for k in edges:
        pieces.append((start, k - 1))
        start = k
    pieces.append((start, last))
    out: dict[int, float] = {}
    for a, b in pieces:
        n = b - a + 1
        for kv in ((a,) if a == b else (a, b)):
            out[kv] = out.get(kv, 0.0) + (n / steps) / (1 if a == b else 2)
    return sorted(out.items())


@dataclass(frozen=True, eq=False)
class TransformersModel:
    config: ModelConfig
    implementation: str = IMPLEMENTATION
    sdpa_backend: str = "auto"
    _built: dict = field(default_factory=dict, repr=False)   # model + KV shapes, built once

    @property
    def name(self) -> str:
        return self.config.name

    def shard_sizes(self):
        from .params import shard_sizes
        return shard_sizes(self.config)

    @property
    def stages(self) -> tuple[str, ...]:
        return ((VISION,) if self.config.is_vision_language else ()) + (PREFILL, DECODE)

    def image_tokens(self, request: Request) -> int:
        if request.image is None:
            return 0
        if not self.config.is_vision_language:
            raise UserError(f"--image: {self.name} is a text model (no vision encoder)")
        return _vision.image_tokens(self.config, *request.image)

    def describe(self, request: Request) -> dict:
        out = {"image_tokens": self.image_tokens(request)}
        if request.image is not None:
            out["image"] = f"{request.image[1]}x{request.image[0]}"      # WxH
        return out

    def _model(self):
        if "model" not in self._built:
            from . import build
            self._built["model"] = build.build_model(self.config)
        return self._built["model"]

    def _shapes(self):
        if "shapes" not in self._built:
            from . import build
            self._built["shapes"] = build.run_forward(
                self.config, "one-token", lambda: build.kv_shapes(self._model(), "meta"))
        return self._built["shapes"]

    def capture(self, stage: str, *, use_cache: bool = True, **shape) -> _capture.Capture:
        """The captured records of one stage case (shape: tokens, kv_len, batch or image)."""
        key = case_key(self.config, stage, **shape)

        def make_case():
            shapes = self._shapes() if stage == DECODE else None
            return stage_case(self._model(), self.config, key, shapes=shapes)

        from .build import run_forward
        return run_forward(self.config, stage, lambda: _capture.capture_case(
            key, make_case, sdpa_backend=self.sdpa_backend, prefix=stage, use_cache=use_cache))

    def graph_parts(self, request: Request, *, use_cache: bool = True) -> dict:
        """{decode: the static-cache step} (see the module docstring); {} without decode."""
        if request.decode_tokens < 1:
            return {}
        kv = self.image_tokens(request) + request.prompt_tokens + request.decode_tokens - 1
        cap = self.capture(DECODE, kv_len=kv, batch=request.batch, cache=STATIC,
                           use_cache=use_cache)
        return {DECODE: ((cap.table, 1.0),)}

    def stage_records(self, request: Request, *, use_cache: bool = True) -> StageRecords:
        if request.grid is not None:
            raise UserError(f"--grid is DeepSeek-OCR's crop grid; {self.name} takes --image")
        image_tokens = self.image_tokens(request)
        seq = image_tokens + request.prompt_tokens
        if seq < 1:
            raise UserError("prefill needs at least one token: --prompt-tokens >= 1")
        b = request.batch
        tables, notes = {}, []
        if request.image is not None:
            vis = self.capture(VISION, image=tuple(request.image), use_cache=use_cache)
            tables[VISION] = vis.table
            if b > 1:       # one encoder pass per image, as the rows are separate requests
                tables[VISION] = vis.scaled(b).table
        pre = self.capture(PREFILL, tokens=seq, batch=b, use_cache=use_cache)
        tables[PREFILL] = pre.table
        notes += pre.notes
        window = sliding_window(self.config)
        decode = tuple(
            (self.capture(DECODE, kv_len=kv, batch=b, use_cache=use_cache).table, w)
            for kv, w in decode_points(seq, request.decode_tokens,
                                       (window,) if window else ()))
        return StageRecords.single(tables, decode, image_tokens, notes)
