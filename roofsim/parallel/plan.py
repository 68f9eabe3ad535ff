"""A parallel plan: the degrees of tensor, expert, pipeline and data parallelism.

GPUs = tp x pp x dp. The expert-parallel group is carved out of the tp x dp GPUs of one
pipeline stage (as vLLM and SGLang do): ep divides tp x dp. `gpus_per_node` (8 on an HGX
board) says how many nodes a group spans, and so which link its collectives use.

`ParallelPlan.check_model` refuses a plan no serving engine runs on a model (vLLM refuses it):
tensor parallelism must divide the attention heads and the MLP widths it splits, expert
parallelism the routed experts. Data parallelism replicates the model: each replica runs its
own batch (--batch is one replica's), so dp changes one request's time only through the
expert-parallel group it forms with tp.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..errors import UserError

GPUS_PER_NODE = 8
# The largest degree of each kind --tp/--ep/--pp/--dp take: 128 HGX nodes of 8, past any
# deployment roofsim models, so a typo is one line rather than a huge plan.
MAX_DEGREE = 1024


@dataclass(frozen=True)
class ModelSizes:
    """What a parallel plan splits of a model (a workload's shard_sizes()); None: not known."""
    model: str                        # the name messages use
    heads: int | None                 # the decoder's attention (query) heads
    kv_heads: int | None              # its key/value heads (= heads without GQA)
    mlp: tuple[int, ...] = ()         # dense MLP intermediate sizes, split by tp
    expert_mlp: int | None = None     # the routed experts' intermediate size, split by tp at ep 1
    experts: int = 0                  # routed experts, split by ep; 0: a dense model
    vision_heads: tuple[int, ...] = field(default=())   # the vision encoders' attention heads
    latent_kv: bool = False           # the KV cache holds MLA's compressed latent (not per head)


@dataclass(frozen=True)
class ParallelPlan:
    tp: int = 1
    ep: int = 1
    pp: int = 1
    dp: int = 1
    gpus_per_node: int = GPUS_PER_NODE

    def __post_init__(self):
        for name in ("tp", "ep", "pp", "dp", "gpus_per_node"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise UserError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {v!r}")
        if (self.tp * self.dp) % self.ep:
            raise UserError(f"--ep {self.ep}: the expert-parallel group is carved out of the "
                            f"tp x dp = {self.tp * self.dp} GPUs of a pipeline stage, so ep must "
                            f"divide it")

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def is_single(self) -> bool:
        return self.tp == self.ep == self.pp == 1

    @property
    def flags(self) -> str:
        """The degrees above 1 as the options that give them ('--tp 4 --ep 2')."""
        return " ".join(f"--{n} {getattr(self, n)}" for n in ("tp", "ep", "pp", "dp")
                        if getattr(self, n) > 1)

    def nodes(self, ranks: int) -> int:
        """Nodes a group of `ranks` consecutive GPUs spans."""
        return max(1, math.ceil(ranks / self.gpus_per_node))

    def _tp_misfits(self, sizes: ModelSizes, tp: int) -> list[str]:
        """What of `sizes` tensor parallelism of degree tp cannot split evenly."""
        out = []
        if sizes.heads and sizes.heads % tp:
            out.append(f"{sizes.heads} attention heads")
        # fewer KV heads than GPUs: each is replicated on tp / kv GPUs (vLLM), so tp must be
        # a multiple of them; else tp must divide them
        kv = sizes.kv_heads
        if kv and kv != sizes.heads and (kv % tp if kv >= tp else tp % kv):
            out.append(f"{kv} KV heads")
        mlp = list(sizes.mlp) + ([sizes.expert_mlp] if sizes.expert_mlp and self.ep == 1 else [])
        for width in dict.fromkeys(w for w in mlp if w % tp):
            out.append(f"MLP intermediate size {width}")
        for heads in dict.fromkeys(h for h in sizes.vision_heads if h % tp):
            out.append(f"{heads} vision attention heads")
        return out

    def check_model(self, sizes: ModelSizes) -> None:
        """UserError (one line naming the numbers) when tp does not split the model's heads and
        MLP widths evenly, or ep its routed experts (a dense model has none to split)."""
        if self.tp > 1 and (misfits := self._tp_misfits(sizes, self.tp)):
            fits = [t for t in range(2, MAX_DEGREE + 1) if not self._tp_misfits(sizes, t)][:6]
            what = (", ".join(misfits[:-1]) + " and " + misfits[-1]) if len(misfits) > 1 \
                else misfits[0]
            hint = (f"; --tp {', '.join(map(str, fits[:-1]))} or {fits[-1]} would" if len(fits) > 1
                    else f"; --tp {fits[0]} would" if fits else "; only --tp 1 would")
            verb = "does" if len(misfits) == 1 and what.startswith("MLP") else "do"
            raise UserError(f"--tp {self.tp}: {sizes.model}'s {what} {verb} not divide by "
                            f"{self.tp} (tensor parallelism splits each evenly over its GPUs"
                            f"{hint})")
        if self.ep > 1 and not sizes.experts:
            raise UserError(f"--ep {self.ep}: {sizes.model} is a dense model, with no experts "
                            f"for expert parallelism to split")
        if self.ep > 1 and sizes.experts % self.ep:
            raise UserError(f"--ep {self.ep}: {sizes.model}'s {sizes.experts} routed experts do "
                            f"not divide by {self.ep} (expert parallelism gives each GPU an "
                            f"equal share)")

    # ---- what one GPU holds (a server's memory: roofsim.memory.kv_budget) -------------------
    def weight_share(self, total_bytes: float, routed_expert_bytes: float) -> float:
        """Weight bytes one GPU holds: the routed experts over ep (over tp where ep is 1, split
        like any MLP), the rest over tp (attention, dense MLPs, the vocabulary-parallel
        embedding and lm_head: roofsim.parallel.shard), all over pp (contiguous layer stages).
        What shard.py replicates (norms, routers, MLA's low-rank down-projections) is counted
        as split: under 1 % of a shipped model's weights."""
        experts = float(routed_expert_bytes)
        rest = float(total_bytes) - experts
        return (rest / self.tp + experts / (self.ep if self.ep > 1 else self.tp)) / self.pp

    def kv_share(self, sizes: ModelSizes) -> float:
        """The share of the KV cache per position that one GPU holds: its 1 / tp of the KV heads,
        or one whole head where tp exceeds them (vLLM replicates KV heads then); all of an MLA
        latent (every rank keeps it whole); over pp (each stage caches its own layers)."""
        if sizes.latent_kv or not sizes.kv_heads:
            heads = 1.0
        else:
            heads = max(1.0 / self.tp, 1.0 / sizes.kv_heads)
        return heads / self.pp

    def as_dict(self) -> dict:
        return {**asdict(self), "gpus": self.gpus}
