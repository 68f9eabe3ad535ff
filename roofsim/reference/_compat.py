"""Guarded imports of the transformers classes the reference assembly is made of.

Everything used here exists in transformers >= 5.17 (the oldest version roofsim supports for
the reference; see ../shared/reference/deepseek-ocr.md, last section). A missing or older
install is a user error with one line saying what to install, never an ImportError traceback.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

from ..errors import UserError

_HINT = ("the reference assembly needs torch and transformers>=5.17: "
         "pip install 'roofsim[reference]'")


MIN_TRANSFORMERS = (5, 17)


def require() -> None:
    """Raise the one-line UserError of `load` where torch or transformers>=5.17 is missing,
    without importing them (a capture cache hit needs neither)."""
    from importlib import metadata, util
    for name in ("torch", "transformers"):
        if util.find_spec(name) is None:
            raise UserError(f"{_HINT} (No module named '{name}')")
    try:
        version = metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return                          # importable without metadata (a source tree): trust it
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_TRANSFORMERS:
        raise UserError(f"{_HINT} (found transformers {version})")


def load() -> SimpleNamespace:
    """The torch module and the transformers classes, in one namespace."""
    try:
        import torch
        import transformers
        from transformers.models.clip.configuration_clip import CLIPVisionConfig
        from transformers.models.clip.modeling_clip import (CLIPAttention, CLIPEncoder,
                                                            CLIPEncoderLayer, CLIPMLP,
                                                            CLIPVisionEmbeddings)
        from transformers.models.deepseek_ocr2 import modeling_deepseek_ocr2 as ocr2
        from transformers.models.deepseek_ocr2.configuration_deepseek_ocr2 import (
            DeepseekOcr2SamVisionConfig, DeepseekOcr2TextConfig)
    except ImportError as err:
        raise UserError(f"{_HINT} ({err})") from None
    try:
        from transformers import DynamicCache
    except ImportError:  # pragma: no cover - moved in some versions
        from transformers.cache_utils import DynamicCache
    text_forward = inspect.signature(ocr2.DeepseekOcr2TextModel.forward).parameters
    return SimpleNamespace(
        torch=torch, transformers_version=transformers.__version__,
        CLIPVisionConfig=CLIPVisionConfig, CLIPAttention=CLIPAttention, CLIPEncoder=CLIPEncoder,
        CLIPEncoderLayer=CLIPEncoderLayer, CLIPMLP=CLIPMLP,
        CLIPVisionEmbeddings=CLIPVisionEmbeddings,
        SamConfig=DeepseekOcr2SamVisionConfig, TextConfig=DeepseekOcr2TextConfig,
        SamEncoder=ocr2.DeepseekOcr2SamVisionEncoder,
        SamAttention=ocr2.DeepseekOcr2SamVisionSdpaAttention,
        SamLayer=ocr2.DeepseekOcr2SamVisionLayer, SamMLP=ocr2.DeepseekOcr2SamMLPBlock,
        SamPatchEmbed=ocr2.DeepseekOcr2SamPatchEmbeddings,
        SamLayerNorm=ocr2.DeepseekOcr2SamLayerNorm,
        TextModel=ocr2.DeepseekOcr2TextModel, TextMLP=ocr2.DeepseekOcr2TextMLP,
        TextMoe=ocr2.DeepseekOcr2TextMoe, TextRouter=ocr2.DeepseekOcr2TextTopkRouter,
        TextExperts=ocr2.DeepseekOcr2TextExperts, TextRMSNorm=ocr2.DeepseekOcr2TextRMSNorm,
        TextDecoderLayer=ocr2.DeepseekOcr2TextDecoderLayer,
        TextAttention=ocr2.DeepseekOcr2TextAttention,
        TextRotary=ocr2.DeepseekOcr2TextRotaryEmbedding,
        DynamicCache=DynamicCache,
        # The cache keyword was renamed past_key_values -> cache (5.2x); use what this install has.
        cache_kwarg="cache" if "cache" in text_forward else "past_key_values",
    )


def qualname(cls) -> str:
    """Fully qualified class name, e.g. transformers.models.clip.modeling_clip.CLIPEncoder."""
    return f"{cls.__module__}.{cls.__qualname__}"
