"""Fixed-degree sequence parallelism: the static and adaptive-homogeneous baselines.

The systems FlexSP (Wang et al., arXiv:2412.01523) compares against,
DeepSpeed-Ulysses and Megatron-LM, use one sequence-parallel degree ``d`` for
every sequence, chosen so that the longest sequence fits. Following the
authors' baselines, a global batch is packed Best-Fit-Decreasing into bins of
``max(0.9 * C * d, longest)`` tokens (C: tokens per device), consecutive runs of
``N / d`` bins form the micro-batches, the empty groups of the last
micro-batch borrow one sequence each from multi-sequence bins, and the last
micro-batch is re-balanced longest-first when that is faster.

* :class:`StaticSPPlanner`: one degree for every step (by default the smallest
  that holds the batch's longest sequence; pass the dataset's for a truly
  static run);
* :class:`AdaptiveHomogeneousPlanner`: per step, the fastest single degree.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from diversa.systems.seqpar.bucketing import _as_lengths
from diversa.systems.seqpar.cost_model import SPCostModel
from diversa.systems.seqpar.greedy import lpt_assign
from diversa.systems.seqpar.plan import (
    MicroBatch,
    StepPlan,
    candidate_degrees,
    make_plan,
    micro_batch_time,
    min_allowed_degree,
)

#: Fraction of a group's token capacity the baselines' bins are filled to (the authors' 0.9).
BIN_FILL = 0.9


def best_fit_decreasing(lens, capacity: float) -> list[list[int]]:
    """Bins of indices into ``lens`` packed Best-Fit-Decreasing with ``capacity`` tokens each, in the
    order they were opened: each length, longest first, goes to the fullest bin it fits in."""
    lens = np.asarray(lens)
    if lens.size and lens.max() > capacity:
        raise ValueError(f"a sequence of {int(lens.max())} tokens exceeds the bin capacity {capacity:g}.")
    remaining = np.empty(len(lens))
    bins: list[list[int]] = []
    for i in np.argsort(-lens, kind="stable"):
        room = remaining[:len(bins)]
        fits = np.flatnonzero(room >= lens[i])
        if fits.size:
            b = int(fits[np.argmin(room[fits])])
        else:
            b = len(bins)
            bins.append([])
            remaining[b] = capacity
        bins[b].append(int(i))
        remaining[b] -= lens[i]
    return bins


def _fill_empty_groups(bins: list[list[int]], lens: np.ndarray, per_micro: int) -> None:
    """Give each empty group of the last micro-batch the shortest sequence of the fullest
    multi-sequence bin, so no device idles while another group has spare work."""
    while len(bins) % per_micro:
        donors = [b for b in range(len(bins)) if len(bins[b]) > 1]
        if not donors:
            return
        donor = max(donors, key=lambda b: (lens[bins[b]].sum(), -b))
        moved = min(bins[donor], key=lambda i: (lens[i], i))
        bins[donor].remove(moved)
        bins.append([moved])


def homogeneous_step(cost: SPCostModel, lens, degree: int, *, fill: float = BIN_FILL) -> list[MicroBatch] | None:
    """Micro-batches of one global batch with every group of ``degree`` devices (the authors'
    BFD baseline); None when the longest sequence does not fit a group of ``degree``."""
    lens = np.asarray(lens)
    if lens.size == 0:
        return []
    if lens.max() > cost.token_capacity * degree:
        return None
    per_micro = cost.n_devices // degree
    spare = cost.n_devices - per_micro * degree
    bins = best_fit_decreasing(lens, max(fill * cost.token_capacity * degree, float(lens.max())))
    _fill_empty_groups(bins, lens, per_micro)
    micro_batches = []
    for start in range(0, len(bins), per_micro):
        chunk = bins[start:start + per_micro]
        groups = [(degree, ids) for ids in chunk] + [(degree, []) for _ in range(per_micro - len(chunk))]
        micro_batches.append(groups + ([(spare, [])] if spare else []))
    last = micro_batches[-1]
    ids = [i for _, g in last for i in g]
    rebalanced = lpt_assign(cost, lens, ids, [degree] * per_micro)
    if rebalanced is not None:
        rebalanced += [(spare, [])] if spare else []
        if micro_batch_time(cost, lens, rebalanced) < micro_batch_time(cost, lens, last):
            micro_batches[-1] = rebalanced
    return micro_batches


class StaticSPPlanner:
    """One sequence-parallel degree for every step (DeepSpeed-Ulysses / Megatron-style baseline of
    FlexSP, arXiv:2412.01523).

    ``degree``: the fixed degree; None picks, per batch, the smallest power of two that holds its
    longest sequence (the authors' "min_sp"); for a static run pass the degree the dataset's
    longest sequence needs.
    """

    def __init__(self, cost: SPCostModel, degree: int | None = None, *, fill: float = BIN_FILL):
        if degree is not None and not (1 <= int(degree) <= cost.n_devices):
            raise ValueError(f"degree must be in 1..{cost.n_devices}, got {degree!r}.")
        if not 0 < fill <= 1:
            raise ValueError(f"fill must be in (0, 1], got {fill!r}.")
        self.cost, self.degree, self.fill = cost, degree, fill

    def plan(self, lens: Sequence[int]) -> StepPlan:
        """The step plan of one global batch ``lens`` (n,) with the fixed degree."""
        started = time.perf_counter()
        lens = _as_lengths(lens)
        if lens.size == 0:
            return make_plan(self.cost, lens, [], strategy="static")
        d = self.degree if self.degree is not None else self.cost.min_degree(int(lens.max()))
        micro = homogeneous_step(self.cost, lens, d, fill=self.fill)
        if micro is None:
            raise ValueError(f"a sequence of {int(lens.max())} tokens does not fit a group of {d} devices "
                             f"({self.cost.token_capacity * d} tokens); raise degree.")
        return make_plan(self.cost, lens, micro, strategy=f"static d={d}",
                         solve_seconds=time.perf_counter() - started)


class AdaptiveHomogeneousPlanner:
    """Per step, the fastest single degree (the authors' adaptive baseline of FlexSP,
    arXiv:2412.01523): every degree that holds the longest sequence is packed as
    :class:`StaticSPPlanner` does and the fastest step wins (ties: the smaller degree).

    ``degrees``: candidates (default the powers of two up to N).
    """

    def __init__(self, cost: SPCostModel, degrees: Sequence[int] | None = None, *, fill: float = BIN_FILL):
        self.cost, self.fill = cost, fill
        self.degrees = candidate_degrees(cost.n_devices, degrees)

    def plan(self, lens: Sequence[int]) -> StepPlan:
        """The fastest one-degree step plan of the global batch ``lens`` (n,)."""
        started = time.perf_counter()
        lens = _as_lengths(lens)
        if lens.size == 0:
            return make_plan(self.cost, lens, [], strategy="adaptive")
        low = min_allowed_degree(self.cost, int(lens.max()), self.degrees)
        best, times = None, {}
        for d in (d for d in self.degrees if d >= low):
            micro = homogeneous_step(self.cost, lens, d, fill=self.fill)
            plan = make_plan(self.cost, lens, micro, strategy=f"adaptive d={d}")
            times[d] = plan.predicted_ms
            if best is None or plan.predicted_ms < best.predicted_ms:
                best = plan
        best.solve_seconds = time.perf_counter() - started
        best.details["step_ms_by_degree"] = times
        return best
