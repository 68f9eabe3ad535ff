"""Model configs of transformers models: the shipped ones (workloads/models/*.json) or a user's
config.json, read as plain JSON (no torch, no transformers: predicting from a cached capture
must not pay for importing them).

    mc = model_config("llama-3.1-8b")        # or a path to a config.json
    mc.name, mc.model_type, mc.layers, mc.is_vision_language, mc.key()

`key()` is what identifies the model in the capture cache: the config's content, not its path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ...data import data_dir
from ...errors import UserError
from ...io import read_json

MODELS_FOLDER = "models"          # workloads/models/<name>.json
CONFIG_SUFFIX = ".json"
MODEL_CONFIG = "a model name or config.json"     # what --model takes (messages, argparse type)
# The text decoder's size fields roofsim and transformers read, each a positive integer (or null,
# where transformers fills it in) no larger than its bound here: beyond any published model
# (Llama 3.1 405B: 126 layers, hidden 16,384, MLP 53,248; vocabularies up to about 260k; 256
# routed experts), so a typo is one line rather than minutes of building a model on meta.
SIZE_FIELDS = {"num_hidden_layers": 1024, "hidden_size": 1 << 20,
               "intermediate_size": 1 << 22, "moe_intermediate_size": 1 << 22,
               "num_attention_heads": 1 << 14, "num_key_value_heads": 1 << 14,
               "head_dim": 1 << 14, "vocab_size": 1 << 24, "max_position_embeddings": 1 << 26,
               "num_experts": 1 << 16, "n_routed_experts": 1 << 16, "num_local_experts": 1 << 16,
               "num_experts_per_tok": 1 << 16, "kv_lora_rank": 1 << 16, "q_lora_rank": 1 << 16,
               "qk_rope_head_dim": 1 << 14, "qk_nope_head_dim": 1 << 14, "v_head_dim": 1 << 14,
               "sliding_window": 1 << 26}
# The decoder's fields roofsim's own arithmetic reads before any model is built (KV cache per
# position, head dimension, parallel shard sizes: roofsim.workloads.hf.params); transformers
# would fill a missing one with its class's default, which roofsim cannot see.
REQUIRED_FIELDS = ("num_hidden_layers", "hidden_size", "num_attention_heads")
# The vision encoder's size fields (vision_config), the same way: roofsim divides by the patch
# and merge sizes, and the encoder reshapes by the heads and channels (Qwen2-VL: 32 blocks of
# width 1280, 16 heads, patch 14, merge 2, temporal patch 2, 3 channels, mlp_ratio 4).
VISION_SIZE_FIELDS = {"depth": 1024, "num_hidden_layers": 1024, "embed_dim": 1 << 20,
                      "hidden_size": 1 << 20, "out_hidden_size": 1 << 20,
                      "intermediate_size": 1 << 22, "num_heads": 1 << 14,
                      "num_attention_heads": 1 << 14, "patch_size": 1 << 10,
                      "spatial_patch_size": 1 << 10, "spatial_merge_size": 1 << 6,
                      "temporal_patch_size": 1 << 6, "in_chans": 1 << 6, "in_channels": 1 << 6}
# The vision encoder's field that is the width of the image tokens it hands the decoder, which
# must be the decoder's hidden_size (Qwen2-VL's merger projects to it), by model type.
VISION_OUTPUT_FIELD = {"qwen2_vl": "hidden_size", "qwen2_5_vl": "out_hidden_size"}
# The MLP's width over the encoder's (transformers reads it as a float: 4 and 4.0 alike).
VISION_MLP_RATIO_MAX = 64.0


def models_dir() -> Path:
    return data_dir("workloads") / MODELS_FOLDER


def shipped_models() -> tuple[str, ...]:
    """Names of the shipped model configs, sorted."""
    return tuple(sorted(p.stem for p in models_dir().glob(f"*{CONFIG_SUFFIX}")))


@dataclass(frozen=True)
class ModelConfig:
    """A transformers config.json as read from disk; `layers` overrides the layer counts (text
    decoder and vision encoder) for small test variants."""

    name: str
    source: str                               # the file it was read from
    raw: Mapping[str, Any] = field(repr=False)
    layers: int | None = None
    digest: str = ""                          # sha256 of the file's JSON content

    def __post_init__(self):
        if not self.digest:
            blob = json.dumps(self.raw, sort_keys=True).encode()
            object.__setattr__(self, "digest", hashlib.sha256(blob).hexdigest())

    @property
    def model_type(self) -> str:
        return str(self.raw["model_type"])

    @property
    def text(self) -> Mapping[str, Any]:
        """The text decoder's fields (a nested text_config where the model has one)."""
        return {**self.raw, **self.raw.get("text_config", {})}

    @property
    def vision(self) -> Mapping[str, Any] | None:
        return self.raw.get("vision_config")

    @property
    def is_vision_language(self) -> bool:
        return self.vision is not None

    @property
    def declared_dtype(self) -> str | None:
        """The dtype the file declares for its weights (transformers' `torch_dtype`, `dtype`
        since transformers 5), as text; None where it declares none. roofsim times every
        model in cases.DTYPE whatever it says."""
        value = self.text.get("dtype") or self.text.get("torch_dtype")
        return str(value).removeprefix("torch.") if value else None

    @property
    def declared_quantization(self) -> str | None:
        """The weight quantization the file declares (transformers' quantization_config: its
        quant_method, with its fmt or bits where given), as text; None where it declares none.
        roofsim times every model in cases.DTYPE whatever it says."""
        q = self.text.get("quantization_config")
        if not isinstance(q, Mapping) or not q:
            return None
        method = str(q.get("quant_method") or "unnamed")
        detail = q.get("fmt") or q.get("bits") or q.get("weight_dtype")
        return f"{method} ({detail})" if detail is not None else method

    @property
    def generates(self) -> bool | None:
        """Whether the file's `architectures` name a head that generates text (GENERATING_HEADS:
        a causal LM, a conditional-generation VLM); None where it names none."""
        arch = self.raw.get("architectures")
        if not isinstance(arch, list) or not any(isinstance(a, str) for a in arch):
            return None
        return any(isinstance(a, str) and a.endswith(GENERATING_HEADS) for a in arch)

    @property
    def num_layers(self) -> int:
        return int(self.layers if self.layers is not None else self.text["num_hidden_layers"])

    def with_layers(self, layers: int | None) -> "ModelConfig":
        return replace(self, layers=None if layers is None else int(layers))

    def key(self) -> dict:
        """JSON-able identity for the capture cache: content hash + layer override."""
        return {"model_type": self.model_type, "config_sha256": self.digest,
                "layers": self.layers}


