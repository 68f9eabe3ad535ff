"""Any transformers model from its config.json, as a workload: the model is built on meta (no
weights, no download) and its stages are captured (roofsim.capture).

- configs: the shipped configs (workloads/models/*.json) and a user's config.json, as JSON;
- vision:  image sizes and image tokens of vision-language models (pure arithmetic);
- build:   the transformers model on meta or a GPU, its inputs and KV cache (torch);
- cases:   prefill, decode and vision stage cases, shared by capture and GPU measurement.
"""
