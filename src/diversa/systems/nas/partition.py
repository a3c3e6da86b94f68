"""Balanced min-cut partitions of an edge's operations by gradient-matching distance.

Hu, Wang, Hong, Li, Hsieh, Feng, "Generalizing Few-Shot NAS with Gradient
Matching" (GM-NAS), arXiv:2203.15207, ICLR 2022, split an edge's operations
into ``k`` groups (``k = 2`` in the paper) so that operations whose gradients
disagree end up in different sub-supernets: the groups minimise the
within-group distance ``W = sum_g sum_{i<j in g} D[i, j]``. For fixed group
sizes this is the same as maximising the cross-group distance, i.e. the
minimum cut of the complete graph weighted by the gradient-matching score
``1 - D`` (hence "min-cut"). Without a size constraint a min-cut isolates one
operation, so the partitions are balanced: group sizes ``floor(n/k)`` or
``ceil(n/k)`` (the official NAS-Bench-201 rule, 2 | 3 of five operations), or
every size of at least ``min_group_size`` (the official DARTS-space rule,
``min_group_size=2``). The search is exhaustive over set partitions, instant
for the handful of operations an edge has (n <= 10).

:func:`edge_split_score` ranks edges for the next split: ``"cross"`` (the
NAS-Bench-201 code) the total cross-group distance, ``"within"`` (the
DARTS-space code) the negated within-group distance.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence

import numpy as np

from diversa._params import check_int

__all__ = ["EDGE_SCORES", "edge_split_score", "partition_ops", "set_partitions", "within_distance"]

EDGE_SCORES = ("cross", "within")


def set_partitions(n: int, n_groups: int, sizes: tuple[int, int]) -> Iterator[list[list[int]]]:
    """Every partition of ``range(n)`` into ``n_groups`` non-empty unlabelled groups with sizes in ``[lo, hi]``.

    Groups are listed by their smallest element; each partition appears once
    (restricted-growth enumeration).
    """
    lo, hi = sizes
    groups: list[list[int]] = []

    def grow(i: int) -> Iterator[list[list[int]]]:
        if n - i < sum(max(lo - len(g), 0) for g in groups) + max(n_groups - len(groups), 0) * lo:
            return   # too few elements left to fill every group to its minimum size
        if i == n:
            if len(groups) == n_groups:
                yield [list(g) for g in groups]
            return
        for g in groups:
            if len(g) < hi:
                g.append(i)
                yield from grow(i + 1)
                g.pop()
        if len(groups) < n_groups:
            groups.append([i])
            yield from grow(i + 1)
            groups.pop()

    yield from grow(0)


def _check_dist(dist, candidates) -> tuple[np.ndarray, np.ndarray]:
    dist = np.asarray(dist, dtype=np.float64)
    if dist.ndim != 2 or dist.shape[0] != dist.shape[1]:
        raise ValueError(f"dist must be a square matrix, got shape {dist.shape}.")
    if candidates is None:
        candidates = np.arange(dist.shape[0])
    else:
        candidates = np.asarray(candidates)
        if candidates.ndim != 1 or not np.issubdtype(candidates.dtype, np.integer) or len(set(candidates.tolist())) != len(candidates) \
                or candidates.min(initial=0) < 0 or candidates.max(initial=0) >= dist.shape[0]:
            raise ValueError(f"candidates must be distinct op indices in [0, {dist.shape[0]}), got {candidates!r}.")
    sub = dist[np.ix_(candidates, candidates)]
    if not np.isfinite(sub).all():
        raise ValueError("dist must be finite on the candidate operations.")
    if not np.allclose(sub, sub.T, rtol=1e-6, atol=1e-9):
        raise ValueError("dist must be symmetric.")
    if (sub < 0).any():
        raise ValueError("dist must be non-negative.")
    return sub, candidates


def within_distance(dist, groups: Sequence[Sequence[int]]) -> float:
    """``W``: the sum of ``dist[i, j]`` over pairs ``i < j`` in the same group."""
    dist = np.asarray(dist, dtype=np.float64)
    return float(sum(dist[np.ix_(g, g)][np.triu_indices(len(g), 1)].sum() for g in map(list, groups)))


def partition_ops(dist, n_groups: int = 2, min_group_size: int | None = None,
                  candidates: Sequence[int] | None = None) -> tuple[list[np.ndarray], float]:
    """The balanced partition of an edge's operations with the least within-group distance.

    ``dist`` ``(n, n)``: symmetric, non-negative distances (e.g. from
    :func:`~diversa.systems.nas.gradient_matching.gradient_matching_distance`);
    ``candidates``: the op indices to partition (default all ``n``);
    ``n_groups``: ``k``; ``min_group_size``: None for groups of
    ``floor(m/k)`` or ``ceil(m/k)`` of the ``m`` candidates, else every
    partition whose groups have at least that many operations.

    Returns ``(groups, W)``: ``k`` sorted int arrays of op indices (ordered by
    their first element) that partition ``candidates``, and their
    within-group distance. Ties go to the first partition in enumeration
    order. ``ValueError`` when there are fewer candidates than groups.

    >>> D = np.array([[0, .1, .9, .9], [.1, 0, .9, .9], [.9, .9, 0, .2], [.9, .9, .2, 0]])
    >>> groups, w = partition_ops(D)
    >>> [g.tolist() for g in groups], round(w, 3)
    ([[0, 1], [2, 3]], 0.3)
    """
    n_groups = check_int(n_groups, "n_groups", 1)
    sub, candidates = _check_dist(dist, candidates)
    m = len(candidates)
    if m < n_groups:
        raise ValueError(f"cannot split {m} operations into n_groups={n_groups} non-empty groups.")
    if min_group_size is None:
        sizes = (m // n_groups, -(-m // n_groups))
    else:
        if isinstance(min_group_size, bool) or not isinstance(min_group_size, numbers.Integral) or min_group_size < 1:
            raise ValueError(f"min_group_size must be an int >= 1 or None, got {min_group_size!r}.")
        if min_group_size * n_groups > m:
            raise ValueError(f"min_group_size={min_group_size} x n_groups={n_groups} exceeds the {m} operations.")
        sizes = (int(min_group_size), m - (n_groups - 1) * int(min_group_size))
    best, best_w = None, np.inf
    for groups in set_partitions(m, n_groups, sizes):
        w = within_distance(sub, groups)
        if w < best_w - 1e-12:
            best, best_w = groups, w
    return [np.sort(candidates[g]) for g in best], float(best_w)


def edge_split_score(dist, groups: Sequence[Sequence[int]], rule: str = "cross") -> float:
    """How strongly an edge asks to be split by ``groups``; the edge with the highest score goes first.

    ``rule="cross"``: ``sum_{i<j} D[i, j] - W``, the distance across groups
    (NAS-Bench-201 code); ``"within"``: ``-W`` (the DARTS-space code picks the
    edge whose best partition has the smallest within-group distance).
    """
    if rule not in EDGE_SCORES:
        raise ValueError(f"rule must be one of {EDGE_SCORES}, got {rule!r}.")
    members = np.array(sorted(int(o) for g in groups for o in g))
    sub, _ = _check_dist(dist, members)
    local = {int(o): k for k, o in enumerate(members)}
    w = within_distance(sub, [[local[int(o)] for o in g] for g in groups])
    return float(np.triu(sub, 1).sum() - w) if rule == "cross" else -w