def _is_file(path: Path) -> bool:
    """path.is_file(), False for a name the OS refuses (too long, a NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


# The class-name endings of transformers' heads that generate text (BertForMaskedLM and the
# other encoder heads do not: their decode step describes no run)
GENERATING_HEADS = ("ForCausalLM", "ForConditionalGeneration", "LMHeadModel")
# Older configs' names for the standard fields (GPT-2's attribute_map in transformers), named in
# the error where a file gives them instead
LEGACY_NAMES = {"num_hidden_layers": "n_layer", "num_attention_heads": "n_head",
                "hidden_size": "n_embd", "max_position_embeddings": "n_positions"}


def model_config(name_or_path: str | Path) -> ModelConfig:
    """A shipped model by name (workloads/models/NAME.json), a config.json path, or a
    checkpoint folder holding one (as transformers' from_pretrained takes it)."""
    text = str(name_or_path)
    path = Path(text)
    if path.is_dir() and not _is_file(models_dir() / f"{text}{CONFIG_SUFFIX}"):
        if not _is_file(path / "config.json"):
            raise UserError(f"--model {text}: a folder without a config.json (a checkpoint "
                            f"folder holds one)")
        path = path / "config.json"
        text = str(path)
    if not (text.endswith(CONFIG_SUFFIX) or _is_file(path)):
        path = models_dir() / f"{text}{CONFIG_SUFFIX}"
        if not _is_file(path):
            raise UserError(f"--model {text}: no such shipped model (have "
                            f"{', '.join(shipped_models())}) and no such config.json file")
        name = text
    else:
        name = path.stem if path.name != "config.json" else path.parent.name or "config"
    raw = read_json(path, expected=MODEL_CONFIG)
    if not isinstance(raw, dict) or not isinstance(raw.get("model_type"), str):
        raise UserError(f"{path}: expected a transformers config.json with a 'model_type'")
    for key in ("text_config", "vision_config"):
        if not isinstance(raw.get(key, {}), dict):
            raise UserError(f"{path}: '{key}' must be a JSON object")
    text_cfg = {**raw, **raw.get("text_config", {})}
    for key in REQUIRED_FIELDS:
        if text_cfg.get(key) is None:
            alias = LEGACY_NAMES.get(key)
            if alias in text_cfg:
                raise UserError(f"{path}: '{key}' is missing; the file gives '{alias}' (GPT-2's "
                                f"name for it), and roofsim reads transformers' standard names")
            raise UserError(f"{path}: '{key}' is missing; expected an integer (transformers "
                            f"would fill in its class's default)")
    if not isinstance(text_cfg.get("num_hidden_layers"), int):
        raise UserError(f"{path}: 'num_hidden_layers' must be an integer")
    check_sizes(text_cfg, path)
    if "vision_config" in raw:
        check_vision_sizes(raw["vision_config"], path, raw["model_type"],
                           text_cfg.get("hidden_size"))
    return ModelConfig(name=name, source=str(path), raw=raw)


def check_sizes(text_cfg: Mapping[str, Any], path: Path) -> None:
    """The decoder's SIZE_FIELDS (where present and not null) are integers in [1, bound], and
    the attention heads are a multiple of the KV heads: one line naming the file and field."""
    _check_fields(text_cfg, SIZE_FIELDS, path)
    heads, kv = text_cfg.get("num_attention_heads"), text_cfg.get("num_key_value_heads")
    hidden = text_cfg.get("hidden_size")
    if "kv_lora_rank" in text_cfg:      # multi-head latent attention caches these per position
        for key in ("kv_lora_rank", "qk_rope_head_dim"):
            if text_cfg.get(key) is None:
                raise UserError(f"{path}: '{key}' must be an integer (multi-head latent "
                                f"attention caches 'kv_lora_rank' + 'qk_rope_head_dim' per "
                                f"position)")
    if heads and hidden and text_cfg.get("head_dim") is None and \
            "kv_lora_rank" not in text_cfg and hidden % heads:
        raise UserError(f"{path}: 'hidden_size' {hidden} is not a multiple of "
                        f"'num_attention_heads' {heads} (and no 'head_dim' is given)")
    if heads is not None and kv is not None and heads % kv:
        raise UserError(f"{path}: 'num_attention_heads' {heads} is not a multiple of "
                        f"'num_key_value_heads' {kv}")
    top_k = text_cfg.get("num_experts_per_tok")
    experts = next((text_cfg[k] for k in ("n_routed_experts", "num_experts", "num_local_experts")
                    if text_cfg.get(k) is not None), None)
    if top_k is not None and experts is not None and top_k > experts:
        raise UserError(f"{path}: 'num_experts_per_tok' {top_k} is more than the {experts} "
                        f"experts")


def check_vision_sizes(vision_cfg: Mapping[str, Any], path: Path, model_type: str = "",
                       text_hidden: int | None = None) -> None:
    """The vision encoder's VISION_SIZE_FIELDS (where present and not null) are integers in
    [1, bound], its heads divide its width, and the width it hands the decoder
    (VISION_OUTPUT_FIELD) is the decoder's hidden_size: one line naming the file and field."""
    _check_fields(vision_cfg, VISION_SIZE_FIELDS, path, prefix="vision_config.")
    ratio = vision_cfg.get("mlp_ratio")
    if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                              or not 0 < ratio <= VISION_MLP_RATIO_MAX):
        raise UserError(f"{path}: 'vision_config.mlp_ratio' is {ratio!r}; expected a number "
                        f"in (0, {VISION_MLP_RATIO_MAX:g}]")
    heads = vision_cfg.get("num_heads") or vision_cfg.get("num_attention_heads")
    width = vision_cfg.get("embed_dim") or vision_cfg.get("hidden_size")
    if heads and width and width % heads:
        key = "embed_dim" if vision_cfg.get("embed_dim") else "hidden_size"
        raise UserError(f"{path}: 'vision_config.{key}' {width} is not a multiple of the "
                        f"{heads} vision heads")
    out_key = VISION_OUTPUT_FIELD.get(model_type)
    out = vision_cfg.get(out_key) if out_key else None
    if out is not None and text_hidden is not None and out != text_hidden:
        raise UserError(f"{path}: 'vision_config.{out_key}' {out} is not the decoder's "
                        f"'hidden_size' {text_hidden} (the image tokens the encoder hands "
                        f"the decoder are that wide)")


def _check_fields(cfg: Mapping[str, Any], bounds: Mapping[str, int], path: Path,
                  prefix: str = "") -> None:
    for key, bound in bounds.items():
        v = cfg.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= bound:
            raise UserError(f"{path}: '{prefix}{key}' is {v!r}; expected an integer in "
                            f"[1, {bound}]")
