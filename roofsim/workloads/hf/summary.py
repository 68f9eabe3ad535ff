"""One line about a transformers model: type, parameters, active parameters, layers, experts,
vision encoder. Parameter counts need the model built on meta (torch); they are cached on disk
beside the captures, keyed by the config's content, so listing again needs no torch."""

from __future__ import annotations

import json
import os

from ...capture import cache_dir, cache_key
from .configs import ModelConfig
from .params import experts_and_top_k


# Bump when the checks of building a model (roofsim.workloads.hf.build.hf_config) refuse more:
# the memory checks of every --model command count the parameters first, so no count cached
# before a check lets a config past it.
CHECKS = 1


def parameter_counts_of(mc: ModelConfig) -> dict:
    """roofsim.workloads.hf.params.ParameterCounts of the model built on meta, as a dict (cached)."""
    path = cache_dir() / f"params-{cache_key({'parameters': mc.key(), 'checks': CHECKS})}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    from .build import build_model
    from .params import parameter_counts
    counts = parameter_counts(build_model(mc), mc).as_dict()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(counts))
        os.replace(tmp, path)
    except OSError:
        pass                                        # a read-only cache dir only costs time
    return counts


def model_summary(mc: ModelConfig) -> dict:
    c = parameter_counts_of(mc)
    experts, top_k = experts_and_top_k(mc)
    return {"name": mc.name, "model_type": mc.model_type, "parameters": c["total"],
            "active_parameters": c["active"], "layers": mc.num_layers, "experts": experts,
            "top_k": top_k, "vision_language": mc.is_vision_language,
            "vision_parameters": c["vision"], "embedding_parameters": c["embedding"],
            "source": mc.source}
