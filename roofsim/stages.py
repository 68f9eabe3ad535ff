"""Stage names, defined once.

A request runs through up to three stages: `vision` (an image encoder, vision-language models
only), `prefill` (the prompt, image tokens included, through the decoder) and `decode` (one
token at a time with a KV cache). TTFT covers vision + prefill; TPOT is one decode step.
"""

from __future__ import annotations

VISION = "vision"
PREFILL = "prefill"
DECODE = "decode"
STAGES: tuple[str, ...] = (VISION, PREFILL, DECODE)
TTFT_STAGES: tuple[str, ...] = (VISION, PREFILL)
TPOT_STAGES: tuple[str, ...] = (DECODE,)
