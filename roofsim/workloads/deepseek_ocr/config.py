"""DeepSeek-OCR configuration: every dimension of SAM, compressor, CLIP, projector and decoder,
loaded from a YAML file (default workloads/deepseek-ocr.yaml) into frozen dataclasses.

Validation is strict: a missing, unknown or mistyped field is a UserError naming the file and
the field, so another file with other dimensions gives another model of the same family.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ...data import data_dir
from ...errors import UserError
from ...io import read_yaml
from ...kernels._common import ELEMENT_BYTES
from ...hardware import canonical_dtype

DEFAULT_CONFIG = "deepseek-ocr.yaml"


@dataclass(frozen=True)
class SamConfig:
    patch_size: int
    in_chans: int
    embed_dim: int
    depth: int
    heads: int
    mlp_dim: int
    window_size: int
    global_blocks: tuple[int, ...]
    rel_pos: bool
    qkv_bias: bool
    pos_embed_size: int

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.heads


@dataclass(frozen=True)
class CompressorConfig:
    neck_dim: int
    net_2_dim: int
    net_3_dim: int


@dataclass(frozen=True)
class ClipConfig:
    hidden: int
    layers: int
    heads: int
    mlp_dim: int
    activation: str
    image_size: int
    patch_size: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@dataclass(frozen=True)
class ProjectorConfig:
    input_dim: int
    output_dim: int
    depth: int
    bias: bool


@dataclass(frozen=True)
class DecoderConfig:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    rope_dim: int
    intermediate: int
    first_dense_layers: int
    moe_intermediate: int
    routed_experts: int
    experts_per_token: int
    shared_experts: int
    gate_dtype: str
    vocab: int
    tie_embeddings: bool
    max_positions: int

    @property
    def moe_layers(self) -> int:
        return self.layers - self.first_dense_layers


@dataclass(frozen=True)
class ViewsConfig:
    patch_size: int
    downsample: int
    global_size: int
    crop_size: int
    min_crops: int
    max_crops: int
    modes: tuple[tuple[str, int], ...]   # (mode name, view size in pixels); hashable

    def mode_size(self, mode: str) -> int | None:
        return dict(self.modes).get(mode)


@dataclass(frozen=True)
class DeepseekOCRConfig:
    name: str
    dtype: str
    sam: SamConfig
    compressor: CompressorConfig
    clip: ClipConfig
    projector: ProjectorConfig
    decoder: DecoderConfig
    views: ViewsConfig
    source: str = ""

    @property
    def element_bytes(self) -> int:
        return ELEMENT_BYTES[self.dtype]

    def same_model(self, other: "DeepseekOCRConfig") -> bool:
        """The same dimensions and dtype, wherever each was read from (`source`, `name` are
        labels): what the captured reference, which has the shipped config's alone, can time."""
        return replace(self, source="", name="") == replace(other, source="", name="")


_SECTIONS = {"sam": SamConfig, "compressor": CompressorConfig, "clip": ClipConfig,
             "projector": ProjectorConfig, "decoder": DecoderConfig, "views": ViewsConfig}
_ACTIVATIONS = ("quick_gelu", "gelu")
# Fields that may be zero (everything else numeric must be a positive integer).
_MAY_BE_ZERO = {"first_dense_layers", "shared_experts"}


def _field_value(where: str, name: str, typ: str, value: Any) -> Any:
    def bad(expected: str) -> UserError:
        return UserError(f"{where}.{name}: expected {expected}, got {value!r}")

    if typ == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        if value < (0 if name in _MAY_BE_ZERO else 1):
            raise bad("a positive integer" if name not in _MAY_BE_ZERO else "an integer >= 0")
        return value
    if typ == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if typ == "str":
        if not isinstance(value, str) or not value:
            raise bad("a string")
        return value
    if typ == "tuple[int, ...]":
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                  and v >= 0 for v in value):
            raise bad("a list of integers >= 0")
        return tuple(value)
    if typ == "tuple[tuple[str, int], ...]":
        if not isinstance(value, dict) or not value or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
                for k, v in value.items()):
            raise bad("a mapping of mode name to view size in pixels")
        return tuple((k.lower(), v) for k, v in value.items())
    raise AssertionError(typ)  # pragma: no cover


def _section(where: str, cls, raw: Any):
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping of fields, got {raw!r}")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; "
                        f"expected {', '.join(names)}")
    values = {}
    for f in fields(cls):
        if f.name not in raw:
            raise UserError(f"{where}.{f.name}: missing field")
        values[f.name] = _field_value(where, f.name, str(f.type), raw[f.name])
    return cls(**values)


