"""Shard one GPU's records of a model under a ParallelPlan: the records of one GPU of the plan,
communication records included.

Rules (Megatron-LM style, as vLLM and SGLang shard transformers models), by record layer names
(captured module paths, e.g. `prefill.model.layers.3.self_attn.q_proj`):
- Attention and MLP blocks (`self_attn`, `attn`, `attention`, `mlp`, `feed_forward`,
  `block_sparse_moe`, `moe`) are split over tp: linears are column-parallel (output features
  / tp: q/k/v, gate/up, fc1, ...) or row-parallel (input features / tp: o_proj, down_proj,
  dense, fc2, out_proj, ...); attention splits its heads; every other kernel of the block
  (rotary, q/k norms, activations, KV-cache copies) works on its tp share. Low-rank MLA
  projections (`*_a_proj*`, `*_a_layernorm`) and MoE routers (`gate`, `router`) are
  replicated. One all-reduce of the block's output (tokens x hidden) ends each split block.
- Experts (`experts`): with ep > 1 each rank holds 1/ep of them (uniform routing: 1/ep of the
  routed rows), preceded by an all-to-all dispatch and followed by an all-to-all combine of the
  routed rows' activations (each rank dispatches its 1/tp share of the replicated tokens, and
  an all-gather over tp re-replicates the block output); shared experts are then replicated.
  With ep = 1 the experts are tensor-parallel like any MLP.
- Vocabulary-parallel embedding (each rank looks up its 1/tp of the vocabulary, then an
  all-reduce of tokens x hidden) and lm_head (column-parallel over the vocabulary, then an
  all-gather of the logits).
- Everything else (layer norms between blocks, the final norm) is replicated.
- pp: the decoder layers are split into pp contiguous stages; a request crosses every stage
  in turn, so one GPU's latency is the whole model's kernels plus pp - 1 send/recv of the
  hidden states (tokens x hidden); more stages than decoder layers is an error. The vision
  encoder is not split: it runs on the first stage. dp replicates the model: no change to one
  request.
Sharded records keep their count; their shape parameters are divided (so calibrated profiles
see the sharded shape) and their work is scaled by the kind's formula at the new shape over the
old, which keeps what capture measured (layouts, strides) and shards it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from ..errors import UserError
from ..kernels import work
from ..records import SHAPE_PARAMS, WORK_FIELDS, RecordTable
from ..stages import VISION
from .collectives import collective
from .plan import ParallelPlan

# How communication and compute overlap: not at all. TP all-reduces and EP all-to-alls sit on
# the critical path of one request (the next kernel needs their result), and one request's
# pipeline stages run one after the other; a stage's time is its kernels' sum, communication
# included (what eager vLLM / SGLang decode does without compute-communication fusion).
OVERLAP_RULE = ("no overlap: every collective is on the critical path of the request; stage "
                "time = sum of compute and communication kernels")

_BLOCK = re.compile(r"^(.*?\.(?:self_attn|attn|attention|mlp|feed_forward|block_sparse_moe|moe))"
                    r"(?:\.|$)")
_ROW = frozenset({"o_proj", "down_proj", "dense", "fc2", "w2", "c_proj", "out_proj", "proj",
                  "wo", "dense_4h_to_h", "lin2"})     # lin2: SAM's MLPBlock
_REPLICATED = re.compile(r"(\.(gate|router)$)|(_a_proj)|(_a_layernorm)")
_LAYER_INDEX = re.compile(r"\.layers\.(\d+)(\.|$)")
_P = {p: i for i, p in enumerate(SHAPE_PARAMS)}


def _leaf(layer: str) -> str:
    return layer.rsplit(".", 1)[-1]


def module_paths(table: RecordTable) -> np.ndarray:
    """Each record's module path: its layer, where capture names the module (the record's name
    is the aten op, 'aten.mm'); its layer and name, where an analytic workload names the block
    in `layer` and the module within it in `name` ('decoder.layers.0.self_attn' + 'o_proj',
    'decoder.layers.1.mlp' + 'experts.down_proj'; a vision record's name is 'view/module',
    'crops/proj'), so that both shard alike."""
    names = np.array([n.rsplit("/", 1)[-1] for n in table.name.astype(str)])  # 'crops/proj'
    layers = table.layer.astype(str)
    op = np.char.startswith(names, "aten.") | np.char.startswith(names, "nccl.") | \
        (np.char.find(names, "::") >= 0) | (names == "")
    return np.where(op, layers, np.char.add(np.char.add(layers, "."), names))


def _set(params: np.ndarray, name: str, divisor: float) -> bool:
    i = _P[name]
    if np.isnan(params[i]):
        return False
    params[i] = params[i] / divisor
    return True


def _divide(kind: str, params: np.ndarray, d: float, *, row: bool, hidden: float | None) -> None:
    """Divide the shape parameters of one record by d (in place) according to its role."""
    if kind == "linear":
        _set(params, "k" if row else "n", d)
    elif kind == "grouped_gemm":
        _set(params, "k" if row else "n", d)
    elif kind == "attention":
        _set(params, "heads", d)
    elif kind == "gemm":
        _set(params, "batch", d)
    elif kind == "embedding":
        _set(params, "rows", d)
    elif not _set(params, "numel", d):
        _set(params, "rows", d)


def _scaled(table: RecordTable, new_params: np.ndarray, changed: np.ndarray) -> RecordTable:
    """Work of the changed rows scaled by formula(new shape) / formula(old shape)."""
    cols = {f: getattr(table, f).copy() for f in WORK_FIELDS}
    for kind in dict.fromkeys(table.kind[changed].tolist()):
        rows = np.flatnonzero(changed & (table.kind == kind))
        as_dict = lambda P: {p: P[rows, i] for i, p in enumerate(SHAPE_PARAMS)  # noqa: E731
                             if not np.isnan(P[rows, i]).all()}
        old = work(kind, as_dict(table.params), table.dtype[rows])
        new = work(kind, as_dict(new_params), table.dtype[rows])
        for f in WORK_FIELDS:
            ratio = np.where(old[f] > 0, new[f] / np.where(old[f] > 0, old[f], 1.0), 1.0)
            cols[f][rows] = cols[f][rows] * ratio
    cols["weight_bytes"] = np.minimum(cols["weight_bytes"], cols["bytes_read"])
    return replace(table, params=new_params, **cols)


# The kinds a norm module's records hold rows x width in (a fused norm kernel, or the mean of
# a norm written as tensor ops, as DeepSeek-V2's RMSNorm in DeepSeek-OCR's reference is).
_NORM_KINDS = ("rmsnorm", "layernorm", "reduction")


def _model_dims(table: RecordTable, layers: np.ndarray,
                stage: str) -> tuple[float | None, float | None]:
    """(tokens, hidden) of a decoder stage: the token embedding's rows and width, else (a
    workload that feeds the decoder embeddings, as DeepSeek-OCR's reference merges the image
    features into them) the rows and width of the first decoder layer's first norm, which
    normalizes the same hidden states; (None, None) for the vision stage and where neither is
    recorded. `layers`: the records' module paths (module_paths)."""
    if stage == VISION:
        return None, None
    emb = np.flatnonzero(table.kind == "embedding")
    if len(emb):
        i = emb[0]
        return table.param("rows")[i], table.param("cols")[i]
    for i in np.flatnonzero(np.isin(table.kind, _NORM_KINDS)):
        layer = str(layers[i])
        m = _LAYER_INDEX.search(layer)
        rows, cols = table.param("rows")[i], table.param("cols")[i]
        if m and int(m.group(1)) == 0 and "norm" in _leaf(layer) and \
                np.isfinite(rows) and np.isfinite(cols):
            return rows, cols
    return None, None


