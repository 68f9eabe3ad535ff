"""Images of vision-language models: the size their processor resizes an image to and the
image tokens that come out of the vision encoder, per model family (pure arithmetic, no
torch). How the encoder itself is fed lives in roofsim.workloads.hf.build.
"""

from __future__ import annotations

import math

from ...errors import UserError
from .configs import ModelConfig

# Qwen2-VL's image processor (Qwen2VLImageProcessor.smart_resize): sides rounded to a multiple
# of patch x merge, the pixel count kept within [min_pixels, max_pixels] (preprocessor_config
# of Qwen2-VL-7B-Instruct: 56 x 56 and 28 x 28 x 16384).
QWEN2VL_MIN_PIXELS = 56 * 56
QWEN2VL_MAX_PIXELS = 28 * 28 * 16384
# smart_resize refuses an image whose longer side is more than this many times its shorter one
# (transformers' Qwen2-VL image processor and Qwen's qwen-vl-utils, MAX_RATIO = 200)
QWEN2VL_MAX_RATIO = 200
QWEN2VL_FAMILY = ("qwen2_vl", "qwen2_5_vl")
# Encoders of one fixed square input (vision_config.image_size): the processor resizes (and
# crops) any image to it, and the model's get_image_features runs the vision tower and the
# projector. The image tokens: LLaVA 1.5 (CLIP) the patches, its class token dropped under the
# 'default' vision_feature_select_strategy (336 / 14: 576) and kept under 'full'; PaliGemma
# (SigLIP, no class token) the patches (224 / 14: 256); Gemma 3 (SigLIP pooled by the projector)
# mm_tokens_per_image (256).
FIXED_SIZE_FAMILIES = ("llava", "paligemma", "gemma3")
GEMMA3_DEFAULT_TOKENS = 256       # Gemma3Config.mm_tokens_per_image's default
VISION_FAMILIES = QWEN2VL_FAMILY + FIXED_SIZE_FAMILIES


def _factor(mc: ModelConfig) -> int:
    v = mc.vision
    return int(v.get("patch_size", 14)) * int(v.get("spatial_merge_size", 2))


def check_vision(mc: ModelConfig) -> None:
    if not mc.is_vision_language:
        raise UserError(f"{mc.name}: not a vision-language model (no vision_config)")
    if mc.model_type not in VISION_FAMILIES:
        raise UserError(f"{mc.name}: no vision stage for model type {mc.model_type!r} (have "
                        f"{', '.join(VISION_FAMILIES)})")


def fixed_size(mc: ModelConfig) -> int | None:
    """The side of the square every image is resized to (FIXED_SIZE_FAMILIES), else None."""
    if mc.model_type not in FIXED_SIZE_FAMILIES:
        return None
    side = mc.vision.get("image_size")
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise UserError(f"{mc.source}: 'vision_config.image_size' is {side!r}; expected the "
                        f"encoder's input side in pixels (transformers would fill in its "
                        f"class's default)")
    return side


def resized(mc: ModelConfig, height: int, width: int) -> tuple[int, int]:
    """(height, width) the processor feeds the encoder for an image of height x width."""
    check_vision(mc)
    side = fixed_size(mc)
    if side is not None:
        return side, side
    if max(height, width) > QWEN2VL_MAX_RATIO * min(height, width):
        raise UserError(f"{mc.name}: an image of {width} x {height} pixels has an aspect ratio "
                        f"past {QWEN2VL_MAX_RATIO}, which its image processor refuses "
                        f"(smart_resize)")
    f = _factor(mc)
    h = max(f, round(height / f) * f)
    w = max(f, round(width / f) * f)
    if h * w > QWEN2VL_MAX_PIXELS:
        beta = math.sqrt(height * width / QWEN2VL_MAX_PIXELS)
        h = max(f, math.floor(height / beta / f) * f)
        w = max(f, math.floor(width / beta / f) * f)
    elif h * w < QWEN2VL_MIN_PIXELS:
        beta = math.sqrt(QWEN2VL_MIN_PIXELS / (height * width))
        h = math.ceil(height * beta / f) * f
        w = math.ceil(width * beta / f) * f
    return h, w


def patch_grid(mc: ModelConfig, height: int, width: int) -> tuple[int, int]:
    """Patches along (height, width) after resizing."""
    h, w = resized(mc, height, width)
    p = int(mc.vision.get("patch_size", 14))
    return h // p, w // p


def image_tokens(mc: ModelConfig, height: int, width: int) -> int:
    """Tokens the encoder hands the decoder for one image (Qwen2-VL: patches / merge^2; the
    FIXED_SIZE_FAMILIES: see there)."""
    gh, gw = patch_grid(mc, height, width)
    if mc.model_type == "gemma3":
        return int(mc.raw.get("mm_tokens_per_image", GEMMA3_DEFAULT_TOKENS))
    if mc.model_type == "llava":
        return gh * gw + (mc.raw.get("vision_feature_select_strategy", "default") == "full")
    if mc.model_type == "paligemma":
        return gh * gw
    m = int(mc.vision.get("spatial_merge_size", 2))
    return (gh // m) * (gw // m)
