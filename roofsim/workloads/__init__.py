"""Workloads: models turned into kernel records, behind one protocol (roofsim.workloads.base).

- deepseek_ocr: the default workload, DeepSeek-OCR (analytic model, or the captured reference);
- hf: any transformers model from its config.json (the shipped ones: workloads/models/).

    wl = workload("llama-3.1-8b")                 # a shipped model, or a config.json path
    wl = workload(None, implementation="flash")   # DeepSeek-OCR, analytic with fused attention
"""

from __future__ import annotations

from .base import DEFAULT_MODEL, DEFAULT_PROMPT_TOKENS, Request, StageRecords, Workload

# How a transformers model's records are made (captured); DeepSeek-OCR has three ways.
CAPTURED = "captured"


def workload(model=None, implementation: str = "reference", *, cfg=None):
    """The workload --model names (None or "deepseek-ocr": DeepSeek-OCR with `implementation`;
    a shipped model's name, a config.json path or a roofsim.workloads.hf.configs.ModelConfig).
    A transformers model is always captured: implementation must be "reference" (the default,
    meaning the real implementation) or "captured"."""
    if model is None or model == DEFAULT_MODEL:
        from .deepseek_ocr.workload import DeepseekOCR
        return DeepseekOCR(implementation, cfg)
    from ..errors import UserError
    if implementation not in ("reference", CAPTURED):
        raise UserError(f"--implementation {implementation}: {model} is captured from its "
                        "transformers implementation (the analytic flash / normal models are "
                        "DeepSeek-OCR's)")
    from .hf.configs import ModelConfig, model_config
    from .hf.workload import TransformersModel
    return TransformersModel(model if isinstance(model, ModelConfig) else model_config(model))


__all__ = ["CAPTURED", "DEFAULT_MODEL", "DEFAULT_PROMPT_TOKENS", "Request", "StageRecords",
           "Workload", "workload"]
