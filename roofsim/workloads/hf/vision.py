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
QWEN2VL_FAMILY = ("qwen2_vl", "qwen2_5_vl")
VISION_FAMILIES = QWEN2VL_FAMILY


def _factor(mc: ModelConfig) -> int:
    v = mc.vision
    return int(v.get("patch_size", 14)) * int(v.get("spatial_merge_size", 2))


def check_vision(mc: ModelConfig) -> None:
    if not mc.is_vision_language:
        raise UserError(f"{mc.name}: not a vision-language model (no vision_config)")
    if mc.model_type not in VISION_FAMILIES:
        raise UserError(f"{mc.name}: no vision stage for model type {mc.model_type!r} (have "
                        f"{', '.join(VISION_FAMILIES)})")


def resized(mc: ModelConfig, height: int, width: int) -> tuple[int, int]:
    """(height, width) the processor feeds the encoder for an image of height x width."""
    check_vision(mc)
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
    """Tokens the encoder hands the decoder for one image (patches / merge^2)."""
    gh, gw = patch_grid(mc, height, width)
    m = int(mc.vision.get("spatial_merge_size", 2))
    return (gh // m) * (gw // m)
