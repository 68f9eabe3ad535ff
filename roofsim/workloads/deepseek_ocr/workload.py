"""DeepSeek-OCR as a workload (roofsim.workloads.base.Workload): its records come from the
captured transformers-based reference (`reference`: roofsim.reference, bf16, SDPA, grouped-GEMM
experts, lm_head on the last prefill position and on each decoded token, decode with a KV
cache, inputs as embeddings) or from the analytic model (`flash` / `normal`: fused or unfused
attention). The request's input shape is a crop grid (None or 1x1: the global view only).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UserError
from ...stages import DECODE, PREFILL, STAGES, VISION
from ..base import DEFAULT_MODEL, Request, StageRecords, affine_decode_parts

IMPLEMENTATIONS = ("reference", "flash", "normal")


def grid_of(grid) -> tuple[int, int] | None:
    """(rows, cols) or None (global view only); 'RxC' text accepted; 1x1 means no crops, as the
    real preprocessor sends only the global view."""
    if grid is None:
        return None
    if isinstance(grid, str):
        from .views import parse_grid
        grid = parse_grid(grid)
    rows, cols = (int(v) for v in grid)
    if rows < 1 or cols < 1:
        raise UserError(f"grid {rows}x{cols}: rows and columns must be at least 1")
    return None if (rows, cols) == (1, 1) else (rows, cols)


@dataclass(frozen=True, eq=False)
class DeepseekOCR:
    implementation: str = "reference"
    cfg: object = None                 # the analytic model's config (default: the shipped one)
    name: str = DEFAULT_MODEL

    def __post_init__(self):
        if self.implementation not in IMPLEMENTATIONS:
            raise UserError(f"implementation {self.implementation!r}: expected one of "
                            f"{', '.join(IMPLEMENTATIONS)}")
        if self.implementation == "reference" and self.cfg is not None:
            from . import load_config
            if not self.cfg.same_model(load_config()):     # its timings would be the shipped one's
                raise UserError(f"{self.cfg.source or self.cfg.name}: the captured reference has "
                                f"the shipped DeepSeek-OCR config's dimensions only; the analytic "
                                f"implementations (flash, normal) take another config")

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES

    def shard_sizes(self):
        """What a parallel plan splits (roofsim.parallel.ModelSizes): the decoder's heads, MLP
        widths and routed experts, SAM's and CLIP's heads and MLP widths."""
        from ...parallel import ModelSizes
        from . import load_config
        cfg = self.cfg if self.cfg is not None else load_config()
        d = cfg.decoder
        return ModelSizes(self.name, d.heads, d.kv_heads,
                          mlp=(d.intermediate, cfg.sam.mlp_dim, cfg.clip.mlp_dim),
                          expert_mlp=d.moe_intermediate, experts=d.routed_experts,
                          vision_heads=(cfg.sam.heads, cfg.clip.heads))

    def image_tokens(self, grid) -> int:
        if self.implementation == "reference":
            from ...reference.spec import DEEPSEEK_OCR
            return DEEPSEEK_OCR.image_tokens(grid_of(grid))
        from . import Request as DsRequest, load_config, views
        cfg = self.cfg if self.cfg is not None else load_config()
        return views(cfg, DsRequest(grid=grid_of(grid))).image_tokens

    def describe(self, request: Request) -> dict:
        g = grid_of(request.grid)
        return {"grid": f"{g[0]}x{g[1]}" if g else None,
                "image_tokens": self.image_tokens(g)}

    def stage_records(self, request: Request, *, use_cache: bool = True) -> StageRecords:
        if self.implementation == "reference":
            return self._reference(request, use_cache)
        return self._analytic(request)

    def graph_parts(self, request: Request, *, use_cache: bool = True) -> dict:
        """The reference's decode step as a CUDA graph replays it: over a StaticCache sized for
        the whole generation (image and prompt tokens and the K decode tokens), the last step
        of K, written in place (benchmarks/measure_e2e.py --graph times it). {} for the
        analytic implementations (their decode step is timed as captured) and without decode."""
        if self.implementation != "reference" or request.decode_tokens < 1:
            return {}
        from ...reference.spec import DEEPSEEK_OCR
        from ...reference.stages import capture_stage
        from ..case import STATIC
        kv = DEEPSEEK_OCR.image_tokens(grid_of(request.grid)) + int(request.prompt_tokens) + \
            int(request.decode_tokens) - 1
        cap = capture_stage(DECODE, kv_len=kv, use_cache=use_cache, batch=int(request.batch),
                            cache=STATIC)
        return {DECODE: ((cap.table, 1.0),)}

    def _reference(self, request: Request, use_cache: bool) -> StageRecords:
        """Prefill and decode are captured at the request's batch (B sequences in one prefill,
        a decode step over B); the vision stage runs once per image, so B requests repeat it
        (counts x B), as the model loops over images. The decode step is affine in the cache
        length: the mean over K steps is the mean of the first and last step."""
        from ...reference.spec import DEEPSEEK_OCR
        from ...reference.stages import capture_stage
        g, b = grid_of(request.grid), int(request.batch)
        seq = DEEPSEEK_OCR.image_tokens(g) + int(request.prompt_tokens)
        vision = capture_stage(VISION, crop_grid=g, use_cache=use_cache)
        prefill = capture_stage(PREFILL, seq_len=seq, use_cache=use_cache, batch=b)
        decode: tuple = ()
        k = request.decode_tokens
        if k >= 1:
            first = capture_stage(DECODE, kv_len=seq, use_cache=use_cache, batch=b).table
            last = None if k == 1 else capture_stage(DECODE, kv_len=seq + k - 1,
                                                     use_cache=use_cache, batch=b).table
            decode = affine_decode_parts(first, last)
        notes = tuple(dict.fromkeys(vision.notes + prefill.notes))
        images = vision.table.with_columns(count=vision.table.count * b)
        return StageRecords.single({VISION: images, PREFILL: prefill.table}, decode,
                                   DEEPSEEK_OCR.image_tokens(g), notes)

    def activation_peak_bytes(self, request: Request) -> float | None:
        """The analytic model's peak activations, as `roofsim cost` reports them (the largest
        launch's working set plus the residual stream); None for the reference (captured:
        roofsim.memory estimates it from the records)."""
        if self.implementation == "reference":
            return None
        from . import Request as DsRequest, load_config, stage_costs
        cfg = self.cfg if self.cfg is not None else load_config()
        req = DsRequest(grid=grid_of(request.grid), prompt_tokens=int(request.prompt_tokens),
                        decode_tokens=int(request.decode_tokens), batch=int(request.batch))
        costs = stage_costs(cfg, req, attention=self.implementation, lm_head="last")
        return max(c.activation_peak_bytes for c in costs.values())

    def _analytic(self, request: Request) -> StageRecords:
        """The analytic decode table covers K steps, scaled to one."""
        from . import Request as DsRequest, load_config, stage_records, views
        cfg = self.cfg if self.cfg is not None else load_config()
        req = DsRequest(grid=grid_of(request.grid), prompt_tokens=int(request.prompt_tokens),
                        decode_tokens=int(request.decode_tokens), batch=int(request.batch))
        tables = stage_records(cfg, req, attention=self.implementation, lm_head="last")
        k = int(request.decode_tokens)
        decode = ((tables[DECODE], 1.0 / k),) if k >= 1 else ()
        return StageRecords.single({VISION: tables[VISION], PREFILL: tables[PREFILL]}, decode,
                                   views(cfg, req).image_tokens)
