"""Parallel plans: tensor (TP), expert (EP), pipeline (PP) and data (DP) parallelism as a
transformation of record tables (DESIGN: "Transforms, not forks").

`ParallelPlan` (plan.py) names the degrees; `shard_table` / `shard_stage_records` (shard.py)
turn one GPU's records of a whole model into one GPU's records under the plan, communication
records (roofsim.kernels.comm kinds) included; `collective` (collectives.py) builds one.
"""

from .collectives import collective
from .plan import MAX_DEGREE, ModelSizes, ParallelPlan
from .shard import OVERLAP_RULE, shard_stage_records, shard_table

__all__ = ["MAX_DEGREE", "OVERLAP_RULE", "ModelSizes", "ParallelPlan", "collective",
           "shard_stage_records", "shard_table"]