def config_from_dict(raw: Any, source: str = "<config>") -> DeepseekOCRConfig:
    """Validate a parsed YAML document into a DeepseekOCRConfig (UserError on any mistake)."""
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    expected = {"name", "dtype", *_SECTIONS}
    unknown = sorted(set(raw) - expected)
    if unknown:
        raise UserError(f"{source}: unknown field(s) {', '.join(map(str, unknown))}")
    for key in ("name", "dtype"):
        if not isinstance(raw.get(key), str):
            raise UserError(f"{source}: field {key!r}: expected a string, got {raw.get(key)!r}")
    dtype = canonical_dtype(raw["dtype"])
    if dtype not in ELEMENT_BYTES:
        raise UserError(f"{source}: field 'dtype': unknown dtype {raw['dtype']!r}")
    sections = {}
    for key, cls in _SECTIONS.items():
        if key not in raw:
            raise UserError(f"{source}: missing section {key!r}")
        sections[key] = _section(f"{source}: {key}", cls, raw[key])
    cfg = DeepseekOCRConfig(name=raw["name"], dtype=dtype, source=source, **sections)
    _check_consistency(cfg, source)
    return cfg


def _check_consistency(cfg: DeepseekOCRConfig, source: str) -> None:
    s, c, d, v, p = cfg.sam, cfg.clip, cfg.decoder, cfg.views, cfg.projector

    def require(ok: bool, field: str, message: str) -> None:
        if not ok:
            raise UserError(f"{source}: {field}: {message}")

    require(s.embed_dim % s.heads == 0, "sam.heads", "must divide sam.embed_dim")
    require(all(b < s.depth for b in s.global_blocks), "sam.global_blocks",
            f"block indices must be < sam.depth ({s.depth})")
    require(c.hidden % c.heads == 0, "clip.heads", "must divide clip.hidden")
    require(c.activation in _ACTIVATIONS, "clip.activation", f"expected one of {_ACTIVATIONS}")
    require(cfg.compressor.net_3_dim == c.hidden, "compressor.net_3_dim",
            "must equal clip.hidden (SAM features are CLIP's input tokens)")
    require(p.input_dim == c.hidden + cfg.compressor.net_3_dim, "projector.input_dim",
            "must equal clip.hidden + compressor.net_3_dim (CLIP and SAM features concatenated)")
    require(p.output_dim == d.hidden, "projector.output_dim", "must equal decoder.hidden")
    require(d.heads * d.head_dim == d.hidden, "decoder.head_dim",
            "heads x head_dim must equal decoder.hidden")
    require(d.heads % d.kv_heads == 0, "decoder.kv_heads", "must divide decoder.heads")
    require(d.rope_dim <= d.head_dim and d.rope_dim % 2 == 0, "decoder.rope_dim",
            "must be even and <= head_dim")
    require(d.first_dense_layers <= d.layers, "decoder.first_dense_layers", "must be <= layers")
    require(d.experts_per_token <= d.routed_experts, "decoder.experts_per_token",
            "must be <= routed_experts")
    require(canonical_dtype(d.gate_dtype) in ELEMENT_BYTES, "decoder.gate_dtype", "unknown dtype")
    require(v.min_crops <= v.max_crops, "views.min_crops", "must be <= views.max_crops")
    step = v.patch_size * v.downsample
    for name, size in [("global_size", v.global_size), ("crop_size", v.crop_size),
                       *[(f"modes.{k}", sz) for k, sz in v.modes]]:
        require(size % step == 0, f"views.{name}",
                f"view size {size} must be a multiple of patch_size x downsample ({step})")
    require(v.patch_size == s.patch_size, "views.patch_size", "must equal sam.patch_size")
    require(v.downsample == 4, "views.downsample",
            "the compressor (neck + two stride-2 convs) reduces tokens by 4 per side")
    require("gundam" not in dict(v.modes), "views.modes",
            "'gundam' is built from global_size and crop_size, not a single-view mode")


def load_config(path: str | Path | None = None) -> DeepseekOCRConfig:
    """Load and validate a DeepSeek-OCR config (default: workloads/deepseek-ocr.yaml)."""
    p = Path(path) if path is not None else data_dir("workloads") / DEFAULT_CONFIG
    raw = read_yaml(p, expected="a model config YAML file")
    return config_from_dict(raw, source=str(p))
