"""Greedy group assignment: longest-processing-time-first over given groups.

FlexSP (Wang et al., arXiv:2412.01523) seeds its MILP with greedy homogeneous
plans (one per degree: the longest sequence first onto the least-loaded group).
The same rule, generalised to groups of different degrees (each sequence goes
where it would finish earliest, among the groups with memory for it), gives

* :func:`lpt_assign`: the assignment for a fixed list of group degrees;
* :func:`best_homogeneous`: the best one-degree plan of a micro-batch, the
  per-micro-batch safeguard of the planner;
* :func:`greedy_micro_batch`: a fast heterogeneous heuristic that tries every
  configuration of at most two distinct degrees using all N devices.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from diversa.systems.seqpar.cost_model import SPCostModel
from diversa.systems.seqpar.plan import MicroBatch, micro_batch_time


def lpt_assign(cost: SPCostModel, lens, ids: Sequence[int], group_degrees: Sequence[int]) -> MicroBatch | None:
    """Assign sequences ``ids`` (indices into ``lens``) to groups of ``group_degrees``, longest first,
    each to the group where it would finish earliest among those with memory for it.

    Returns the micro-batch ``[(degree, ids), ...]`` (one entry per group, possibly empty), or None
    when some sequence fits no group.
    """
    lens = np.asarray(lens)
    ids = np.asarray(ids, dtype=int)
    group_degrees = np.asarray(group_degrees, dtype=int)
    if group_degrees.size and np.all(group_degrees == group_degrees[0]):
        return _lpt_one_degree(cost, lens, ids, int(group_degrees[0]), len(group_degrees))
    return _lpt_general(cost, lens, ids, group_degrees)


def _lpt_general(cost: SPCostModel, lens: np.ndarray, ids: np.ndarray, group_degrees: np.ndarray):
    """:func:`lpt_assign` for any degrees: the earliest finish among the groups with room."""
    distinct, column = np.unique(group_degrees, return_inverse=True)
    order = ids[np.argsort(-lens[ids], kind="stable")]
    times = np.stack([np.atleast_1d(cost.seq_time(lens[order], int(d))) for d in distinct], axis=1)
    capacity = cost.token_capacity * group_degrees.astype(float)
    load = np.zeros(len(group_degrees))
    tokens = np.zeros(len(group_degrees))
    members: list[list[int]] = [[] for _ in group_degrees]
    for row, i in enumerate(order):
        finish = load + times[row, column] + np.where(tokens == 0, cost.beta, 0.0)
        finish[tokens + lens[i] > capacity] = np.inf
        g = int(np.argmin(finish))
        if not np.isfinite(finish[g]):
            return None
        load[g] = finish[g]
        tokens[g] += lens[i]
        members[g].append(int(i))
    return [(int(d), m) for d, m in zip(group_degrees, members)]


def _lpt_one_degree(cost: SPCostModel, lens: np.ndarray, ids: np.ndarray, d: int, n_groups: int):
    """:func:`lpt_assign` for groups of one degree: earliest finish is least load (an empty group
    finishes at beta plus the sequence, before any busy one), so a heap of loads does it."""
    order = ids[np.argsort(-lens[ids], kind="stable")]
    times = np.atleast_1d(cost.seq_time(lens[order], d)).tolist()
    room = float(cost.token_capacity * d)
    heap = [(0.0, g) for g in range(n_groups)]
    tokens = [0.0] * n_groups
    members: list[list[int]] = [[] for _ in range(n_groups)]
    for i, t in zip(order.tolist(), times):
        full = []
        while heap and tokens[heap[0][1]] + lens[i] > room:
            full.append(heapq.heappop(heap))
        if not heap:
            return None
        load, g = heapq.heappop(heap)
        heapq.heappush(heap, (load + t + (cost.beta if not members[g] else 0.0), g))
        for entry in full:
            heapq.heappush(heap, entry)
        tokens[g] += lens[i]
        members[g].append(int(i))
    return [(d, m) for m in members]


def best_homogeneous(cost: SPCostModel, lens, ids: Sequence[int], degrees: Sequence[int]) -> MicroBatch | None:
    """The fastest one-degree LPT plan of a micro-batch over ``degrees`` (N // d groups of d,
    idle devices as empty groups when d does not divide N); None when no degree fits."""
    best, best_time = None, np.inf
    for d in sorted(degrees):
        n_groups = cost.n_devices // d
        groups = lpt_assign(cost, lens, ids, [d] * n_groups)
        if groups is None:
            continue
        spare = cost.n_devices - d * n_groups
        if spare:
            groups.append((spare, []))
        t = micro_batch_time(cost, lens, groups)
        if t < best_time:
            best, best_time = groups, t
    return best


def two_degree_configs(n_devices: int, degrees: Sequence[int], min_degree: int, n_sequences: int):
    """Group-degree lists using all ``n_devices`` with at most two distinct degrees, the larger at
    least ``min_degree``, and no more groups than sequences (beyond that a group would idle)."""
    degrees = sorted(set(degrees))
    for hi in (d for d in degrees if d >= min_degree):
        for a in range(1, n_devices // hi + 1):
            rest = n_devices - a * hi
            if rest == 0:
                if a <= n_sequences:
                    yield [hi] * a
                continue
            for lo in (d for d in degrees if d < hi and rest % d == 0):
                if a + rest // lo <= n_sequences:
                    yield [hi] * a + [lo] * (rest // lo)


def greedy_micro_batch(cost: SPCostModel, lens, ids: Sequence[int], degrees: Sequence[int],
                       min_degree: int) -> MicroBatch | None:
    """Fast heterogeneous plan of one micro-batch: the best LPT assignment over every configuration
    of :func:`two_degree_configs` (and the homogeneous ones); None when nothing fits."""
    best, best_time = best_homogeneous(cost, lens, ids, [d for d in degrees if d >= min_degree]), np.inf
    if best is not None:
        best_time = micro_batch_time(cost, lens, best)
    for config in two_degree_configs(cost.n_devices, degrees, min_degree, len(ids)):
        groups = lpt_assign(cost, lens, ids, config)
        if groups is None:
            continue
        t = micro_batch_time(cost, lens, groups)
        if t < best_time:
            best, best_time = groups, t
    return best
