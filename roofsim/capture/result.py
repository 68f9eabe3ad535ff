"""What a capture produces: one named row per kernel while tracing (KernelRow), and the
Capture (a RecordTable plus what the trace modelled) they become."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..records import SHAPE_PARAMS, RecordTable


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


@dataclass(frozen=True, slots=True)
class KernelRow:
    """One kernel launch as the tracer sees it (per launch; count 1)."""

    kind: str
    name: str
    dtype: str
    layer: str
    params: Mapping[str, float]
    flops_tensor: float = 0.0
    flops_cuda: float = 0.0
    bytes_read: float = 0.0
    bytes_written: float = 0.0
    weight_bytes: float = 0.0
    counter_flops: float = 0.0     # what torch.utils.flop_counter attributes to the op


@dataclass(frozen=True, eq=False)
class Capture:
    """Records of one traced call, plus what the trace modelled.

    counter_flops: per record, the FLOPs a FLOP counter attributes to it (torch.utils.
    flop_counter's formula; our formula for `_grouped_mm`; 0 for ops it does not count). Their
    sum is what the specification's "measured FLOPs" column counts.
    sdpa_backends: how many SDPA calls went to each backend. unknown_ops: aten ops capture has
    no rule for (recorded as copies of their outputs, 0 FLOPs); empty for the reference model.
    """

    table: RecordTable
    counter_flops: np.ndarray
    sdpa_backends: Mapping[str, int] = field(default_factory=dict)
    unknown_ops: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def matrix_flops(self) -> float:
        return float(np.dot(self.counter_flops, self.table.count))

    def totals(self) -> dict[str, float]:
        t = self.table.totals()
        t["counter_flops"] = self.matrix_flops
        return t

    def _with(self, table: RecordTable, counter_flops=None, notes=None) -> "Capture":
        return Capture(table, self.counter_flops if counter_flops is None else counter_flops,
                       self.sdpa_backends, self.unknown_ops,
                       self.notes if notes is None else tuple(notes))

    def select(self, mask) -> "Capture":
        return self._with(self.table.select(mask), self.counter_flops[mask])

    def under(self, prefix: str) -> "Capture":
        """Records of one module subtree (its qualified name, or a prefix of it)."""
        layer = self.table.layer.astype(str)
        mask = (layer == prefix) | np.char.startswith(layer, prefix + ".")
        return self.select(mask)

    def with_stage(self, stage: str) -> "Capture":
        return self._with(self.table.with_columns(stage=stage))

    def scaled(self, factor: float) -> "Capture":
        """The same records, each launched `factor` times as often."""
        return self._with(self.table.with_columns(count=self.table.count * factor))

    def with_notes(self, notes: Sequence[str]) -> "Capture":
        return self._with(self.table, notes=tuple(dict.fromkeys(self.notes + tuple(notes))))

    @staticmethod
    def concat(parts) -> "Capture":
        parts = list(parts)
        backends = Counter()
        for p in parts:
            backends.update(p.sdpa_backends)
        return Capture(RecordTable.concat([p.table for p in parts]),
                       np.concatenate([p.counter_flops for p in parts]) if parts else np.zeros(0),
                       dict(backends),
                       tuple(sorted({o for p in parts for o in p.unknown_ops})),
                       tuple(dict.fromkeys(n for p in parts for n in p.notes)))


def to_capture(rows: Sequence[KernelRow], stage: str, sdpa_backends: Mapping[str, int],
               unknown_ops) -> Capture:
    n = len(rows)
    index = {p: i for i, p in enumerate(SHAPE_PARAMS)}
    params = np.full((n, len(SHAPE_PARAMS)), np.nan)
    for i, r in enumerate(rows):
        for key, value in r.params.items():
            params[i, index[key]] = value

    def col(name, dt):
        return np.array([getattr(r, name) for r in rows], dtype=dt)

    read = col("bytes_read", np.float64)
    table = RecordTable.from_columns(
        n, kind=col("kind", object), name=col("name", object), dtype=col("dtype", object),
        stage=stage, layer=col("layer", object),
        params={p: params[:, index[p]] for p in SHAPE_PARAMS},
        flops_tensor=col("flops_tensor", np.float64), flops_cuda=col("flops_cuda", np.float64),
        bytes_read=read, bytes_written=col("bytes_written", np.float64),
        weight_bytes=np.minimum(col("weight_bytes", np.float64), read))
    return Capture(table=table, counter_flops=col("counter_flops", np.float64),
                   sdpa_backends=dict(sdpa_backends), unknown_ops=tuple(sorted(unknown_ops)))
