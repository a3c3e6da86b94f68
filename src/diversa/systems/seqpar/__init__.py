"""Sequence-parallelism planning for variable-length LLM training (FlexSP, arXiv:2412.01523).

* :mod:`~diversa.systems.seqpar.cost_model`: compute, all-to-all and memory of Ulysses-style groups;
* :mod:`~diversa.systems.seqpar.bucketing`, :mod:`~diversa.systems.seqpar.chunking`: the DPs that
  bucket lengths and cut a global batch into micro-batches;
* :mod:`~diversa.systems.seqpar.milp`: the slot MILP (scipy / HiGHS);
* :mod:`~diversa.systems.seqpar.greedy`: longest-first heuristics;
* :mod:`~diversa.systems.seqpar.planner`: :class:`FlexSPPlanner`;
* :mod:`~diversa.systems.seqpar.homogeneous`: the fixed-degree baselines;
* :mod:`~diversa.systems.seqpar.plan`: :class:`StepPlan`, timing and checks;
* :mod:`~diversa.systems.seqpar.lengths`: long-tailed length generator.
"""

from diversa.systems.seqpar.bucketing import bucket_lengths, even_buckets, fewest_buckets, padding_error
from diversa.systems.seqpar.chunking import chunk_global_batch, min_micro_batches
from diversa.systems.seqpar.cost_model import BANDWIDTH_GBS, GPT_PRESETS, SPCostModel
from diversa.systems.seqpar.greedy import best_homogeneous, greedy_micro_batch, lpt_assign
from diversa.systems.seqpar.homogeneous import (
    AdaptiveHomogeneousPlanner,
    StaticSPPlanner,
    best_fit_decreasing,
    homogeneous_step,
)
from diversa.systems.seqpar.lengths import sample_lengths
from diversa.systems.seqpar.milp import SlotSolution, group_slots, solve_slot_milp
from diversa.systems.seqpar.plan import StepPlan, check_plan, simulate, step_time
from diversa.systems.seqpar.planner import FlexSPPlanner

__all__ = [
    "BANDWIDTH_GBS", "GPT_PRESETS", "AdaptiveHomogeneousPlanner", "FlexSPPlanner", "SPCostModel", "SlotSolution",
    "StaticSPPlanner", "StepPlan", "best_fit_decreasing", "best_homogeneous", "bucket_lengths", "check_plan",
    "chunk_global_batch", "even_buckets", "fewest_buckets", "greedy_micro_batch", "group_slots", "homogeneous_step", "lpt_assign",
    "min_micro_batches", "padding_error", "sample_lengths", "simulate", "solve_slot_milp", "step_time",
]
