"""Communication kinds: NCCL collectives over `ranks` GPUs on `nodes` nodes.

Parameters: `numel` (elements of the message, nccl-tests' "size": the buffer of an all-reduce,
the gathered output of an all-gather, the input of a reduce-scatter, one rank's whole send
buffer of an all-to-all, the message of a send/recv), `ranks` (GPUs in the group, default 1),
`nodes` (nodes the group spans, default 1) and `tree` (1: NCCL's tree all-reduce, default 0:
ring; the other collectives are ring / pairwise only).

Two parts of the cost live here, both pure and vectorized:
- `comm_work` (the kind's formula): device-memory traffic of the NCCL kernel on one rank, for
  the memory roof: it reads its send buffer and writes its receive buffer (numel elements each,
  the all-gather reads numel / ranks, the reduce-scatter writes numel / ranks); reductions
  (all-reduce, reduce-scatter) count (ranks - 1) / ranks x numel additions (CUDA-core).
- `link_work`: what the engine's `link` roof needs: the bytes each rank moves over its link,
  by nccl-tests' bus-bandwidth convention (so that time = bus bytes / link bandwidth is
  comparable with nccl-tests' busbw column), and the latency steps of NCCL's model:

  | kind | bus bytes (S = numel x elt, n = ranks) | ring steps (N = nodes) |
  | all_reduce | S x 2 (n - 1) / n | 2 (n - 1), of which 2 (N - 1) cross the network |
  | all_gather, reduce_scatter | S x (n - 1) / n | n - 1, of which N - 1 cross the network |
  | all_to_all | S x (n - 1) / n | n - 1 (pairwise exchange), N - 1 across the network |
  | send_recv | S | 1 (across the network when nodes > 1) |

  Tree all-reduce (NCCL): 2 ((n / N - 1) intra-node steps + log2 N network steps), with the
  ring's bus bytes. Time (roofsim.engine) = base latency + intra steps x intra latency +
  network steps x network latency + bus bytes / (per-direction bandwidth x link efficiency),
  where the bandwidth is the network's once the group spans nodes (a ring across nodes is as
  fast as its slowest hop: the NIC of each GPU). One rank (n = 1) moves nothing and costs
  nothing on the link.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..records import COMM_KINDS
from ._common import element_bytes, param, result, rows_of

REDUCING = frozenset({"all_reduce", "reduce_scatter"})

# Bus bytes per message byte with n ranks (nccl-tests' busbw factors, doc/PERFORMANCE.md).
_BUS_FACTOR = {
    "all_reduce": lambda n: 2 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "all_to_all": lambda n: (n - 1) / n,
    "send_recv": lambda n: np.where(n > 1, 1.0, 0.0),
}


def bus_factor(kind: str, ranks) -> np.ndarray:
    """nccl-tests' busbw / algbw factor of a collective over `ranks` GPUs (0 for one rank)."""
    n = np.maximum(np.asarray(ranks, dtype=np.float64), 1.0)
    return np.asarray(_BUS_FACTOR[kind](n), dtype=np.float64)


def _group(params, n_rows: int, kind: str):
    """numel, ranks, nodes and tree (bool) of each row; a UserError where a group has no GPU,
    spans no node or more nodes than GPUs, or tree is not 0 or 1 (these were clamped into
    range, a wrong figure for a wrong input)."""
    numel = param(params, "numel", n_rows, kind)
    ranks = param(params, "ranks", n_rows, kind, default=1.0)
    nodes = param(params, "nodes", n_rows, kind, default=1.0)
    tree = param(params, "tree", n_rows, kind, default=0.0)
    if (ranks < 1).any():
        raise UserError(f"kind {kind!r}: ranks (GPUs in the group) must be >= 1, got "
                        f"{ranks.min():g}")
    outside = (nodes < 1) | (nodes > ranks)
    if outside.any():
        bad = int(np.flatnonzero(outside)[0])
        raise UserError(f"kind {kind!r}: nodes must be within 1 .. ranks (a node holds at "
                        f"least one of the group's GPUs), got nodes {nodes[bad]:g} for ranks "
                        f"{ranks[bad]:g}")
    if not np.isin(tree, (0.0, 1.0)).all():
        raise UserError(f"kind {kind!r}: tree must be 0 (ring) or 1 (NCCL's tree), got "
                        f"{sorted(set(tree.tolist()) - {0.0, 1.0})}")
    return numel, ranks, nodes, tree > 0


def _formula(kind: str):
    def comm_work(params, dtype) -> dict:
        n_rows = rows_of(params, dtype)
        numel, ranks, _, _ = _group(params, n_rows, kind)
        e = element_bytes(dtype, n_rows)
        read = numel / ranks if kind == "all_gather" else numel
        written = numel / ranks if kind == "reduce_scatter" else numel
        adds = numel * (ranks - 1) / ranks if kind in REDUCING else 0.0
        return result(n_rows, flops_cuda=adds, bytes_read=read * e, bytes_written=written * e)
    comm_work.__name__ = f"{kind}_work"
    return comm_work


FORMULAS = {k: _formula(k) for k in COMM_KINDS}


def link_work(kind: str, params, dtype) -> dict[str, np.ndarray]:
    """Per launch: `bus_bytes` over each rank's link, `intra_steps` and `network_steps`
    (latency steps inside a node and across nodes), `multi_node` (bool: the network link
    carries the bytes). Zero for one rank."""
    n_rows = rows_of(params, dtype)
    numel, ranks, nodes, tree = _group(params, n_rows, kind)
    one = ranks <= 1
    bus = numel * element_bytes(dtype, n_rows) * bus_factor(kind, ranks)
    if kind == "all_reduce":
        steps, net = 2 * (ranks - 1), 2 * (nodes - 1)
        tree_intra = 2 * (np.ceil(ranks / nodes) - 1)
        tree_net = 2 * np.ceil(np.log2(nodes))
        intra = np.where(tree, tree_intra, steps - net)
        net = np.where(tree, tree_net, net)
    elif kind == "send_recv":
        multi = nodes > 1
        intra, net = np.where(multi, 0.0, 1.0), np.where(multi, 1.0, 0.0)
    else:
        steps, net = ranks - 1, nodes - 1
        intra = steps - net
    zero = lambda a: np.where(one, 0.0, a)  # noqa: E731
    return {"bus_bytes": zero(bus), "intra_steps": zero(intra), "network_steps": zero(net),
            "multi_node": (nodes > 1) & ~one}


__all__ = ["FORMULAS", "REDUCING", "bus_factor", "link_work"]
