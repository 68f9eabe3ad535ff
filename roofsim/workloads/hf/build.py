"""Building a transformers model from its config, on meta (capture) or on a GPU (timing).

Everything that turns a roofsim.workloads.hf.configs.ModelConfig into torch objects lives here,
so capture and benchmarks/measure_models.py run the same model the same way:
- the model class: AutoModelForCausalLM where transformers maps the model type to one, else
  AutoModelForImageTextToText (vision-language models);
- bf16 (transformers keeps its fp32 modules, e.g. routers, as it does when loading), SDPA
  attention, transformers' default experts implementation (grouped_mm);
- inputs: token ids, a KV cache pre-filled to a length (DynamicCache, shapes found by a one-token
  probe, so GQA, MLA and sliding-window layers all get what the model itself caches; or the
  StaticCache a CUDA-graph decode runs over, one free position after the filled ones), and for
  vision-language models the image inputs of their vision encoder (VISION_ADAPTERS).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from dataclasses import replace

from ...errors import UserError
from .configs import ModelConfig

ATTENTION_IMPLEMENTATION = "sdpa"
FALLBACK_ATTENTION = "eager"     # for a class without SDPA support (_from_config)
# What transformers raises on a config it reads but cannot build (an unknown activation, heads
# that do not divide), or builds but cannot run (heads that do not match, a cache layer of
# another kind): the user's file, said in one line (build_model, run_forward).
CONFIG_ERRORS = (ValueError, KeyError, TypeError, RuntimeError, ZeroDivisionError, IndexError,
                 AttributeError)
_HINT = "transformers models need torch and transformers>=5.17: pip install 'roofsim[reference]'"


def _libs():
    try:
        import torch
        import transformers
    except ImportError as err:
        raise UserError(f"{_HINT} ({err})") from None
    return torch, transformers


@contextlib.contextmanager
def _quiet():
    """transformers warns about config details of public checkpoints (e.g. YaRN factors)."""
    _, transformers = _libs()
    logging = transformers.utils.logging
    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


def _override_layers(raw: dict, layers: int) -> dict:
    """raw with the text decoder (and vision encoder) cut to `layers`; per-layer lists of the
    original length are cut too (layer_types, mlp_only_layers stay valid)."""
    raw = dict(raw)

    def cut(d: dict, key: str) -> dict:
        d = dict(d)
        n = d.get(key)
        if isinstance(n, int):
            for k, v in list(d.items()):
                if isinstance(v, list) and len(v) == n and k not in ("architectures",):
                    d[k] = v[:layers]
                elif k in ("mlp_only_layers",) and isinstance(v, list):
                    d[k] = [i for i in v if i < layers]
            d[key] = layers
        return d

    raw = cut(raw, "num_hidden_layers")
    if isinstance(raw.get("text_config"), dict):
        raw["text_config"] = cut(raw["text_config"], "num_hidden_layers")
    if isinstance(raw.get("vision_config"), dict):
        v = raw["vision_config"]
        raw["vision_config"] = cut(v, "depth" if "depth" in v else "num_hidden_layers")
    return raw


def hf_config(mc: ModelConfig):
    """The transformers config object of a model config (layer override applied)."""
    _, transformers = _libs()
    raw = copy.deepcopy(dict(mc.raw))         # transformers edits nested dicts (rope_scaling)
    if mc.layers is not None:
        raw = _override_layers(raw, mc.layers)
    model_type = raw.pop("model_type")
    with _quiet():
        try:
            cfg = transformers.AutoConfig.for_model(model_type, **raw)
        except Exception as err:     # transformers' validators raise their own classes too
            raise UserError(f"{mc.source}: transformers cannot read this config "
                            f"({type(err).__name__}: {_first_line(err)})") from None
    _check_defaults(mc, cfg)
    return cfg


# The decoder's fields roofsim's arithmetic reads from the file (roofsim.workloads.hf.params:
# KV cache per position, attention FLOPs, experts, parallel shard sizes) with a fallback of
# its own where the file has none.
ARITHMETIC_FIELDS = ("head_dim", "num_key_value_heads", "intermediate_size",
                     "moe_intermediate_size", "num_experts", "n_routed_experts",
                     "num_local_experts", "num_experts_per_tok", "kv_lora_rank",
                     "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")


def _arithmetic(mc: ModelConfig) -> tuple | None:
    from .params import attention_flops, experts_and_top_k, kv_cache_bytes_per_token, shard_sizes
    try:
        return (kv_cache_bytes_per_token(mc), attention_flops(mc, 1, 1, 1),
                experts_and_top_k(mc), shard_sizes(mc))
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        return None


def _check_defaults(mc: ModelConfig, cfg) -> None:
    """A field of ARITHMETIC_FIELDS the file leaves out, which transformers fills with a default
    that changes roofsim's arithmetic (Qwen3's head_dim 128 where hidden / heads is 64, 128
    experts of a qwen3_moe file without num_experts): a silently wrong memory check or parameter
    count otherwise, so one line asking for the field."""
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    nested = isinstance(mc.raw.get("text_config"), dict)
    base = _arithmetic(mc)
    for key in ARITHMETIC_FIELDS:
        value = getattr(text, key, None)
        if mc.text.get(key) is not None or not isinstance(value, int) or isinstance(value, bool):
            continue
        raw = dict(mc.raw)
        if nested:
            raw["text_config"] = {**raw["text_config"], key: value}
        else:
            raw[key] = value
        if _arithmetic(replace(mc, raw=raw, digest="-")) != base:
            raise UserError(f"{mc.source}: '{key}' is not given and transformers fills in its "
                            f"{mc.model_type} default {value}, which roofsim's memory and "
                            f"parameter arithmetic would not see: give '{key}' in the file")


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if len(text) <= limit else text[:limit] + " ..."


def model_class(mc: ModelConfig):
    _, transformers = _libs()
    from transformers.models.auto import modeling_auto as auto
    if mc.model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return transformers.AutoModelForCausalLM
    if mc.model_type in auto.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return transformers.AutoModelForImageTextToText
    raise UserError(f"{mc.source}: model type {mc.model_type!r} has no causal-LM or "
                    f"image-text-to-text class in transformers {transformers.__version__}")


def build_model(mc: ModelConfig, device="meta", dtype=None):
    """The model with random (or, on meta, no) weights on `device`, in eval mode."""
    torch, _ = _libs()
    dtype = dtype or torch.bfloat16
    cfg = hf_config(mc)
    cls = model_class(mc)
    with _quiet(), torch.device(device):
        try:
            model = _from_config(cls, cfg, dtype)
        except CONFIG_ERRORS as err:
            # a config transformers reads but cannot build (an unknown activation, heads that
            # do not divide, ...): the user's file, not roofsim's bug. Out-of-memory stays.
            if isinstance(err, torch.cuda.OutOfMemoryError):
                raise
            raise UserError(f"{mc.source}: transformers cannot build a {mc.model_type} model "
                            f"from this config ({type(err).__name__}: {_first_line(err)})") \
                from None
    return model.eval()


def _from_config(cls, cfg, dtype):
    """cls built from cfg with ATTENTION_IMPLEMENTATION; a class that does not support it (Gemma
    2's logit soft-capping: "does not support an attention implementation through
    torch.nn.functional.scaled_dot_product_attention") with FALLBACK_ATTENTION, which is what
    transformers itself runs for such a class when no implementation is asked for."""
    try:
        return cls.from_config(cfg, dtype=dtype, attn_implementation=ATTENTION_IMPLEMENTATION)
    except ValueError as err:
        if "scaled_dot_product_attention" not in str(err):
            raise
    return cls.from_config(cfg, dtype=dtype, attn_implementation=FALLBACK_ATTENTION)


def text_config(model):
    cfg = model.config
    return cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg


def cache_kwarg(model) -> str:
    """The KV-cache keyword of the model's forward (renamed past_key_values -> cache in 5.2x)."""
    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _is_meta(device) -> bool:
    torch, _ = _libs()
    return torch.device(device).type == "meta"


def token_ids(batch: int, tokens: int, vocab: int, device):
    """Token ids of shape (batch, tokens): shapes only on meta, random ids elsewhere."""
    torch, _ = _libs()
    if _is_meta(device):
        return torch.empty((batch, tokens), dtype=torch.long, device=device)
    return torch.randint(0, vocab, (batch, tokens), device=device)


def random_tensor(shape, device, dtype):
    """Shapes only on meta; random values elsewhere (never zeros: they can run faster)."""
    torch, _ = _libs()
    make = torch.empty if _is_meta(device) else torch.randn
    return make(tuple(shape), device=device, dtype=dtype)


def new_cache(model):
    _, transformers = _libs()
    try:
        return transformers.DynamicCache(config=text_config(model))
    except TypeError:  # pragma: no cover - older signature
        return transformers.DynamicCache()


def kv_shapes(model, device) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Per layer, the (keys, values) shape the model caches for one token of batch 1: a
    one-token forward fills a fresh cache (GQA heads, MLA head dims, whatever the model does)."""
    torch, _ = _libs()
    cache = new_cache(model)
    vocab = text_config(model).vocab_size
    with torch.no_grad():
        model(input_ids=token_ids(1, 1, vocab, device), use_cache=True, logits_to_keep=1,
              **{cache_kwarg(model): cache})
    for layer in cache.layers:
        if getattr(layer, "keys", None) is None or getattr(layer, "values", None) is None:
            raise UserError(f"{getattr(model.config, 'model_type', 'this model')}: its cache "
                            f"holds {type(layer).__name__} layers, not attention keys and "
                            f"values; roofsim captures decoders whose decode step reads a KV "
                            f"cache (state-space and linear-attention layers are not modelled)")
    return [(tuple(layer.keys.shape), tuple(layer.values.shape)) for layer in cache.layers]


def run_forward(mc: ModelConfig, what: str, call):
    """call() (a forward of the model built from mc, or its capture); an error it raises is
    one line naming the config and the stage: the config runs nowhere (an incoherent config
    transformers builds but cannot run) or roofsim cannot trace it; either way not a traceback."""
    try:
        return call()
    except UserError:
        raise
    except CONFIG_ERRORS as err:
        raise UserError(f"{mc.source}: the {mc.model_type} model this config builds fails in "
                        f"its {what} forward ({type(err).__name__}: {_first_line(err)})") \
            from None


def filled_cache(model, shapes, batch: int, kv_len: int, device, dtype):
    """A DynamicCache holding kv_len positions in every layer (random values off meta)."""
    cache = new_cache(model)
    for i, (ks, vs) in enumerate(shapes):
        k = random_tensor((batch, ks[1], kv_len) + ks[3:], device, dtype)
        v = random_tensor((batch, vs[1], kv_len) + vs[3:], device, dtype)
        cache.update(k, v, i)
    return cache


def static_cache(model, shapes, batch: int, kv_len: int, device, dtype):
    """A StaticCache of kv_len + 1 positions holding kv_len (the next token is written in place
    at position kv_len), as benchmarks/measure_models.measure_graph_decode builds it by a
    prefill: each layer allocated at its probed shape and its length set, which works on meta
    (the length is a device tensor the model reads its positions from). Random values off
    meta."""
    return static_cache_of(text_config(model), shapes, batch, kv_len, device, dtype)


def static_cache_of(config, shapes, batch: int, kv_len: int, device, dtype):
    """static_cache for a text config (the model's, or DeepSeek-OCR reference decoder's:
    roofsim.reference.models.make_static_kv_cache)."""
    _, transformers = _libs()
    cache = transformers.StaticCache(config=config, max_cache_len=kv_len + 1)
    for layer, (ks, vs) in zip(cache.layers, shapes, strict=True):
        layer.lazy_initialization(random_tensor((batch, ks[1], 1) + ks[3:], device, dtype),
                                  random_tensor((batch, vs[1], 1) + vs[3:], device, dtype))
        if not _is_meta(device):
            layer.keys.normal_()
            layer.values.normal_()
        layer.cumulative_length.fill_(kv_len)
        if hasattr(layer, "cumulative_length_int"):      # sliding-window layers
            layer.cumulative_length_int = kv_len
    return cache


# ---- vision encoders of vision-language models --------------------------------------------

def vision_inputs(model, mc: ModelConfig, height: int, width: int, device, dtype):
    """(encoder module, args, kwargs) for one image of height x width (roofsim.workloads.hf.
    vision resizes it as the processor would). Qwen2-VL family: visual(pixel_values (patches,
    C x T x P x P), grid_thw); grid_thw stays on the host on meta (the encoder reads its values
    to split attention per image), on the device elsewhere, as a processor's output is moved."""
    torch, _ = _libs()
    from . import vision
    vision.check_vision(mc)
    v = mc.vision
    side = vision.fixed_size(mc)
    if side is not None:
        channels = int(v.get("num_channels", 3))
        return (_image_features(model), (random_tensor((1, channels, side, side), device, dtype),),
                {})
    p, t = int(v.get("patch_size", 14)), int(v.get("temporal_patch_size", 2))
    c = int(v.get("in_chans", v.get("in_channels", 3)))
    gh, gw = vision.patch_grid(mc, height, width)
    meta = _is_meta(device)
    grid = torch.tensor([[1, gh, gw]], dtype=torch.long, device="cpu" if meta else device)
    pixels = random_tensor((gh * gw, c * t * p * p), device, dtype)
    kwargs = {"grid_thw": grid}
    if meta:
        # The rotary position ids come from grid_thw's values: computed on the host, handed
        # over as meta tensors (their few index kernels are not records).
        try:
            from transformers.vision_utils import get_vision_position_ids
        except ImportError:  # pragma: no cover - older transformers computes them inline
            get_vision_position_ids = None
        if get_vision_position_ids is not None:
            ids = get_vision_position_ids(grid, int(v.get("spatial_merge_size", 2)))
            kwargs["position_ids"] = torch.empty(ids.shape, dtype=ids.dtype, device=device)
    return model.model.visual, (pixels,), kwargs


def _image_features(model):
    """A module holding a fixed-size VLM's vision tower and projector (its parameters and
    module paths alone, not the decoder's) whose forward is the model's own
    get_image_features(pixel_values): what the model runs on an image."""
    torch, _ = _libs()
    inner = model.model

    class ImageFeatures(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vision_tower = inner.vision_tower
            self.multi_modal_projector = inner.multi_modal_projector

        def forward(self, pixel_values):
            return inner.get_image_features(pixel_values=pixel_values)

    return ImageFeatures()