def _out_numel(table: RecordTable, i: int) -> float:
    p = lambda name, default=1.0: (default if np.isnan(table.param(name)[i])  # noqa: E731
                                   else table.param(name)[i])
    return p("m") * p("n") * p("batch")


def shard_table(table: RecordTable, plan: ParallelPlan) -> RecordTable:
    """One GPU's records of `table` (one stage of a whole model on one GPU) under `plan`."""
    if plan.is_single or not len(table):
        return table
    tp, ep = plan.tp, plan.ep
    layers = module_paths(table)
    stage = str(table.stage[0])
    tokens, hidden = _model_dims(table, layers, stage)
    new_params = table.params.copy()
    changed = np.zeros(len(table), dtype=bool)
    after: dict[int, list[RecordTable]] = {}
    before: dict[int, list[RecordTable]] = {}
    tp_nodes, ep_nodes = plan.nodes(tp), plan.nodes(ep)

    def comm(where, i, kind, numel, ranks, nodes, calls=None):
        # a collective runs once per call of the module it ends: `calls`, the most any of the
        # module's records runs (an analytic decode table folds its K steps into records of
        # count K beside per-step attention records of count 1; a captured step: 1)
        if ranks > 1 and numel > 0:
            n = float(table.count[i] if calls is None else np.max(table.count[calls]))
            where.setdefault(i, []).append(collective(
                kind, numel, ranks, nodes=nodes, dtype=str(table.dtype[i]), stage=stage,
                layer=layers[i], count=n))

    blocks: dict[str, list[int]] = {}
    for i, layer in enumerate(layers):
        kind = str(table.kind[i])
        m = _BLOCK.match(layer)
        if m:
            blocks.setdefault(m.group(1), []).append(i)
            continue
        if tp > 1 and kind == "embedding":
            _divide(kind, new_params[i], tp, row=False, hidden=hidden)
            changed[i] = True
            comm(after, i, "all_reduce", table.param("rows")[i] * table.param("cols")[i], tp,
                 tp_nodes)
        elif tp > 1 and kind == "linear" and _leaf(layer) == "lm_head":
            _divide(kind, new_params[i], tp, row=False, hidden=hidden)
            changed[i] = True
            comm(after, i, "all_gather", _out_numel(table, i), tp, tp_nodes)

    for rows in blocks.values():
        experts = [i for i in rows if ".experts" in layers[i]]
        out_numel = 0.0
        router_tokens = None
        for i in rows:
            kind, layer = str(table.kind[i]), layers[i]
            if _REPLICATED.search(layer):
                if kind == "linear" and router_tokens is None:
                    router_tokens = table.param("m")[i] * np.nan_to_num(
                        table.param("batch")[i], nan=1.0)
                continue
            if ".shared_expert" in layer and ep > 1:
                continue
            d = (ep if ep > 1 else tp) if ".experts" in layer else tp
            if d == 1:
                continue
            row = _leaf(layer) in _ROW or (kind == "grouped_gemm" and hidden is not None
                                           and table.param("n")[i] == hidden)
            if kind == "grouped_gemm" and ep > 1:
                _set(new_params[i], "batch", ep)
            else:
                _divide(kind, new_params[i], d, row=row, hidden=hidden)
            changed[i] = True
            if kind == "linear" and row and ".experts" not in layer:
                out_numel = _out_numel(table, i)
        moe = bool(experts)
        if moe and router_tokens is not None and hidden is not None:
            out_numel = router_tokens * hidden
        if moe and ep > 1:
            grouped = [i for i in experts if table.kind[i] == "grouped_gemm"]
            if grouped:
                g = grouped[0]
                routed = table.param("m")[g] * table.param("batch")[g] * table.param("k")[g]
                comm(before, experts[0], "all_to_all", routed / tp, ep, ep_nodes, experts)
                comm(after, experts[-1], "all_to_all", routed / tp, ep, ep_nodes, experts)
            if tp > 1 and out_numel:
                comm(after, rows[-1], "all_gather", out_numel, tp, tp_nodes, rows)
        elif tp > 1 and out_numel:
            comm(after, rows[-1], "all_reduce", out_numel, tp, tp_nodes, rows)

    if plan.pp > 1 and tokens is not None:
        idx = np.array([int(m.group(1)) if (m := _LAYER_INDEX.search(s)) else -1 for s in layers])
        n_layers = idx.max() + 1
        if plan.pp > n_layers:
            raise UserError(f"--pp {plan.pp}: the {stage} stage has {n_layers} decoder layers; "
                            f"a pipeline stage needs at least one (use --pp {n_layers} or fewer)")
        for s in range(1, plan.pp):
            boundary = (s * n_layers) // plan.pp - 1      # last layer of pipeline stage s - 1
            last = np.flatnonzero(idx == boundary)
            if len(last):
                crosses = (s * plan.tp * plan.dp) % plan.gpus_per_node == 0 and \
                    plan.gpus > plan.gpus_per_node
                comm(after, int(last[-1]), "send_recv", tokens * hidden, 2, 2 if crosses else 1,
                     last)

    sharded = _scaled(table, new_params, changed) if changed.any() else table
    if not before and not after:
        return sharded
    pieces, start = [], 0
    for i in sorted(set(before) | set(after)):
        pieces.append(sharded.select(slice(start, i)))
        pieces.extend(before.get(i, []))
        pieces.append(sharded.select(slice(i, i + 1)))
        pieces.extend(after.get(i, []))
        start = i + 1
    pieces.append(sharded.select(slice(start, len(sharded))))
    return RecordTable.concat(pieces)


def shard_stage_records(records, plan: ParallelPlan):
    """A workload's StageRecords with every table sharded (roofsim.workloads.StageRecords)."""
    if plan.is_single:
        return records
    parts = {s: [(shard_table(t, plan), w) for t, w in p] for s, p in records.parts.items()}
    notes = tuple(records.notes) + (f"parallel plan tp={plan.tp} ep={plan.ep} pp={plan.pp} "
                                    f"dp={plan.dp}; {OVERLAP_RULE}",)
    return replace(records, parts=parts, notes=notes)
