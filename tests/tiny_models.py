"""Small variants of the shipped model configs for fast tests: the same architecture (model
type, GQA ratio, MoE, MLA, vision encoder) with every width cut down, written as config.json
files a test passes where a model name is accepted."""

from __future__ import annotations

import json
from pathlib import Path

from roofsim.workloads.hf.configs import model_config

# Field -> small value, applied where the shipped config has the field.
SMALL = {
    "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 256, "num_hidden_layers": 2,
    "moe_intermediate_size": 32, "num_experts": 8, "n_routed_experts": 8,
    "num_experts_per_tok": 2, "n_shared_experts": 1, "kv_lora_rank": 32,
    "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16,
    "max_position_embeddings": 4096,
}
SMALL_VISION = {"depth": 2, "embed_dim": 32, "num_heads": 2, "hidden_size": 64}


def tiny_raw(name: str) -> dict:
    shipped = model_config(name).raw
    raw = {k: SMALL.get(k, v) for k, v in shipped.items()}
    if shipped.get("num_key_value_heads") == shipped.get("num_attention_heads"):
        raw["num_key_value_heads"] = raw["num_attention_heads"]      # no GQA stays no GQA
    if raw.get("rope_scaling") and "mrope_section" in raw["rope_scaling"]:
        raw["rope_scaling"] = dict(raw["rope_scaling"], mrope_section=[2, 3, 3])
    if "vision_config" in raw:
        raw["vision_config"] = {**raw["vision_config"], **SMALL_VISION}
    return raw


def write_tiny(name: str, folder: Path) -> Path:
    """folder/tiny-<name>.json: the shipped config `name` with small widths."""
    path = Path(folder) / f"tiny-{name}.json"
    path.write_text(json.dumps(tiny_raw(name), indent=1))
    return path
