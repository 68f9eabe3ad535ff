"""Shared hypothesis strategies for the property suite: workload configs, requests, crop grids,
image sizes, hardware specs and record tables.

Configs are drawn as the YAML document a user would write (a dict shaped like
workloads/deepseek-ocr.yaml) that satisfies every consistency rule of the config loader, so any
drawn document loads; `configs()` returns the loaded DeepseekOCRConfig. The shipped default is
always one of the possible draws (hypothesis tries it early, shrinking towards it).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from roofsim.data import data_dir
from roofsim.hardware import (CUDA_DTYPES, SCHEMA_BY_NAME, TENSOR_DTYPES, list_hardware,
                              load_hardware, spec_from_dict, spec_to_dict)
from roofsim.kernels import records_from_params
from roofsim.records import RecordTable
from roofsim.workloads.deepseek_ocr import Request, config_from_dict

GUNDAM = "gundam"

# ---- settings ------------------------------------------------------------------------------
# Sized so the whole tests/properties/ suite runs in well under a minute on 2 cores.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=_SLOW_OK)
MEDIUM = settings(max_examples=25, deadline=None, suppress_health_check=_SLOW_OK)
FEW = settings(max_examples=12, deadline=None, suppress_health_check=_SLOW_OK)
SLOW = settings(max_examples=8, deadline=None, suppress_health_check=_SLOW_OK)

# ---- workload configs ------------------------------------------------------------------------
DEFAULT_CONFIG_PATH: Path = data_dir("workloads") / "deepseek-ocr.yaml"
DEFAULT_RAW: dict = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
DEFAULT_CONFIG = config_from_dict(copy.deepcopy(DEFAULT_RAW), source=str(DEFAULT_CONFIG_PATH))
WORKLOAD_DTYPES = ("bfloat16", "float16", "float32")
VIEW_MODES = ("tiny", "small", "base", "large")


def default_raw() -> dict:
    return copy.deepcopy(DEFAULT_RAW)


@st.composite
def random_config_dicts(draw, max_layers: int = 6) -> dict:
    """A valid config document with drawn dimensions, layers and heads."""
    raw = default_raw()
    raw["name"] = draw(yaml_texts)
    raw["dtype"] = draw(st.sampled_from(WORKLOAD_DTYPES))
    patch = draw(st.sampled_from([4, 8, 14, 16]))
    step = patch * 4                                  # views are multiples of patch x downsample

    depth = draw(st.integers(1, max_layers))
    sam_heads = draw(st.integers(1, 12))
    raw["sam"].update(
        patch_size=patch, in_chans=draw(st.integers(1, 4)),
        embed_dim=sam_heads * draw(st.sampled_from([8, 16, 32, 64, 80, 128])), depth=depth,
        heads=sam_heads, mlp_dim=draw(st.integers(1, 4096)),
        window_size=draw(st.integers(1, 20)),
        global_blocks=sorted(draw(st.sets(st.integers(0, depth - 1), max_size=depth))),
        rel_pos=draw(st.booleans()), qkv_bias=draw(st.booleans()),
        pos_embed_size=draw(st.integers(1, 64)))

    clip_heads = draw(st.integers(1, 16))
    clip_hidden = clip_heads * draw(st.sampled_from([8, 16, 32, 64, 80, 128]))
    raw["clip"].update(
        hidden=clip_hidden, layers=draw(st.integers(1, max_layers)), heads=clip_heads,
        mlp_dim=draw(st.integers(1, 4096)),
        activation=draw(st.sampled_from(["quick_gelu", "gelu"])),
        image_size=draw(st.integers(1, 448)), patch_size=draw(st.integers(1, 16)))
    raw["compressor"].update(neck_dim=draw(st.integers(1, 512)),
                             net_2_dim=draw(st.integers(1, 1024)), net_3_dim=clip_hidden)

    kv_heads = draw(st.integers(1, 8))
    heads = kv_heads * draw(st.integers(1, 4))
    head_dim = 2 * draw(st.integers(1, 128))       # flash kernels support <= 256
    hidden = heads * head_dim
    layers = draw(st.integers(1, max_layers))
    experts = draw(st.integers(1, 64))
    raw["decoder"].update(
        hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
        rope_dim=2 * draw(st.integers(1, head_dim // 2)),
        intermediate=draw(st.integers(1, 8192)),
        first_dense_layers=draw(st.integers(0, layers)),
        moe_intermediate=draw(st.integers(1, 2048)), routed_experts=experts,
        experts_per_token=draw(st.integers(1, experts)),
        shared_experts=draw(st.integers(0, 2)),
        gate_dtype=draw(st.sampled_from(["float32", "bfloat16"])),
        vocab=draw(st.integers(1, 200_000)), tie_embeddings=draw(st.booleans()),
        max_positions=draw(st.integers(1, 1 << 16)))
    raw["projector"].update(input_dim=2 * clip_hidden, output_dim=hidden,
                            depth=draw(st.integers(1, 3)), bias=draw(st.booleans()))

    min_crops = draw(st.integers(1, 4))
    modes = draw(st.dictionaries(st.sampled_from(VIEW_MODES), st.integers(1, 24), min_size=1))
    raw["views"].update(
        patch_size=patch, downsample=4, global_size=step * draw(st.integers(1, 24)),
        crop_size=step * draw(st.integers(1, 16)), min_crops=min_crops,
        max_crops=draw(st.integers(min_crops, 12)),
        modes={m: step * k for m, k in modes.items()})
    return raw


def config_dicts(max_layers: int = 6) -> st.SearchStrategy[dict]:
    """The shipped document or a random valid one."""
    return st.one_of(st.builds(default_raw), random_config_dicts(max_layers))


def configs(max_layers: int = 6):
    return config_dicts(max_layers).map(lambda raw: config_from_dict(raw, source="<drawn>"))


# ---- requests and grids ----------------------------------------------------------------------
def grids(max_side: int = 4) -> st.SearchStrategy[tuple[int, int]]:
    """(rows, cols) crop grids; (1, 1) means the global view only."""
    return st.tuples(st.integers(1, max_side), st.integers(1, max_side))


@st.composite
def requests(draw, cfg, *, mode: str | None = None, max_side: int = 4, max_prompt: int = 64,
             max_decode: int = 24, max_batch: int = 4) -> Request:
    """A request valid for `cfg` (its single-view modes or gundam with a grid)."""
    if mode is None:
        mode = draw(st.sampled_from([GUNDAM, *sorted(dict(cfg.views.modes))]))
    grid = draw(st.one_of(st.none(), grids(max_side))) if mode == GUNDAM else None
    return Request(grid=grid, mode=mode, prompt_tokens=draw(st.integers(0, max_prompt)),
                   decode_tokens=draw(st.integers(0, max_decode)),
                   batch=draw(st.integers(1, max_batch)))


image_sizes = st.tuples(st.integers(1, 8000), st.integers(1, 8000))


@st.composite
def crop_limits(draw) -> tuple[int, int]:
    lo = draw(st.integers(1, 12))
    return lo, draw(st.integers(lo, 16))


# Text that is hard for YAML: line breaks of every kind, quotes, comment and mapping marks,
# mixed with any other character. (A list joined: st.text would rarely pick the specials.)
YAML_SPECIALS = ("\x85", "\u2028", "\u2029", "\r", "\n", "\t", ":", "#", "'", '"', "-", " ",
                 "{", "&", "*")
yaml_texts = st.lists(st.sampled_from(YAML_SPECIALS) | st.characters(codec="utf-8"),
                      max_size=20).map("".join)
# The same on one line: no control character nor line separator (a hardware spec refuses them
# in every text but notes).
yaml_line_texts = st.lists(st.sampled_from([c for c in YAML_SPECIALS if c.isprintable()]) |
                           st.characters(codec="utf-8", exclude_categories=("Cc", "Zl", "Zp")),
                           max_size=20).map("".join)

# ---- hardware specs --------------------------------------------------------------------------
SHIPPED_SPECS = {h: load_hardware(h) for h in list_hardware()}


def _in_range(name: str, integer: bool = False):
    f = SCHEMA_BY_NAME[name]
    if integer:
        return st.integers(int(f.low), int(f.high))
    return st.floats(f.low, f.high, allow_nan=False, allow_infinity=False)


@st.composite
def random_spec_dicts(draw) -> dict:
    """A valid hardware document (the fields spec_to_dict writes) with drawn figures."""
    base = spec_to_dict(SHIPPED_SPECS[draw(st.sampled_from(sorted(SHIPPED_SPECS)))])
    tensor_keys = draw(st.sets(st.sampled_from(TENSOR_DTYPES[1:]))) | {"bfloat16"}
    cuda_keys = draw(st.sets(st.sampled_from(CUDA_DTYPES[1:]))) | {"float32"}
    base["tensor_core_tflops"] = {k: draw(_in_range("tensor_core_tflops")) for k in
                                  sorted(tensor_keys)}
    base["cuda_core_tflops"] = {k: draw(_in_range("cuda_core_tflops")) for k in sorted(cuda_keys)}
    base["mem_bandwidth_gbps"] = draw(_in_range("mem_bandwidth_gbps"))
    base["mem_capacity_gb"] = draw(_in_range("mem_capacity_gb"))
    base["l2_cache_mib"] = draw(_in_range("l2_cache_mib"))
    base["sm_count"] = draw(_in_range("sm_count", integer=True))
    base["boost_clock_mhz"] = draw(_in_range("boost_clock_mhz"))
    launch = st.one_of(st.just(0.0), _in_range("launch_overhead_us"))
    base["launch_overhead_us"] = {"stream": draw(launch), "cuda_graph": draw(launch)}
    base["efficiency"] = {k: draw(_in_range("efficiency"))
                          for k in ("tensor_core", "cuda_core", "memory")}
    base["name"] = draw(yaml_line_texts.filter(str.strip))
    base["notes"] = draw(yaml_texts)
    # sources may only cite fields and entries the document has
    base.pop("sources", None)
    base.pop("tensor_core_tflops_fp16_acc", None)
    return base


def hardware_specs() -> st.SearchStrategy:
    """A shipped spec or a random valid one."""
    return st.one_of(st.sampled_from(sorted(SHIPPED_SPECS)).map(SHIPPED_SPECS.get),
                     random_spec_dicts().map(spec_from_dict))


# ---- record tables ---------------------------------------------------------------------------
_dim = st.integers(0, 4096).map(float)


@st.composite
def linear_shapes(draw):
    return draw(_dim), draw(_dim), draw(_dim)


@st.composite
def gemm_tables(draw, max_rows: int = 8) -> RecordTable:
    """Tables of matrix-product records (gemm / linear / grouped_gemm) from the kind formulas."""
    n = draw(st.integers(1, max_rows))
    kinds = np.array(draw(st.lists(st.sampled_from(["gemm", "linear", "grouped_gemm"]),
                                   min_size=n, max_size=n)), dtype=object)
    col = lambda s: np.array(draw(st.lists(s, min_size=n, max_size=n)), dtype=float)  # noqa: E731
    return records_from_params(
        kinds, {"m": col(_dim), "n": col(_dim), "k": col(_dim),
                "batch": col(st.integers(1, 64)), "bias": col(st.integers(0, 1))},
        dtype=np.array(draw(st.lists(st.sampled_from(["bfloat16", "float16", "float32"]),
                                     min_size=n, max_size=n)), dtype=object),
        count=col(st.integers(1, 100)))


@st.composite
def faster_spec_pairs(draw):
    """(spec, the same spec with one roof raised or its launch overhead lowered): tensor or
    CUDA-core peak of one dtype, bandwidth, one efficiency, or both launch overheads."""
    import dataclasses

    spec = draw(hardware_specs())
    up = draw(st.floats(1.0, 1000.0))
    which = draw(st.sampled_from(["tensor", "cuda", "bandwidth", "efficiency", "launch"]))
    if which in ("tensor", "cuda"):
        field = f"{which}_core_tflops"
        peaks = dict(getattr(spec, field))
        key = draw(st.sampled_from(sorted(peaks)))
        peaks[key] *= up
        return spec, dataclasses.replace(spec, **{field: peaks}), which
    if which == "bandwidth":
        return spec, dataclasses.replace(spec, mem_bandwidth_gbps=spec.mem_bandwidth_gbps * up), which
    if which == "efficiency":
        eff = dict(spec.efficiency)
        key = draw(st.sampled_from(sorted(eff)))
        eff[key] = draw(st.floats(eff[key], 1.0))
        return spec, dataclasses.replace(spec, efficiency=eff), which
    down = draw(st.floats(0.0, 1.0))
    launch = {k: v * down for k, v in spec.launch_overhead_us.items()}
    return spec, dataclasses.replace(spec, launch_overhead_us=launch), which
