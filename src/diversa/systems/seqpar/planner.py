"""FlexSP: per-step heterogeneous sequence-parallel groups for variable-length batches.

Wang et al., "Data-Centric and Heterogeneity-Adaptive Sequence Parallelism
for Efficient LLM Training" (FlexSP), arXiv:2412.01523, ASPLOS'25, section 5.
Fixed-degree systems size every sequence-parallel group for the longest
sequence, so on long-tailed length distributions the many short sequences
pay for large, often cross-node, all-to-alls. FlexSP plans each training step:

1. **Sequence blaster** (:mod:`~diversa.systems.seqpar.chunking`): the batch is
   cut, longest first, into balanced micro-batches; the fewest that fit the
   cluster and the next ``mb_options - 1`` counts are all planned, and the
   fastest step is kept.
2. **Parallelism planner**: each micro-batch's lengths are bucketed
   (:mod:`~diversa.systems.seqpar.bucketing`; buckets are added until the padded
   tokens are at most halfway between the real tokens and the cluster's
   capacity) and the slot MILP (:mod:`~diversa.systems.seqpar.milp`) picks the
   groups (degrees summing to N) and the buckets they run.
3. **Decode**: each bucket's sequences are drawn at random into the slots the
   MILP gave it, and every time is recomputed from the real lengths.
4. **Safeguards**: ``"micro"`` keeps, per micro-batch, the best one-degree
   longest-first plan when it is faster than the decoded MILP plan (the role
   of the authors' greedy warm starts, which scipy's HiGHS interface cannot
   take); ``"step"`` also keeps the adaptive-homogeneous baseline's whole step
   when that is faster; ``"none"`` returns the MILP's plan as is.

``solver="greedy"`` replaces the MILP by the two-degree longest-first
heuristic of :mod:`~diversa.systems.seqpar.greedy` (fast, no optimality).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import check_random_state

from diversa.systems.seqpar.bucketing import _as_lengths, bucket_lengths, even_buckets, fewest_buckets
from diversa.systems.seqpar.chunking import chunk_global_batch, min_micro_batches
from diversa.systems.seqpar.cost_model import SPCostModel
from diversa.systems.seqpar.greedy import best_homogeneous, greedy_micro_batch
from diversa.systems.seqpar.homogeneous import AdaptiveHomogeneousPlanner
from diversa.systems.seqpar.milp import group_slots, lower_bound, solve_slot_milp
from diversa.systems.seqpar.plan import (
    MicroBatch,
    StepPlan,
    candidate_degrees,
    make_plan,
    micro_batch_time,
    min_allowed_degree,
)

SOLVERS = ("milp", "greedy")
SAFEGUARDS = ("none", "micro", "step")
BUCKETINGS = ("dp", "even", "none")


class FlexSPPlanner:
    """Plan each step of sequence-parallel training with heterogeneous groups (FlexSP,
    arXiv:2412.01523).

    Parameters
    ----------
    cost : SPCostModel
        Cluster, model and memory.
    degrees : sequence of int, optional
        Group degrees allowed (default: powers of two up to N, from 2 with ``official=True``).
    n_buckets : int
        Buckets the bucketing starts from (more are added while padding is too large).
    mb_options : int
        Micro-batch counts planned, from the fewest that fit (the authors use 5); a count where
        some micro-batch has no plan is skipped (only possible with ``safeguard="none"``).
    solver : {"milp", "greedy"}
        HiGHS on the slot MILP, or the two-degree longest-first heuristic.
    bucketing : {"dp", "even", "none"}
        Least-padding DP, equal-width buckets, or one bucket per distinct length.
    sort : bool
        Sort lengths before cutting micro-batches (the authors' ``sort_consec``).
    prune_slots : bool
        The authors' slot pruning for degrees below the largest need.
    official : bool
        Without ``degrees``, skip d = 1 as the authors' planner does.
    node_limit, time_limit, mip_rel_gap
        HiGHS limits per micro-batch; a node limit keeps plans independent of the machine's speed.
    safeguard : {"none", "micro", "step"}
        See the module docstring.
    n_jobs : int or None
        joblib workers over micro-batches (the plan does not depend on it).
    random_state : int, RandomState or None
        Draws of sequences from buckets into groups.
    """

    def __init__(self, cost: SPCostModel, degrees: Sequence[int] | None = None, *, n_buckets: int = 16,
                 mb_options: int = 5, solver: str = "milp", bucketing: str = "dp", sort: bool = True,
                 prune_slots: bool = True, official: bool = False, node_limit: int | None = 200,
                 time_limit: float | None = None, mip_rel_gap: float = 1e-2, safeguard: str = "step",
                 n_jobs: int | None = None, random_state=None):
        self.cost = cost
        self.degrees = degrees
        self.n_buckets = n_buckets
        self.mb_options = mb_options
        self.solver = solver
        self.bucketing = bucketing
        self.sort = sort
        self.prune_slots = prune_slots
        self.official = official
        self.node_limit = node_limit
        self.time_limit = time_limit
        self.mip_rel_gap = mip_rel_gap
        self.safeguard = safeguard
        self.n_jobs = n_jobs
        self.random_state = random_state
        self._check()

    def _check(self) -> None:
        for name, value, allowed in (("solver", self.solver, SOLVERS), ("safeguard", self.safeguard, SAFEGUARDS),
                                     ("bucketing", self.bucketing, BUCKETINGS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
        for name in ("n_buckets", "mb_options"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.node_limit is not None and self.node_limit < 1:
            raise ValueError(f"node_limit must be >= 1 or None, got {self.node_limit!r}.")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 or None, got {self.time_limit!r}.")
        self.degrees_ = candidate_degrees(self.cost.n_devices, self.degrees, official=self.official)

    # -- one micro-batch --------------------------------------------------------------------------

    def _buckets(self, lens: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Buckets of one micro-batch's lengths, added until the padded tokens are at most halfway
        between the real tokens and the cluster's capacity (the authors' rule)."""
        distinct = len(np.unique(lens))
        if self.bucketing == "none" or distinct <= self.n_buckets:
            return bucket_lengths(lens, distinct)
        if self.bucketing == "even":
            return even_buckets(lens, self.n_buckets)
        slack = (self.cost.token_capacity * self.cost.n_devices - lens.sum()) / 2
        return fewest_buckets(lens, self.n_buckets, max(slack, 0.0))

    def _decode(self, lens: np.ndarray, ids: np.ndarray, buckets, solution, rng) -> MicroBatch:
        """Draw each bucket's sequences at random into the slots the MILP gave it."""
        groups = [[] for _ in solution.slot_degrees]
        for k, (_, members) in enumerate(buckets):
            drawn = iter(ids[members][rng.permutation(len(members))])
            for p, count in enumerate(solution.counts[k]):
                groups[p] += [int(next(drawn)) for _ in range(count)]
        return [(int(d), g) for d, g in zip(solution.slot_degrees, groups) if g]

    def _cutoff(self, boundaries: np.ndarray, counts: list[int]) -> float | None:
        """Time of the best one-degree plan with every sequence at its bucket boundary: the MILP
        only looks for plans at least as fast (the authors' greedy warm starts)."""
        if self.safeguard == "none":
            return None
        padded = np.repeat(boundaries, counts)
        groups = best_homogeneous(self.cost, padded, np.arange(len(padded)), self.degrees_)
        return None if groups is None else micro_batch_time(self.cost, padded, groups) * (1 + 1e-9)

    def _milp_micro_batch(self, lens: np.ndarray, ids: np.ndarray, rng) -> tuple[MicroBatch | None, str]:
        local = lens[ids]
        buckets = self._buckets(local)
        boundaries = np.array([b for b, _ in buckets])
        counts = [len(m) for _, m in buckets]
        needs = [min_allowed_degree(self.cost, b, self.degrees_) for b in boundaries]
        slots = group_slots(needs, self.degrees_, self.cost.n_devices, counts=counts, prune=self.prune_slots)
        solution = solve_slot_milp(boundaries, counts, slots, self.cost, node_limit=self.node_limit,
                                   time_limit=self.time_limit, mip_rel_gap=self.mip_rel_gap,
                                   cutoff=self._cutoff(boundaries, counts))
        if solution is None:
            return None, "milp found no better plan"
        return self._decode(lens, ids, buckets, solution, rng), f"milp {solution.status}"

    def _micro_batch(self, lens: np.ndarray, ids: np.ndarray, rng) -> tuple[MicroBatch | None, str, dict]:
        """(groups or None, how they were found, times of the candidate plans and the lower bound)."""
        homogeneous, times = None, {}
        if self.safeguard != "none":
            homogeneous = best_homogeneous(self.cost, lens, ids, self.degrees_)
            if homogeneous is not None:
                times["homogeneous_ms"] = micro_batch_time(self.cost, lens, homogeneous)
                times["lower_bound_ms"] = lower_bound(self.cost, lens[ids], self.degrees_)
                if times["homogeneous_ms"] <= times["lower_bound_ms"] * (1 + self.mip_rel_gap):
                    # Already optimal within the gap: the MILP could not do better.
                    return homogeneous, f"homogeneous d={homogeneous[0][0]} (at the bound)", times
        if self.solver == "greedy":
            need = max(min_allowed_degree(self.cost, s, self.degrees_) for s in lens[ids])
            groups, status = greedy_micro_batch(self.cost, lens, ids, self.degrees_, need), "greedy"
        else:
            groups, status = self._milp_micro_batch(lens, ids, rng)
        if groups is not None:
            times["planned_ms"] = micro_batch_time(self.cost, lens, groups)
        if homogeneous is not None and (groups is None or times["homogeneous_ms"] < times["planned_ms"]):
            return homogeneous, f"homogeneous d={homogeneous[0][0]}", times
        return groups, status, times

    def plan_micro_batch(self, lens, ids, random_state=None) -> tuple[MicroBatch | None, str]:
        """Groups ``[(degree, ids), ...]`` for the sequences ``ids`` (indices into ``lens``) of one
        micro-batch, and how they were found; ``(None, reason)`` when nothing fits."""
        groups, status, _ = self._micro_batch(np.asarray(lens), np.asarray(ids, dtype=int),
                                              check_random_state(random_state))
        return groups, status

    # -- one step ---------------------------------------------------------------------------------

    def plan(self, lens: Sequence[int]) -> StepPlan:
        """The plan of one global batch ``lens`` (n,) of sequence lengths (tokens).

        The micro-batches of every candidate split are planned through joblib (``n_jobs``);
        the plan does not depend on ``n_jobs``. ValueError when a sequence fits no group.
        """
        started = time.perf_counter()
        lens = _as_lengths(lens)
        if lens.size == 0:
            return make_plan(self.cost, lens, [], strategy="flexsp")
        min_allowed_degree(self.cost, int(lens.max()), self.degrees_)   # the longest fits at all
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        first = min_micro_batches(lens, self.cost.token_capacity * self.cost.n_devices, sort=self.sort)
        counts = range(first, min(first + self.mb_options, lens.size + 1))
        splits = {n: chunk_global_batch(lens, n, sort=self.sort) for n in counts}
        tasks = [(n, b, ids) for n, chunks in splits.items() for b, ids in enumerate(chunks)]
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_plan_task)(self, lens, ids, (seed, n, b)) for n, b, ids in tasks)
        best, by_count = None, {}
        for n in counts:
            mine = [r for (m, _, _), r in zip(tasks, results) if m == n]
            if any(groups is None for groups, _, _ in mine):
                continue
            plan = make_plan(self.cost, lens, [g for g, _, _ in mine], strategy="flexsp",
                             solver_status=[s for _, s, _ in mine],
                             details={"micro_batch_times": [t for _, _, t in mine]})
            by_count[n] = plan.predicted_ms
            if best is None or plan.predicted_ms < best.predicted_ms:
                best = plan
        if best is None:   # only possible without the safeguards: one degree for the whole step
            best = AdaptiveHomogeneousPlanner(self.cost, self.degrees_).plan(lens)
            best.strategy, best.solver_status = "flexsp", ["fallback: " + best.strategy] * best.n_micro
        best.details["step_ms_by_micro_batches"] = by_count
        if self.safeguard == "step":
            adaptive = AdaptiveHomogeneousPlanner(self.cost, self.degrees_).plan(lens)
            best.details["adaptive_ms"] = adaptive.predicted_ms
            best.details["planned_ms"] = best.predicted_ms
            if adaptive.predicted_ms < best.predicted_ms:
                best = make_plan(self.cost, lens, adaptive.micro_batches, strategy="flexsp",
                                 solver_status=[f"step fallback: {adaptive.strategy}"] * adaptive.n_micro,
                                 details=best.details)
        best.solve_seconds = time.perf_counter() - started
        return best


def _plan_task(planner: FlexSPPlanner, lens: np.ndarray, ids: np.ndarray, seed: tuple):
    """One micro-batch of one candidate split, with its own random stream (independent of n_jobs)."""
    return planner._micro_batch(lens, ids, np.random.default_rng(seed))
