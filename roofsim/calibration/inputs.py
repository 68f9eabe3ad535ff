"""Random input tensors for the kernel runners (roofsim.kernels.<kind>.RUNNERS).

Never zeros: zero operands hide unwritten outputs and can run faster than real data (a bf16
GEMM was seen 13% faster on zeros). Normal values, scaled so that long reductions stay finite.
Torch is imported on first use only.
"""

from __future__ import annotations


def torch_dtype(name: str):
    import torch
    from ..hardware import canonical_dtype
    dt = getattr(torch, canonical_dtype(name), None)
    if not isinstance(dt, torch.dtype):
        raise ValueError(f"not a torch dtype: {name!r}")
    return dt


def randn(shape, dtype: str, device: str, scale: float = 1.0):
    import torch
    t = torch.randn(tuple(int(s) for s in shape), dtype=torch_dtype(dtype), device=device)
    return t.mul_(scale) if scale != 1.0 else t


def randint(high: int, shape, device: str):
    import torch
    return torch.randint(0, max(int(high), 1), tuple(int(s) for s in shape), device=device)
