"""The transformers-based reference assembly of DeepSeek-OCR v1 (random weights, nothing
downloaded): modules for capture on meta tensors and for timing on CUDA in bf16.

- spec: the dimensions (ReferenceSpec, DEEPSEEK_OCR)
- models: the assembly (VisionReference, ClipOverSam, DecoderReference, build_*, make_kv_cache)
- routing: the balanced-routing assumption for MoE on meta tensors
- stages: stage cases (module + input factory) and cached captures of stages
- layers: the per-layer cases of the specification's layer-wise verification
Importing this package needs torch and transformers>=5.17 (the `reference` extra).
"""

from .spec import DEEPSEEK_OCR, ClipSpec, DecoderSpec, ReferenceSpec, SamSpec

__all__ = ["DEEPSEEK_OCR", "ClipSpec", "DecoderSpec", "ReferenceSpec", "SamSpec"]
