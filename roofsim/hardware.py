"""Hardware specs: a GPU as roofs (tensor-core and CUDA-core peaks per dtype, memory bandwidth)
plus launch overhead. Loaded from hardware/*.yaml (schema: hardware/README.md).

All figures are kept in the units their field names state (TFLOP/s, GB/s, MiB, us); the
methods return SI (FLOP/s, byte/s, s) for the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

# Default fraction of peak that a well-shaped kernel reaches, used until a calibration profile
# replaces it. Tensor: cuBLAS bf16 GEMMs reach ~0.80 of dense peak on H100 (MAMF, S13 in
# ../shared/reference/gpu-datasheets.yaml); memory: STREAM-like kernels reach 0.85-0.95 of
# datasheet bandwidth (S14); CUDA-core: elementwise/reduction kernels rarely pass ~0.5 of the
# FMA peak, and are memory-bound anyway.
DEFAULT_EFFICIENCY = MappingProxyType({"tensor_core": 0.80, "cuda_core": 0.50, "memory": 0.85})

# Dtype aliases: torch names are canonical.
DTYPE_ALIASES = MappingProxyType({
    "bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
    "float": "float32", "tf32": "float32", "fp8": "float8_e4m3fn", "float8": "float8_e4m3fn",
})


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
    def l2_cache_bytes(self) -> float:
        return self.l2_cache_mib * 2**20

    def launch_overhead_s(self, mode: str = "cuda_graph") -> float:
        return self.launch_overhead_us[mode] * 1e-6

    def roofs(self, dtypes: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Vectorized achievable roofs (peak x efficiency) for an array of dtype names:
        (tensor FLOP/s per record, CUDA-core FLOP/s per record, memory byte/s)."""
        uniq, inv = np.unique(np.asarray(dtypes, dtype=str), return_inverse=True)
        t = np.array([self.tensor_peak_flops(d) for d in uniq]) * self.efficiency["tensor_core"]
        c = np.array([self.cuda_peak_flops(d) for d in uniq]) * self.efficiency["cuda_core"]
        m = self.mem_bandwidth_bytes_per_s * self.efficiency["memory"]
        return t[inv], c[inv], m
