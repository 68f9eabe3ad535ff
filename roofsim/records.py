"""Kernel records: the one currency of roofsim.

A `KernelRecord` is one kernel launch (or `count` identical launches): its kind, where it came
from, its dtype, its shape parameters, and the work it does. A `RecordTable` holds many records
as a struct of numpy arrays, for vectorized work in the engine. A `StageCost` summarizes one
stage (vision, prefill, decode) with the fields of the specification's appendix.

Conventions (SI units inside the code):
- FLOPs are 2 x multiply-accumulates. `flops_tensor` is matrix work on tensor-core dtypes;
  `flops_cuda` is everything else (softmax, norms, activations, rotary, gating, fp32 matmuls).
- `bytes_read` counts every byte read from device memory by one launch, weights included;
  `weight_bytes` is the part of `bytes_read` that is parameters. Activation I/O is therefore
  bytes_read + bytes_written - weight_bytes.
- All work fields are per launch; `count` multiplies them into totals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Iterable, Mapping, Sequence

import numpy as np

# Shape parameters a record may carry. The names are the public CSV contract of
# `roofsim predict-kernels` (see kernels/README.md); unused ones are NaN in a table.
# `dims` (last, so the older columns keep their order): the iteration dimensions
# TensorIterator's strided kernel loops over after coalescing (stride >= 1 records of
# roofsim.capture.layout.LAYOUT_KINDS; roofsim.kernels._common.strided_dims reads it).
# `inputs`, `largest` (after it): a cat of unequal inputs, their count and the elements of the
# largest; PyTorch's vectorized cat kernel sizes one row of blocks per input for the largest,
# and the blocks past a smaller input's end exit at once (roofsim.perfmodel.cat_empty_blocks);
# a strided cat (stride >= 1) carries them too, equal inputs included: its generic kernel has
# a row of blocks per input, sized for the device. NaN: equal contiguous inputs, or a
# contiguous cat the vectorized kernel does not run.
# `head_dim_v` (after them): attention's value head size where it is not the query-key head size
# `head_dim` (multi-head latent attention: DeepSeek-V2's queries and keys of 192, values of
# 128); NaN: the same (roofsim.kernels.attention.value_head_dim).
SHAPE_PARAMS: tuple[str, ...] = (
    "m", "n", "k", "bias", "batch", "heads", "seq_q", "seq_kv", "head_dim", "causal",
    "rows", "cols", "numel", "c_in", "c_out", "h", "w", "kernel", "stride", "padding",
    "ranks", "nodes", "tree", "dims", "inputs", "largest", "cast", "head_dim_v",
)
_PARAM_INDEX = {p: i for i, p in enumerate(SHAPE_PARAMS)}

# Kernel kinds. gemm: A[m,k] @ B[k,n] (batch > 1 for batched); linear: F.linear (bias 0/1);
# grouped_gemm: MoE experts run as one grouped launch; the rest are named for the op.
# The communication kinds (COMM_KINDS, roofsim.kernels.comm) are collectives over `ranks` GPUs
# on `nodes` nodes; their link bytes and steps are the engine's `link` roof.
COMM_KINDS: tuple[str, ...] = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all",
                               "send_recv")
KINDS: tuple[str, ...] = (
    "gemm", "linear", "grouped_gemm", "attention", "conv2d", "layernorm", "rmsnorm",
    "softmax", "gelu", "silu", "elementwise", "reduction", "sort", "embedding", "copy", "cat",
    "index",
) + COMM_KINDS

WORK_FIELDS: tuple[str, ...] = (
    "flops_tensor", "flops_cuda", "bytes_read", "bytes_written", "weight_bytes",
)


@dataclass(frozen=True)
class KernelRecord:
    kind: str
    name: str
    dtype: str = "bfloat16"
    stage: str = ""
    layer: str = ""
    params: Mapping[str, float] = field(default_factory=dict)
    flops_tensor: float = 0.0
    flops_cuda: float = 0.0
    bytes_read: float = 0.0
    bytes_written: float = 0.0
    weight_bytes: float = 0.0
    count: float = 1.0

    def __post_init__(self):
        unknown = set(self.params) - set(_PARAM_INDEX)
        if unknown:
            raise ValueError(f"record {self.name!r}: unknown shape parameter(s) {sorted(unknown)}")
        for f in WORK_FIELDS + ("count",):
            v = getattr(self, f)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"record {self.name!r}: {f} must be finite and >= 0, got {v}")
        if self.weight_bytes > self.bytes_read:
            raise ValueError(f"record {self.name!r}: weight_bytes exceeds bytes_read")

    @property
    def flops(self) -> float:
        return self.flops_tensor + self.flops_cuda

    @property
    def bytes(self) -> float:
        return self.bytes_read + self.bytes_written


def _as_column(value, n: int, dtype) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        return np.full(n, arr, dtype=dtype)
    if arr.shape != (n,):
        raise ValueError(f"column of shape {arr.shape} does not match {n} records")
    return arr


@dataclass(frozen=True, eq=False)
class RecordTable:
    """Many kernel records as a struct of numpy arrays (one entry per record)."""

    kind: np.ndarray        # object (str)
    name: np.ndarray        # object (str)
    dtype: np.ndarray       # object (str), torch's dtype names
    stage: np.ndarray       # object (str)
    layer: np.ndarray       # object (str)
    params: np.ndarray      # float64 (n, len(SHAPE_PARAMS)), NaN where unused
    flops_tensor: np.ndarray
    flops_cuda: np.ndarray
    bytes_read: np.ndarray
    bytes_written: np.ndarray
    weight_bytes: np.ndarray
    count: np.ndarray

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_columns(cls, n: int, *, kind, name, dtype="bfloat16", stage="", layer="",
                     params: Mapping[str, object] | None = None, flops_tensor=0.0,
                     flops_cuda=0.0, bytes_read=0.0, bytes_written=0.0, weight_bytes=0.0,
                     count=1.0) -> "RecordTable":
        """Build n records at once; every argument is a scalar (broadcast) or a length-n array."""
        p = np.full((n, len(SHAPE_PARAMS)), np.nan)
        for key, value in (params or {}).items():
            if key not in _PARAM_INDEX:
                raise ValueError(f"unknown shape parameter {key!r}")
            p[:, _PARAM_INDEX[key]] = _as_column(value, n, np.float64)
        table = cls(
            kind=_as_column(kind, n, object), name=_as_column(name, n, object),
            dtype=_as_column(dtype, n, object), stage=_as_column(stage, n, object),
            layer=_as_column(layer, n, object), params=p,
            flops_tensor=_as_column(flops_tensor, n, np.float64),
            flops_cuda=_as_column(flops_cuda, n, np.float64),
            bytes_read=_as_column(bytes_read, n, np.float64),
            bytes_written=_as_column(bytes_written, n, np.float64),
            weight_bytes=_as_column(weight_bytes, n, np.float64),
            count=_as_column(count, n, np.float64),
        )
        table.validate()
        return table

    @classmethod
    def from_records(cls, records: Iterable[KernelRecord]) -> "RecordTable":
        records = list(records)
        n = len(records)
        p = np.full((n, len(SHAPE_PARAMS)), np.nan)
        for i, r in enumerate(records):
            for key, value in r.params.items():
                p[i, _PARAM_INDEX[key]] = value
        col = lambda f, dt: np.array([getattr(r, f) for r in records], dtype=dt)  # noqa: E731
        return cls(
            kind=col("kind", object), name=col("name", object), dtype=col("dtype", object),
            stage=col("stage", object), layer=col("layer", object), params=p,
            flops_tensor=col("flops_tensor", np.float64), flops_cuda=col("flops_cuda", np.float64),
            bytes_read=col("bytes_read", np.float64), bytes_written=col("bytes_written", np.float64),
            weight_bytes=col("weight_bytes", np.float64), count=col("count", np.float64),
        )

    @classmethod
    def empty(cls) -> "RecordTable":
        return cls.from_records([])

    @classmethod
    def concat(cls, tables: Sequence["RecordTable"]) -> "RecordTable":
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls.empty()
        return cls(**{f.name: np.concatenate([getattr(t, f.name) for t in tables])
                      for f in fields(cls)})

    # ---- access ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.kind)

    def select(self, mask) -> "RecordTable":
        return RecordTable(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def with_columns(self, **columns) -> "RecordTable":
        """A copy with some columns replaced (scalars broadcast)."""
        n = len(self)
        new = {}
        for f in fields(self):
            if f.name in columns:
                dt = np.float64 if getattr(self, f.name).dtype != object else object
                new[f.name] = _as_column(columns[f.name], n, dt)
            else:
                new[f.name] = getattr(self, f.name)
        return RecordTable(**new)

    def param(self, name: str) -> np.ndarray:
        return self.params[:, _PARAM_INDEX[name]]

    def records(self) -> list[KernelRecord]:
        out = []
        for i in range(len(self)):
            params = {p: float(self.params[i, j]) for j, p in enumerate(SHAPE_PARAMS)
                      if not np.isnan(self.params[i, j])}
            out.append(KernelRecord(
                kind=self.kind[i], name=self.name[i], dtype=self.dtype[i], stage=self.stage[i],
                layer=self.layer[i], params=params,
                **{f: float(getattr(self, f)[i]) for f in WORK_FIELDS},
                count=float(self.count[i])))
        return out

    def validate(self) -> None:
        for f in WORK_FIELDS + ("count",):
            col = getattr(self, f)
            bad = ~np.isfinite(col) | (col < 0)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"record {self.name[i]!r}: {f} must be finite and >= 0, got {col[i]}")
        if (self.weight_bytes > self.bytes_read * (1 + 1e-12)).any():
            i = int(np.argmax(self.weight_bytes > self.bytes_read))
            raise ValueError(f"record {self.name[i]!r}: weight_bytes exceeds bytes_read")

    # ---- totals -----------------------------------------------------------------------
    def total(self, field_name: str) -> float:
        """Sum of a work field over all launches (field x count)."""
        return float(np.dot(getattr(self, field_name), self.count))

    @property
    def launches(self) -> float:
        return float(self.count.sum())

    def totals(self) -> dict[str, float]:
        t = {f: self.total(f) for f in WORK_FIELDS}
        t["flops"] = t["flops_tensor"] + t["flops_cuda"]
        t["bytes"] = t["bytes_read"] + t["bytes_written"]
        t["launches"] = self.launches
        return t

    def group_totals(self, key: str = "layer") -> dict[str, dict[str, float]]:
        """Totals per distinct value of a label column (layer, stage, kind, name), in first-seen order."""
        labels = getattr(self, key)
        uniq, first, inv = np.unique(labels.astype(str), return_index=True, return_inverse=True)
        order = np.argsort(first)
        out = {}
        for u in order:
            mask = inv == u
            out[str(uniq[u])] = self.select(mask).totals()
        return out


@dataclass(frozen=True)
class StageCost:
    """Per-stage cost, the fields of the specification's appendix (SI units).

    flops_tensor + flops_cuda: total stage FLOPs. activation_io_bytes: activation reads and
    writes between on-chip memory and device memory (weights excluded); io_bytes includes
    weights. arithmetic_intensity: FLOPs per byte of activation I/O (the report prints it per
    bit). activation_peak_bytes: peak live activation memory. kv_cache_bytes: KV cache held at
    the end of the stage. weight_bytes: parameter bytes the stage reads (each launch counted).
    """

    stage: str
    flops_tensor: float
    flops_cuda: float
    bytes_read: float
    bytes_written: float
    weight_bytes: float
    activation_peak_bytes: float
    kv_cache_bytes: float
    launches: float

    @classmethod
    def from_table(cls, stage: str, table: RecordTable, *, activation_peak_bytes: float,
                   kv_cache_bytes: float) -> "StageCost":
        t = table.totals()
        return cls(stage=stage, flops_tensor=t["flops_tensor"], flops_cuda=t["flops_cuda"],
                   bytes_read=t["bytes_read"], bytes_written=t["bytes_written"],
                   weight_bytes=t["weight_bytes"], activation_peak_bytes=activation_peak_bytes,
                   kv_cache_bytes=kv_cache_bytes, launches=t["launches"])

    @property
    def flops(self) -> float:
        return self.flops_tensor + self.flops_cuda

    @property
    def io_bytes(self) -> float:
        return self.bytes_read + self.bytes_written

    @property
    def activation_io_bytes(self) -> float:
        return self.io_bytes - self.weight_bytes

    @property
    def arithmetic_intensity(self) -> float:
        """FLOPs per byte of activation I/O (0 when nothing moves)."""
        io = self.activation_io_bytes
        return self.flops / io if io > 0 else 0.0

    def as_dict(self) -> dict[str, float | str]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(flops=self.flops, io_bytes=self.io_bytes,
                 activation_io_bytes=self.activation_io_bytes,
                 arithmetic_intensity=self.arithmetic_intensity)
        return d

    def __add__(self, other: "StageCost") -> "StageCost":
        """Two stages run one after the other: work adds, peaks take the larger, KV the later."""
        return StageCost(
            stage=f"{self.stage}+{other.stage}",
            flops_tensor=self.flops_tensor + other.flops_tensor,
            flops_cuda=self.flops_cuda + other.flops_cuda,
            bytes_read=self.bytes_read + other.bytes_read,
            bytes_written=self.bytes_written + other.bytes_written,
            weight_bytes=self.weight_bytes + other.weight_bytes,
            activation_peak_bytes=max(self.activation_peak_bytes, other.activation_peak_bytes),
            kv_cache_bytes=max(self.kv_cache_bytes, other.kv_cache_bytes),
            launches=self.launches + other.launches)
