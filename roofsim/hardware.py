"""Hardware specs: a GPU as roofs (tensor-core and CUDA-core peaks per dtype, memory bandwidth)
plus launch overhead. Loaded from hardware/*.yaml (schema: hardware/README.md).

All figures are kept in the units their field names state (TFLOP/s, GB/s, MiB, us); the
methods return SI (FLOP/s, byte/s, s) for the engine.

Loading validates every field against SCHEMA: a user mistake raises roofsim.errors.UserError
with one line naming the file, the field and what was expected. `--set key=value` overrides
(dotted keys for maps) are applied to the file's fields before validation, so they are checked
exactly like the file.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import yaml

from .data import data_dir
from .errors import UserError
from .io import DECIMAL_NUMBER, dump_yaml

DEFAULT_HARDWARE = "rtx-5090"
SCHEMA_VERSION = 1

# Default fraction of peak that a well-shaped kernel reaches, used until a calibration profile
# replaces it. Tensor: cuBLAS bf16 GEMMs reach ~0.80 of dense peak on H100 (MAMF, S13 in
# ../shared/reference/gpu-datasheets.yaml); memory: STREAM-like kernels reach 0.85-0.95 of
# datasheet bandwidth (S14); CUDA-core: elementwise/reduction kernels rarely pass ~0.5 of the
# FMA peak, and are memory-bound anyway. Each spec file states its own, with its source.
# DRAM load latency used where a spec gives none: HBM GPUs of 2020-2024 measure 480-700 ns in
# pointer-chase benchmarks (te42kyfo/gpu-benches gpu-latency); see hardware/README.md.
DEFAULT_MEM_LATENCY_NS = 600.0
# L2 hit latency where a spec gives none: a share of its DRAM latency. gpu-benches' gpu-latency
# plateaus (calibration/published/gpu-benches/latency.csv; footprints 2-8 MB vs the largest):
# A100 151 / 406 ns, H100 PCIe 151 / 375, L40 111 / 254, V100 156 / 317 -> 0.37 .. 0.49.
DEFAULT_L2_LATENCY_SHARE = 0.4

# Where a spec gives no per-SM memory bandwidth: the H200's SMs sustain up to 130 GB/s each
# (hardware/h200.yaml: skinny matrix products on 24 SMs, calibration/h200-sm24/narrow), 3.6 x
# its HBM bandwidth / SMs: under a third of the SMs, each at its limit, saturate HBM.
SM_BANDWIDTH_SHARE = 3.5

# Where a spec gives no L2 bandwidth: bytes per clock per SM of the whole chip's L2 read
# bandwidth, as te42kyfo/gpu-benches' gpu-l2-cache measured it (calibration/published/
# gpu-benches/l2_cache.csv, the plateau of small data sets: A100 80GB 5.40 TB/s on 108 SMs at
# 1410 MHz = 35.5, H100 PCIe 6.98 TB/s on 114 SMs at 1755 MHz = 34.9, H200 9.90 TB/s on 132
# SMs at 1980 MHz = 37.9 B / clock / SM): the L2's slices and crossbar grow with the SMs.
L2_BYTES_PER_CLOCK_PER_SM = 36.0

DEFAULT_EFFICIENCY = MappingProxyType({"tensor_core": 0.80, "cuda_core": 0.50, "memory": 0.85})

# GPU-to-GPU links (the engine's `link` roof, roofsim.kernels.comm): the fraction of one
# direction's bandwidth a ring collective's bus bandwidth reaches where a spec gives no
# efficiency.link (nccl-tests ring all-reduce on 8 H100 SXM without NVLS: ~360 of 450 GB/s,
# calibration/published/nccl-tests), and NCCL's latency model where a spec gives no
# interconnect_latency_us (NVIDIA/nccl src/graph/tuning.cc: ring LL base 3.6 us, per step
# 0.47 us over NVLink, 1.0 us over PCIe, 2.7 us over the network).
DEFAULT_LINK_EFFICIENCY = 0.80
DEFAULT_LINK_LATENCY_US = MappingProxyType({"base": 3.6, "nvlink": 0.47, "pcie": 1.0,
                                            "network": 2.7})
LINKS: tuple[str, ...] = ("nvlink", "pcie", "network")

# Dtype aliases: torch names are canonical.
DTYPE_ALIASES = MappingProxyType({
    "bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
    "float": "float32", "tf32": "float32", "fp8": "float8_e4m3fn", "float8": "float8_e4m3fn",
})
# Dtypes a spec may give peaks for (torch names; tensor-core float32 means TF32).
TENSOR_DTYPES: tuple[str, ...] = ("bfloat16", "float16", "float32", "float8_e4m3fn")
CUDA_DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")
LAUNCH_MODES: tuple[str, ...] = ("cuda_graph", "stream")


def canonical_dtype(name: str) -> str:
    return DTYPE_ALIASES.get(name, name)


@dataclass(frozen=True)
class HardwareSpec:
    id: str
    name: str
    tensor_core_tflops: Mapping[str, float]      # dense peak per input dtype
    cuda_core_tflops: Mapping[str, float]        # non-tensor (FMA) peak per dtype
    mem_bandwidth_gbps: float
    mem_capacity_gb: float
    l2_cache_mib: float
    sm_count: int
    boost_clock_mhz: float
    launch_overhead_us: Mapping[str, float]      # {"stream": .., "cuda_graph": ..}
    efficiency: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EFFICIENCY))
    tensor_core_accumulate: str = "fp32"
    interconnect: Mapping[str, float] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    arch: str = ""
    tensor_peak_clock_mhz: float | None = None   # clock that reproduces the tensor peaks
    tensor_core_tflops_fp16_acc: Mapping[str, float] = field(default_factory=dict)
    references: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""
    mem_latency_ns: float | None = None          # DRAM load latency (pointer chase), ns
    l2_latency_ns: float | None = None           # L2 hit latency (pointer chase), ns
    tensor_sustained_tflops: Mapping[str, float] = field(default_factory=dict)  # power-limited
    sm_mem_bandwidth_gbps: float | None = None   # what one SM sustains alone (Little's law)
    l2_bandwidth_gbps: float | None = None       # the L2's bandwidth, whole chip
    grid_sm_count: int | None = None             # SMs libraries size launch grids for
    library_narrow_tile_cols: int | None = None  # widest narrow column tile of skinny linears
    interconnect_latency_us: Mapping[str, float] = field(default_factory=dict)  # per link step

    # ---- physical quantities (roofsim.perfmodel) ---------------------------------------
    @property
    def mem_latency_s(self) -> float:
        """DRAM load latency: the spec's figure, else DEFAULT_MEM_LATENCY_NS (derived)."""
        return (self.mem_latency_ns or DEFAULT_MEM_LATENCY_NS) * 1e-9

    @property
    def l2_latency_s(self) -> float:
        """L2 hit latency: the spec's figure, else DEFAULT_L2_LATENCY_SHARE of the DRAM latency
        (derived)."""
        if self.l2_latency_ns:
            return self.l2_latency_ns * 1e-9
        return DEFAULT_L2_LATENCY_SHARE * self.mem_latency_s

    @property
    def max_threads_per_sm(self) -> int:
        """Threads an SM holds at once, from the compute capability in `arch` (sm_XY): 1536 for
        8.6, 8.7, 8.9 and 12.x (GA10x, Orin, AD10x, GB20x), 2048 for every other (7.x, 8.0,
        9.0, 10.x) and where arch names none (CUDA C++ Programming Guide, Technical
        Specifications per Compute Capability, "Maximum number of resident threads per SM")."""
        m = re.search(r"sm_(\d+)", self.arch or "")
        cc = int(m.group(1)) if m else 0
        return 1536 if cc in (86, 87, 89) or 120 <= cc < 130 else 2048

    @property
    def grid_sms(self) -> int:
        """SMs the libraries size their launch grids for (cuBLAS's split-K, PyTorch's cat):
        the SM count the device reports, the spec's grid_sm_count, else sm_count. A green
        context runs a kernel on fewer SMs than the device reports, so a grid sized for the
        whole chip runs in several waves there."""
        return int(self.grid_sm_count or self.sm_count)

    @property
    def sm_mem_bandwidth_bytes_per_s(self) -> float:
        """Memory bandwidth one SM sustains (its bytes in flight / latency): the spec's figure,
        else SM_BANDWIDTH_SHARE x HBM bandwidth / SMs (derived)."""
        if self.sm_mem_bandwidth_gbps:
            return self.sm_mem_bandwidth_gbps * 1e9
        return SM_BANDWIDTH_SHARE * self.mem_bandwidth_bytes_per_s / self.sm_count

    @property
    def l2_bandwidth_bytes_per_s(self) -> float:
        """Bytes / s the whole chip streams from and to L2: the spec's figure, else
        L2_BYTES_PER_CLOCK_PER_SM x SMs x clock (derived; grid_sms: a green context removes SMs,
        not L2 slices)."""
        if self.l2_bandwidth_gbps:
            return self.l2_bandwidth_gbps * 1e9
        return L2_BYTES_PER_CLOCK_PER_SM * self.grid_sms * self.boost_clock_mhz * 1e6

    def tensor_sustained_flops(self, dtype: str = "bfloat16") -> float:
        """Power-limited sustained tensor throughput of the whole chip (FLOP/s) for bf16-sized
        inputs (MAMF); 0 where the spec gives none (no power limit in the model)."""
        v = self.tensor_sustained_tflops.get(canonical_dtype(dtype)) or \
            self.tensor_sustained_tflops.get("bfloat16")
        return float(v) * 1e12 if v else 0.0

    # ---- roofs in SI units ---------------------------------------------------------
    def tensor_peak_flops(self, dtype: str) -> float:
        """Dense tensor-core peak for matrix inputs of this dtype (FLOP/s); CUDA-core peak
        where the dtype has no tensor-core path (e.g. float32 without TF32)."""
        dtype = canonical_dtype(dtype)
        if dtype in self.tensor_core_tflops:
            return self.tensor_core_tflops[dtype] * 1e12
        return self.cuda_peak_flops(dtype)

    def cuda_peak_flops(self, dtype: str) -> float:
        dtype = canonical_dtype(dtype)
        if dtype in self.cuda_core_tflops:
            return self.cuda_core_tflops[dtype] * 1e12
        # Non-tensor math on narrow types runs at the fp32 rate at worst.
        return self.cuda_core_tflops["float32"] * 1e12

    @property
    def mem_bandwidth_bytes_per_s(self) -> float:
        return self.mem_bandwidth_gbps * 1e9

    @property
    def mem_capacity_bytes(self) -> float:
        return self.mem_capacity_gb * 1e9

    @property
    def l2_cache_bytes(self) -> float:
        return self.l2_cache_mib * 2**20

    def launch_overhead_s(self, mode: str = "cuda_graph") -> float:
        return self.launch_overhead_us[mode] * 1e-6

    def ridge_point(self, dtype: str = "bfloat16", achievable: bool = False) -> float:
        """FLOP/byte where the tensor roof for `dtype` meets the memory roof: peak over peak,
        or (achievable=True) peak x efficiency over bandwidth x efficiency, as the engine uses."""
        flops = self.tensor_peak_flops(dtype)
        bw = self.mem_bandwidth_bytes_per_s
        if achievable:
            flops *= self.efficiency["tensor_core"]
            bw *= self.efficiency["memory"]
        return flops / bw

    def source_of(self, key: str) -> str:
        """The cited source of a field ("mem_bandwidth_gbps") or map entry
        ("tensor_core_tflops.bfloat16"): the entry's own source, else its field's; "" if none."""
        if key in self.sources:
            return self.sources[key]
        return self.sources.get(key.split(".", 1)[0], "")

    # ---- links (roofsim.kernels.comm, the engine's link roof) ------------------------------
    def link_bandwidth_bytes_per_s(self, link: str) -> float:
        """One direction of a GPU's `link` ("nvlink", "pcie", "network"): half the spec's
        bidirectional figure; 0 where the spec has none."""
        return self.interconnect.get(f"{link}_bidir_gbps", 0.0) * 1e9 / 2

    def link_latency_s(self, key: str) -> float:
        """Latency of one collective (key "base") or of one step over a link, from
        interconnect_latency_us, else DEFAULT_LINK_LATENCY_US."""
        return self.interconnect_latency_us.get(key, DEFAULT_LINK_LATENCY_US[key]) * 1e-6

    @property
    def link_efficiency(self) -> float:
        return self.efficiency.get("link", DEFAULT_LINK_EFFICIENCY)

    def intra_node_link(self) -> str:
        """The link between GPUs of one node: NVLink where the spec has it, else PCIe."""
        return "nvlink" if self.interconnect.get("nvlink_bidir_gbps", 0) > 0 else "pcie"

    def roofs(self, dtypes: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Vectorized achievable roofs (peak x efficiency) for an array of dtype names:
        (tensor FLOP/s per record, CUDA-core FLOP/s per record, memory byte/s)."""
        uniq, inv = _factorize(dtypes)
        t = np.array([self.tensor_peak_flops(d) for d in uniq]) * self.efficiency["tensor_core"]
        c = np.array([self.cuda_peak_flops(d) for d in uniq]) * self.efficiency["cuda_core"]
        m = self.mem_bandwidth_bytes_per_s * self.efficiency["memory"]
        return t[inv], c[inv], m


class _Codes(dict):
    """Label -> code, numbering each new label as it is first seen."""

    def __missing__(self, label):
        code = self[label] = len(self)
        return code


def _factorize(values) -> tuple[list[str], np.ndarray]:
    """(distinct values, index of each element's value) in one pass of C-level dict look-ups:
    several times faster than np.unique, which sorts a million strings."""
    codes = _Codes()
    inv = np.fromiter(map(codes.__getitem__, np.asarray(values, dtype=object)), np.intp,
                      len(values))
    return list(codes), inv


# ---- schema ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    """One top-level field of a hardware file: its kind, meaning, unit and plausible range."""

    name: str
    kind: str                 # "text" | "integer" | "number" | "numbers" (a map of numbers) | "texts"
    doc: str
    unit: str = ""
    low: float | None = None  # plausible range of a number (or of each number in a map)
    high: float | None = None
    low_hint: str = ""        # the likely mistake behind a too-small / too-large value
    high_hint: str = ""
    zero_ok: bool = False     # 0 is allowed besides the range (launch overhead, no NVLink)
    required: bool = True
    keys: tuple[str, ...] = ()           # allowed keys of a map (empty: any)
    required_keys: tuple[str, ...] = ()
    choices: tuple = ()                  # allowed values of a text/integer field
    example: str = ""

    @property
    def is_map(self) -> bool:
        return self.kind in ("numbers", "texts")

    def expected(self) -> str:
        if self.kind == "numbers":
            return f"a map of {_or_list(self.keys) if self.keys else 'names'} to {self.unit}" + (
                f", e.g. {{{self.example}}}" if self.example else "")
        if self.kind == "texts":
            return "a map of names to text"
        if self.choices:
            return f"one of {', '.join(map(str, self.choices))}"
        if self.kind == "text":
            return "text"
        if self.kind == "integer":
            return f"an integer ({self.unit})" if self.unit else "an integer"
        return f"a number in {self.unit}"


def _or_list(items) -> str:
    return "/".join(items)


SCHEMA: tuple[FieldSpec, ...] = (
    FieldSpec("schema_version", "integer", "version of this schema", required=False,
              choices=(SCHEMA_VERSION,)),
    FieldSpec("id", "text", "short id: lower-case letters, digits and dashes; the file name"),
    FieldSpec("name", "text", "full product name"),
    FieldSpec("arch", "text", "architecture, chip and compute capability", required=False),
    FieldSpec("sm_count", "integer", "streaming multiprocessors", unit="SMs", low=1, high=10000),
    FieldSpec("boost_clock_mhz", "number", "maximum SM clock", unit="MHz", low=100, high=10000,
              low_hint="did you give GHz?"),
    FieldSpec("tensor_peak_clock_mhz", "number", "clock that reproduces the tensor peaks",
              unit="MHz", low=100, high=10000, low_hint="did you give GHz?", required=False),
    FieldSpec("tensor_core_accumulate", "text", "accumulate precision of the tensor peaks",
              choices=("fp32", "fp16")),
    FieldSpec("tensor_core_tflops", "numbers", "dense tensor-core peak per input dtype",
              unit="TFLOP/s", low=0.1, high=100000, low_hint="did you give PFLOP/s?",
              high_hint="did you give GFLOP/s?", keys=TENSOR_DTYPES,
              required_keys=("bfloat16",), example="bfloat16: 989.4"),
    FieldSpec("tensor_core_tflops_fp16_acc", "numbers",
              "dense tensor-core peak with fp16 accumulate (GeForce: twice the fp32-accumulate "
              "rate); shown, not used by the engine", unit="TFLOP/s", low=0.1, high=100000,
              low_hint="did you give PFLOP/s?", high_hint="did you give GFLOP/s?",
              keys=("float16", "float8_e4m3fn"), required=False, example="float16: 419.0"),
    FieldSpec("cuda_core_tflops", "numbers", "non-tensor (FMA) peak per dtype", unit="TFLOP/s",
              low=0.1, high=10000, low_hint="did you give PFLOP/s?",
              high_hint="did you give GFLOP/s?", keys=CUDA_DTYPES, required_keys=("float32",),
              example="float32: 66.9"),
    FieldSpec("mem_bandwidth_gbps", "number", "device-memory bandwidth, 1 GB/s = 1e9 byte/s",
              unit="GB/s", low=50, high=100000, low_hint="did you give TB/s?",
              high_hint="did you give MB/s?"),
    FieldSpec("mem_capacity_gb", "number", "device-memory capacity, 1 GB = 1e9 byte", unit="GB",
              low=1, high=10000, low_hint="did you give TB?", high_hint="did you give MB?"),
    FieldSpec("mem_latency_ns", "number", "DRAM load latency (dependent loads, pointer chase); "
              "default 600 ns", unit="ns", low=50, high=5000, low_hint="did you give cycles?",
              high_hint="did you give ps?", required=False),
    FieldSpec("l2_latency_ns", "number", "L2 hit latency (dependent loads, pointer chase over a "
              "footprint that fits in L2); default 0.4 x mem_latency_ns", unit="ns", low=10,
              high=2000, low_hint="did you give cycles?", high_hint="did you give ps?",
              required=False),
    FieldSpec("tensor_sustained_tflops", "numbers", "power-limited sustained tensor-core "
              "throughput of the whole chip, e.g. the maximum achievable matmul FLOP/s (MAMF); "
              "unchanged when SMs are removed", unit="TFLOP/s", low=0.1, high=100000,
              low_hint="did you give PFLOP/s?", high_hint="did you give GFLOP/s?",
              keys=TENSOR_DTYPES, required=False, example="bfloat16: 794.5"),
    FieldSpec("sm_mem_bandwidth_gbps", "number", "memory bandwidth one SM sustains alone (its "
              "bytes in flight / latency); default 3.5 x HBM bandwidth / SMs", unit="GB/s",
              low=1, high=10000, required=False),
    FieldSpec("l2_bandwidth_gbps", "number", "L2 bandwidth of the whole chip (bytes a kernel "
              "streams from and to L2 over every SM, e.g. a read benchmark over an L2-resident "
              "data set); default 36 bytes per clock per SM", unit="GB/s", low=10, high=1000000,
              low_hint="did you give TB/s?", high_hint="did you give MB/s?", required=False),
    FieldSpec("grid_sm_count", "integer", "SMs the libraries size their launch grids for: the "
              "count the device reports, which a green context restricting the chip to fewer "
              "SMs leaves at the whole chip's; default sm_count", unit="SMs", low=1, high=10000,
              required=False),
    FieldSpec("library_narrow_tile_cols", "integer", "widest column tile of cuBLAS's transposed "
              "skinny kernels (nvjet tst_8x64 / tst_16x64 ..._TNN) that the device's library "
              "takes for a linear of at most 8 rows: a choice of the library's heuristics on "
              "that device, read off its launch grids; default 16 (the H200's)", unit="columns",
              required=False, choices=(8, 16)),
    FieldSpec("l2_cache_mib", "number", "L2 cache size, 1 MiB = 2**20 byte", unit="MiB",
              low=0.25, high=4096, high_hint="did you give KiB?"),
    FieldSpec("launch_overhead_us", "numbers", "per-kernel launch floor: back-to-back stream "
              "launches and launches inside a CUDA graph, 0 = ideal", unit="us", low=0.01,
              high=1000, low_hint="did you give seconds?", high_hint="did you give ns?",
              zero_ok=True, keys=("stream", "cuda_graph"), required_keys=("stream", "cuda_graph"),
              example="stream: 2.5, cuda_graph: 1.3"),
    FieldSpec("efficiency", "numbers", "fraction of peak a well-shaped kernel reaches, until "
              "calibration replaces it; missing keys take the defaults", unit="fraction of peak",
              low=0.01, high=1.0, high_hint="did you give a percent?",
              keys=("tensor_core", "cuda_core", "memory", "link"), required=False,
              example="tensor_core: 0.8, cuda_core: 0.5, memory: 0.85"),
    FieldSpec("interconnect", "numbers", "GPU-to-GPU and host links, both directions summed, "
              "0 = none", unit="GB/s", low=1, high=100000, low_hint="did you give TB/s?",
              high_hint="did you give MB/s?", zero_ok=True,
              keys=("nvlink_bidir_gbps", "pcie_bidir_gbps", "network_bidir_gbps"), required=False,
              example="nvlink_bidir_gbps: 900, pcie_bidir_gbps: 128"),
    FieldSpec("interconnect_latency_us", "numbers", "collective latency: a fixed `base` per "
              "collective plus one per step over each link (NCCL's model); missing keys take "
              "NCCL's defaults", unit="us", low=0.01, high=1000, low_hint="did you give ms?",
              high_hint="did you give ns?", keys=("base",) + LINKS, required=False,
              example="base: 3.6, nvlink: 0.47, network: 2.7"),
    FieldSpec("references", "texts", "cited documents, by key (S1, S2, ...)", required=False),
    FieldSpec("sources", "texts", "the source of each figure, by field or field.key",
              required=False),
    FieldSpec("notes", "text", "anything a reader should know", required=False),
)
SCHEMA_BY_NAME: Mapping[str, FieldSpec] = MappingProxyType({f.name: f for f in SCHEMA})
# Fields that hold figures (and so should cite a source); `sources` may also cite these others.
FIGURE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in SCHEMA if f.kind in ("integer", "number", "numbers") and f.name != "schema_version")
SOURCED_FIELDS: tuple[str, ...] = FIGURE_FIELDS + ("arch", "tensor_core_accumulate")
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
# Characters that break a printed line or table row: C0 and C1 controls (newline, tab, escape,
# ...), DEL, the Unicode line and paragraph separators. Refused in every text but notes, which
# is printed last, on lines of its own, and may span lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class _Invalid(Exception):
    """A field that fails validation: `key` (dotted for map entries) and the message."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


# ---- validation ----------------------------------------------------------------------------

def _unknown(name: str, allowed, where: str = "", key: str | None = None) -> _Invalid:
    """'unknown field x (expected one of ...; did you mean y?)'; `where` names the map."""
    guess = canonical_dtype(name) if canonical_dtype(name) in allowed else None
    close = [guess] if guess else difflib.get_close_matches(name, list(allowed), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    what = f"unknown key {name!r} in {where}" if where else f"unknown field {name!r}"
    return _Invalid(key or name, f"{what} (expected one of: {', '.join(allowed)}{hint})")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _expected_number(spec: FieldSpec) -> str:
    """What a number field expects, as its messages say it."""
    if spec.kind == "integer" or spec.choices:
        return spec.expected()
    return "a number in " + spec.unit


def _yaml11_reading(text: str) -> Any:
    """The number or boolean YAML 1.1 (PyYAML's default) makes of `text` (1:30 -> 90, 017 -> 15,
    yes -> True), or None: what a user may have meant by a value roofsim reads as text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return value if isinstance(value, (bool, int, float)) else None


def _check_number(spec: FieldSpec, key: str, value: Any) -> float | int:
    expected = _expected_number(spec)
    yaml11 = _yaml11_reading(value) if isinstance(value, str) else None
    if yaml11 is not None:
        raise _Invalid(key, f"{key} = {value!r} has the wrong type (expected {expected}; YAML "
                            f"1.1 would read it as {yaml11!r}, roofsim reads YAML 1.2)")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(key, f"{key} = {value!r} has the wrong type (expected {expected})")
    if not math.isfinite(value):
        raise _Invalid(key, f"{key} = {value!r} is not finite (expected {expected})")
    if spec.kind == "integer":
        if value != int(value):
            raise _Invalid(key, f"{key} = {value!r} has the wrong type (expected {expected})")
        value = int(value)
    if spec.choices:
        if value not in spec.choices:
            raise _Invalid(key, f"{key} = {value!r} is not supported (expected {spec.expected()})")
        return value
    if value == 0 and spec.zero_ok:
        return value
    if value <= 0:
        floor = ">= 0" if spec.zero_ok else "> 0"
        raise _Invalid(key, f"{key} = {value!r} must be {floor} (expected {spec.unit} between "
                            f"{_fmt(spec.low)} and {_fmt(spec.high)})")
    if value < spec.low or value > spec.high:
        hint = spec.low_hint if value < spec.low else spec.high_hint
        raise _Invalid(key, f"{key} = {value!r} is implausible (expected {spec.unit} between "
                            f"{_fmt(spec.low)} and {_fmt(spec.high)}{'; ' + hint if hint else ''})")
    return value


def _check_line(key: str, value: str) -> str:
    bad = _CONTROL.search(value)
    if bad:
        raise _Invalid(key, f"{key} = {value!r} holds the control character {bad.group()!r} "
                            f"(expected one line of printable text)")
    return value


def _shown(text: str) -> str:
    """A --set value as a message or a derived name shows it: quoted and escaped where it holds
    a control character (a multi-line notes)."""
    return repr(text) if _CONTROL.search(text) else text


def _check_text(spec: FieldSpec, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(key, f"{key} = {value!r} has the wrong type (expected {spec.expected()})")
    if spec.name != "notes":
        _check_line(key, value)
    if spec.choices and value not in spec.choices:
        raise _Invalid(key, f"{key} = {value!r} is not supported (expected {spec.expected()})")
    if not value.strip() and spec.required:
        raise _Invalid(key, f"{key} is empty (expected {spec.doc})")
    return value


def _check_map(spec: FieldSpec, value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise _Invalid(spec.name, f"{spec.name} = {value!r} has the wrong type "
                                  f"(expected {spec.expected()})")
    out = {}
    for k, v in value.items():
        key = f"{spec.name}.{k}"
        if not isinstance(k, str):
            raise _Invalid(key, f"{spec.name} has a key {k!r} that is not text "
                                f"(expected {spec.expected()})")
        if spec.keys and k not in spec.keys:
            raise _unknown(k, spec.keys, spec.name, key)
        if spec.kind == "numbers":
            out[k] = float(_check_number(spec, key, v))
        else:
            if not isinstance(v, str):
                raise _Invalid(key, f"{key} = {v!r} has the wrong type (expected text)")
            out[k] = _check_line(key, v)
    for k in spec.required_keys:
        if k not in out:
            raise _Invalid(f"{spec.name}.{k}", f"missing key {spec.name}.{k}: {spec.doc} "
                                               f"(expected a number in {spec.unit})")
    return out


def _check_source_keys(sources: Mapping[str, str]) -> None:
    for key in sources:
        top, _, sub = key.partition(".")
        spec = SCHEMA_BY_NAME.get(top)
        if spec is None or top not in SOURCED_FIELDS:
            raise _unknown(key, SOURCED_FIELDS, "sources", f"sources.{key}")
        if sub and (not spec.is_map or (spec.keys and sub not in spec.keys)):
            raise _Invalid(f"sources.{key}", f"sources names {key!r}, which is not a field "
                                             f"entry (expected {top} or {top}.<key>)")


def validate_fields(raw: Any) -> dict:
    """Check a file's fields against SCHEMA; return them normalized (numbers as float/int,
    efficiency completed with the defaults). Raises _Invalid for the first bad field."""
    if not isinstance(raw, Mapping):
        got = "nothing" if raw is None else type(raw).__name__
        raise _Invalid("", f"expected a map of fields (see hardware/README.md), got {got}")
    for key in raw:
        if key not in SCHEMA_BY_NAME:
            raise _unknown(str(key), [f.name for f in SCHEMA])
    out: dict[str, Any] = {}
    for spec in SCHEMA:
        if spec.name not in raw or raw[spec.name] is None:
            if spec.required:
                raise _Invalid(spec.name, f"missing field {spec.name}: {spec.doc} "
                                          f"(expected {spec.expected()})")
            continue
        value = raw[spec.name]
        if spec.is_map:
            out[spec.name] = _check_map(spec, value)
        elif spec.kind == "text":
            out[spec.name] = _check_text(spec, spec.name, value)
        else:
            out[spec.name] = _check_number(spec, spec.name, value)
    if not _ID_PATTERN.match(out["id"]):
        raise _Invalid("id", f"id = {out['id']!r} is not a valid id (expected lower-case "
                             f"letters, digits and dashes, e.g. rtx-5090)")
    out["efficiency"] = {**DEFAULT_EFFICIENCY, **out.get("efficiency", {})}
    if out.get("grid_sm_count", out["sm_count"]) < out["sm_count"]:
        raise _Invalid("grid_sm_count", f"grid_sm_count = {out['grid_sm_count']} is below "
                                        f"sm_count = {out['sm_count']} (a device reports at "
                                        f"least the SMs kernels run on)")
    dram_ns = out.get("mem_latency_ns", DEFAULT_MEM_LATENCY_NS)
    if out.get("l2_latency_ns", 0.0) >= dram_ns:
        raise _Invalid("l2_latency_ns", f"l2_latency_ns = {out['l2_latency_ns']} is not below "
                                        f"the DRAM latency, {dram_ns} ns (mem_latency_ns"
                                        f"{'' if 'mem_latency_ns' in out else ', its default'}): "
                                        f"an L2 hit is nearer than DRAM")
    _check_source_keys(out.get("sources", {}))
    return out


def _spec_from_fields(fields_: Mapping[str, Any], path: str) -> HardwareSpec:
    frozen = lambda name: MappingProxyType(dict(fields_.get(name, {})))  # noqa: E731
    return HardwareSpec(
        id=fields_["id"], name=fields_["name"], arch=fields_.get("arch", ""),
        tensor_core_tflops=frozen("tensor_core_tflops"),
        cuda_core_tflops=frozen("cuda_core_tflops"),
        mem_bandwidth_gbps=float(fields_["mem_bandwidth_gbps"]),
        mem_capacity_gb=float(fields_["mem_capacity_gb"]),
        l2_cache_mib=float(fields_["l2_cache_mib"]),
        sm_count=int(fields_["sm_count"]),
        boost_clock_mhz=float(fields_["boost_clock_mhz"]),
        tensor_peak_clock_mhz=(float(fields_["tensor_peak_clock_mhz"])
                               if "tensor_peak_clock_mhz" in fields_ else None),
        launch_overhead_us=frozen("launch_overhead_us"),
        efficiency=frozen("efficiency"),
        tensor_core_accumulate=fields_["tensor_core_accumulate"],
        tensor_core_tflops_fp16_acc=frozen("tensor_core_tflops_fp16_acc"),
        interconnect=frozen("interconnect"),
        references=frozen("references"), sources=frozen("sources"),
        notes=fields_.get("notes", ""), path=path,
        mem_latency_ns=(float(fields_["mem_latency_ns"]) if "mem_latency_ns" in fields_
                        else None),
        l2_latency_ns=(float(fields_["l2_latency_ns"]) if "l2_latency_ns" in fields_
                       else None),
        tensor_sustained_tflops=frozen("tensor_sustained_tflops"),
        sm_mem_bandwidth_gbps=(float(fields_["sm_mem_bandwidth_gbps"])
                               if "sm_mem_bandwidth_gbps" in fields_ else None),
        grid_sm_count=(int(fields_["grid_sm_count"]) if "grid_sm_count" in fields_ else None),
        library_narrow_tile_cols=(int(fields_["library_narrow_tile_cols"])
                                  if "library_narrow_tile_cols" in fields_ else None),
        l2_bandwidth_gbps=(float(fields_["l2_bandwidth_gbps"])
                           if "l2_bandwidth_gbps" in fields_ else None),
        interconnect_latency_us=frozen("interconnect_latency_us"),
    )


# ---- loading -------------------------------------------------------------------------------

def list_hardware() -> list[str]:
    """Ids of the shipped specs (hardware/<id>.yaml), sorted."""
    return sorted(p.stem for p in data_dir("hardware").glob("*.yaml"))


def _display(path: Path) -> str:
    """A path as the user should read it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def _is_path(name_or_path: str) -> bool:
    return (name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path
            or os.sep in name_or_path)


def resolve_hardware(name_or_path: str, given_as: str = "--hardware") -> tuple[Path, str | None]:
    """(file, expected id) for a shipped id or a path to a YAML file (expected id None).
    `given_as`: what the user gave the name as, which an unknown name's message names (an
    option, or a command whose argument it is: 'hardware derive')."""
    if _is_path(name_or_path):
        return Path(name_or_path), None
    path = data_dir("hardware") / f"{name_or_path}.yaml"
    if not path.is_file():
        known = list_hardware()
        close = difflib.get_close_matches(name_or_path, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UserError(f"{given_as} {name_or_path}: unknown hardware (expected one of: "
                        f"{', '.join(known)}, or a path to a .yaml file{hint})")
    return path, name_or_path


def _read_yaml(path: Path, where: str) -> Any:
    from .io import read_yaml
    return read_yaml(path, expected=f"a hardware YAML file, or one of the shipped ids: "
                                    f"{', '.join(list_hardware())}")


# A --set number as the command line's other number options read it: a decimal number as a YAML
# file's is read (io.DECIMAL_NUMBER: 6000, 0.9, 6e3, .5, 1_000). YAML 1.1 would also read 1:30 as
# sexagesimal 90, 017 as octal 15, 0x20 and 0b101 as hex and binary, and miss 6e3.
_DECIMAL = re.compile(DECIMAL_NUMBER)


def parse_override_value(key: str, text: str) -> Any:
    """A --set value: kept as text for text fields, read as a decimal number for number fields
    (an int without a point or an exponent), else as a YAML scalar; empty is None (missing).
    A number field's value that is not a decimal number is refused, naming what YAML 1.1 would
    have made of it (1:30 -> 90, 017 -> 15) rather than taking that silently."""
    spec = SCHEMA_BY_NAME.get(key.split(".", 1)[0])
    if spec is not None and spec.kind in ("text", "texts"):
        # checked here too: the derived name would take an unchecked text and name no --set
        return text if spec.name == "notes" else _check_line(key, text)
    if not text.strip():
        return None
    if spec is not None and spec.kind in ("integer", "number", "numbers"):
        t = text.strip()
        if not _DECIMAL.fullmatch(t):
            yaml_reads = _yaml11_reading(t)
            hint = f"; YAML 1.1 would read it as {yaml_reads!r}" if yaml_reads is not None else ""
            raise _Invalid(key, f"{key} = {t!r} has the wrong type (expected "
                                f"{_expected_number(spec)}, written in decimal{hint})")
        if not any(c in t for c in ".eE"):
            try:
                return int(t)
            except ValueError:       # more digits than int() converts: a float, then checked
                pass
        return float(t)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text   # validation reports it as the wrong type


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, str]) -> dict:
    """The file's fields with `--set` overrides applied: dotted keys reach into maps, each
    overridden figure's source becomes the override, and unless id/name are set explicitly
    they are marked as derived."""
    out = copy.deepcopy(dict(raw))
    for key, text in overrides.items():
        top, dot, sub = key.partition(".")
        spec = SCHEMA_BY_NAME.get(top)
        if spec is None:
            raise _unknown(top, [f.name for f in SCHEMA], key=key)
        if spec.is_map and not sub:
            raise _Invalid(key, f"{top} is a map; set one entry (expected {top}.<key>=VALUE, "
                                f"e.g. {top}.{(spec.keys or ('KEY',))[0]}=...)")
        if not spec.is_map and dot:
            raise _Invalid(key, f"{top} is not a map (expected {top}=VALUE)")
        value = parse_override_value(key, text)
        if spec.is_map:
            current = out.get(top)
            out[top] = dict(current) if isinstance(current, Mapping) else {}
            out[top][sub] = value
        else:
            out[top] = value
        if top in FIGURE_FIELDS:
            out["sources"] = dict(out.get("sources") or {})
            out["sources"][key] = f"override --set {key}={text}"
    if overrides:
        changes = ", ".join(f"{k}={_shown(v)}" for k, v in overrides.items()
                            if k not in ("id", "name"))
        if "id" not in overrides and isinstance(out.get("id"), str):
            out["id"] = f"{out['id']}-derived"
        if "name" not in overrides and isinstance(out.get("name"), str) and changes:
            out["name"] = f"{out['name']} (derived: {changes})"
    return out


def load_hardware(name_or_path: str = DEFAULT_HARDWARE,
                  overrides: Mapping[str, str] | None = None, *,
                  given_as: str = "--hardware") -> HardwareSpec:
    """A validated spec from a shipped id or a YAML path, with optional `--set` overrides.
    Raises UserError (one line: file, field, what was expected) on any bad input; an unknown
    name's names `given_as` (resolve_hardware)."""
    path, expected_id = resolve_hardware(name_or_path, given_as)
    where = _display(path) if expected_id is not None else name_or_path
    raw = _read_yaml(path, where)
    return _spec_from_fields(_validated(raw, overrides, where, expected_id), str(path))


def _validated(raw, overrides: Mapping[str, str] | None, where: str,
               expected_id: str | None = None) -> dict:
    """raw's fields with the `--set` overrides applied, validated; a shipped file's id must be
    its name (expected_id) unless an override renames it. Any failure is one UserError naming
    `where` and the override behind the field."""
    overrides = dict(overrides or {})
    try:
        if overrides and isinstance(raw, Mapping):
            raw = apply_overrides(raw, overrides)
        fields_ = validate_fields(raw)
        if expected_id is not None and not overrides and fields_["id"] != expected_id:
            raise _Invalid("id", f"id = {fields_['id']!r} does not match the file name "
                                 f"(expected {expected_id!r})")
    except _Invalid as err:
        raise UserError(f"{where}{_override_note(err.key, overrides)}: {err}") from None
    return fields_


def _override_note(key: str, overrides: Mapping[str, str]) -> str:
    """' (--set k=v)' when the failing field came from an override."""
    hits = [k for k in overrides if k == key or k == key.split(".", 1)[0]
            or k.split(".", 1)[0] == key]
    return "".join(f" (--set {k}={_shown(overrides[k])})" for k in hits[:1])


def spec_with_overrides(raw: Mapping[str, Any], overrides: Mapping[str, str] | None,
                        where: str) -> HardwareSpec:
    """A validated spec from a hardware file's fields held elsewhere (a calibration profile's
    `hardware`), with optional `--set` overrides; errors as load_hardware's, naming `where`."""
    return _spec_from_fields(_validated(raw, overrides, where), "")


def spec_from_dict(data: Mapping[str, Any], where: str = "<dict>") -> HardwareSpec:
    """Validate a dict of file fields (as spec_to_dict returns) into a spec."""
    try:
        return _spec_from_fields(validate_fields(data), "")
    except _Invalid as err:
        raise UserError(f"{where}: {err}") from None


# ---- derived devices -------------------------------------------------------------------------

# The fields that scale with the SM count (per-SM resources); everything else is the chip's.
SM_SCALED_FIELDS = ("tensor_core_tflops", "cuda_core_tflops", "tensor_core_tflops_fp16_acc")


def with_sm_count(spec: HardwareSpec, sms: int, digits: int | None = None) -> HardwareSpec:
    """The same chip with `sms` SMs: sm_count and the SM_SCALED_FIELDS peaks scaled in
    proportion (any count, more SMs too), rounded to `digits` decimals if given; no naming and
    no checks (derive_sm_restricted adds them)."""
    frac = sms / spec.sm_count
    scale = lambda m: MappingProxyType(  # noqa: E731
        {k: v * frac if digits is None else round(v * frac, digits) for k, v in m.items()})
    return replace(spec, sm_count=int(sms),
                   **{f: scale(getattr(spec, f)) for f in SM_SCALED_FIELDS})


def derive_sm_restricted(spec: HardwareSpec, sms: int) -> HardwareSpec:
    """The spec of `spec`'s chip running on `sms` of its SMs (a CUDA green context): sm_count
    and every tensor-core and CUDA-core peak scaled by the SM fraction; memory, cache, clocks,
    latency, launch overhead and the chip's power-limited sustained throughput unchanged (the
    memory system and the power budget stay whole); grid_sm_count stays the whole chip's
    (libraries still size their grids for the SMs the device reports)."""
    if isinstance(sms, bool) or not isinstance(sms, int) or not 1 <= sms <= spec.sm_count:
        raise UserError(f"--sms {sms!r}: expected a whole number of SMs from 1 to "
                        f"{spec.sm_count} ({spec.id}'s SM count)")
    note = f"{spec.id} restricted to {sms} of its {spec.sm_count} SMs"
    sources = dict(spec.sources)
    for key in ("sm_count",) + SM_SCALED_FIELDS:
        sources[key] = f"derived: {note} (roofsim hardware derive {spec.id} --sms {sms})"
    sources["grid_sm_count"] = (f"derived: the device still reports {spec.grid_sms} SMs inside "
                                f"the green context")
    return replace(with_sm_count(spec, sms, digits=6), id=f"{spec.id}-sm{sms}",
                   grid_sm_count=spec.grid_sms,
                   name=f"{spec.name} ({sms} SMs)", sources=MappingProxyType(sources), path="",
                   notes=(spec.notes + " " if spec.notes else "") + f"Derived: {note}.")


# ---- writing -------------------------------------------------------------------------------

def spec_to_dict(spec: HardwareSpec) -> dict[str, Any]:
    """The spec's fields as a hardware file holds them, in schema order (empty optional
    fields left out); load_hardware / spec_from_dict read it back to an equal spec."""
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    for f in SCHEMA[1:]:
        value = getattr(spec, f.name)
        if value is None or (not f.required and not value and value != 0):
            continue
        if f.is_map:
            value = dict(value)
        out[f.name] = value
    return out


def dump_hardware(spec: HardwareSpec) -> str:
    """YAML text of a spec (see spec_to_dict)."""
    # allow_unicode=False: PyYAML writes some code points (U+0085, U+2028) raw, which read back
    # as line breaks; escaped they round-trip exactly.
    return dump_yaml(spec_to_dict(spec), sort_keys=False, allow_unicode=False, width=100)


def write_hardware(spec: HardwareSpec, path: str | os.PathLike) -> Path:
    """Write `spec` as a hardware YAML file at `path`, whole or not at all (roofsim.io)."""
    from .io import atomic_write_text
    return atomic_write_text(path, dump_hardware(spec), what="hardware spec")
