"""The dimensions of the DeepSeek-OCR v1 reference assembly.

Values from ../shared/reference/deepseek-ocr.md (checked there against the public DeepSeek-OCR
config and checkpoint). They are kept here, apart from roofsim.workloads' own config, on
purpose: the reference is an independent implementation the analytic workload is checked
against. `dataclasses.replace` gives smaller variants for tests (fewer layers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# How the decoder's MoE experts run: transformers' grouped GEMM (its default on CUDA) or the
# per-expert loop with balanced routing on meta (roofsim.reference.routing).
EXPERTS_IMPLEMENTATIONS = ("grouped_mm", "eager")


@dataclass(frozen=True)
class SamSpec:
    hidden: int = 768
    layers: int = 12
    heads: int = 12
    mlp: int = 3072
    window: int = 14
    global_layers: tuple[int, ...] = (2, 5, 8, 11)
    patch: int = 16
    pretrain_size: int = 1024          # absolute position embedding is 64 x 64 at 1024
    neck_channels: int = 256
    downsample_channels: tuple[int, int] = (512, 1024)


@dataclass(frozen=True)
class ClipSpec:
    hidden: int = 1024
    layers: int = 24
    heads: int = 16
    mlp: int = 4096
    act: str = "quick_gelu"
    eps: float = 1e-5
    grid: int = 16                     # learned position embedding: 16 x 16 + CLS = 257


@dataclass(frozen=True)
class DecoderSpec:
    hidden: int = 1280
    intermediate: int = 6848
    layers: int = 12
    heads: int = 10
    kv_heads: int = 10
    dense_layers: int = 1              # layer 0 dense, the rest MoE
    moe_intermediate: int = 896
    experts: int = 64
    shared_experts: int = 2
    top_k: int = 6
    vocab: int = 129280
    rope_theta: float = 10000.0
    max_positions: int = 8192
    rms_eps: float = 1e-6


@dataclass(frozen=True)
class ReferenceSpec:
    sam: SamSpec = field(default_factory=SamSpec)
    clip: ClipSpec = field(default_factory=ClipSpec)
    decoder: DecoderSpec = field(default_factory=DecoderSpec)
    global_size: int = 1024            # Gundam: one global view of 1024 ...
    crop_size: int = 640               # ... plus crops of 640

    def __post_init__(self):
        if self.sam.downsample_channels[-1] != self.clip.hidden:
            raise ValueError("SAM's output channels must equal CLIP's hidden size "
                             f"({self.sam.downsample_channels[-1]} != {self.clip.hidden})")

    @property
    def projector_in(self) -> int:
        """CLIP output (without CLS) concatenated with SAM tokens."""
        return self.clip.hidden + self.sam.downsample_channels[-1]

    def view_side(self, size: int) -> int:
        """Tokens per side of one view: (size / patch) / 4 (two stride-2 convolutions)."""
        return size // self.sam.patch // 4

    def image_tokens(self, crop_grid: tuple[int, int] | None) -> int:
        """Decoder tokens of one image: local block (rows x (cols + 1 newline) per crop row),
        global block (side x (side + 1)), one view separator."""
        g = self.view_side(self.global_size)
        tokens = g * (g + 1) + 1
        if crop_grid and crop_grid[0] * crop_grid[1] > 0:
            rows, cols = crop_grid
            c = self.view_side(self.crop_size)
            tokens += c * rows * (c * cols + 1)
        return tokens

    def as_dict(self) -> dict:
        return asdict(self)


DEEPSEEK_OCR = ReferenceSpec()
