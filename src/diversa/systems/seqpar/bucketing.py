"""Sequence bucketing: group lengths into few buckets with the least padding.

FlexSP (Wang et al., arXiv:2412.01523, section 5.2): the planner's MILP
assigns *buckets* of sequences, each represented by its longest length (its
boundary), so the problem size depends on the number of buckets rather than
sequences. Bucket boundaries over-estimate time and memory; the padding error
``sum_b sum_{s in b} (boundary_b - s)`` is minimised by a dynamic program over
the sorted distinct lengths (the optimal buckets are contiguous ranges of the
sorted lengths). The equal-width alternative of the authors' code is
:func:`even_buckets`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_lengths(lens, name: str = "lens") -> np.ndarray:
    arr = np.asarray(lens)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}.")
    if arr.size and not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}.")
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr < 1) or np.any(arr != np.floor(arr))):
        raise ValueError(f"{name} must hold positive integer lengths.")
    return arr.astype(np.int64)


def padding_error(lens: Sequence[int], groups: Sequence[Sequence[int]]) -> int:
    """Total padding ``sum_g (len(g) * max_g - sum_g)`` of grouping ``lens`` by index lists ``groups``."""
    lens = np.asarray(lens, dtype=np.int64)
    return int(sum(len(g) * lens[list(g)].max() - lens[list(g)].sum() for g in groups if len(g)))


def _padding_rounds(values: np.ndarray, counts: np.ndarray):
    """Yield, for 1, 2, ... buckets over sorted distinct ``values`` with ``counts``, (best, start):
    best[j] = least padding of the first j values, start[j - 1] = where the last bucket starts.

    One bucket of values i..j-1 costs values[j-1] * sum(counts[i:j]) - sum(values[i:j] * counts[i:j]).
    """
    m = len(values)
    n_count = np.concatenate([[0], np.cumsum(counts)])
    n_mass = np.concatenate([[0], np.cumsum(values * counts)])
    i = np.arange(m)[:, None]          # bucket start
    j = np.arange(1, m + 1)[None, :]   # bucket end (exclusive)
    cost = values[j - 1] * (n_count[j] - n_count[i]) - (n_mass[j] - n_mass[i])
    cost = np.where(i < j, cost, np.inf)
    best = np.full(m + 1, np.inf)
    best[0] = 0.0
    while True:
        totals = best[:m, None] + cost               # (start, end)
        start = np.argmin(totals, axis=0)            # the first best start: deterministic ties
        best = np.concatenate([[np.inf], totals[start, np.arange(m)]])
        yield best, start


def _buckets_from(values, inverse, starts) -> list[tuple[int, np.ndarray]]:
    """Bucket (boundary, members) from the DP's last-bucket starts, one array per round."""
    ends, end = [], len(values)
    for start in reversed(starts):
        ends.append(end)
        end = int(start[end - 1])
    buckets, begin = [], 0
    for end in reversed(ends):
        buckets.append((int(values[end - 1]), np.flatnonzero((inverse >= begin) & (inverse < end))))
        begin = end
    return buckets


def bucket_lengths(lens: Sequence[int], n_buckets: int) -> list[tuple[int, np.ndarray]]:
    """Buckets of ``lens`` with the least total padding: a list of ``(boundary, member indices)``.

    At most ``n_buckets`` buckets (fewer when ``lens`` has fewer distinct values); each
    boundary is its bucket's longest length; buckets are ordered by boundary and their
    members are indices into ``lens`` (equal lengths always share a bucket).
    FlexSP's bucketing DP (arXiv:2412.01523, section 5.2). ``lens``: (n,) positive integers.
    """
    lens = _as_lengths(lens)
    if isinstance(n_buckets, bool) or not isinstance(n_buckets, (int, np.integer)) or n_buckets < 1:
        raise ValueError(f"n_buckets must be a positive integer, got {n_buckets!r}.")
    if lens.size == 0:
        return []
    values, inverse, counts = np.unique(lens, return_inverse=True, return_counts=True)
    rounds = _padding_rounds(values.astype(float), counts.astype(float))
    starts = [next(rounds)[1] for _ in range(min(int(n_buckets), len(values)))]
    return _buckets_from(values, inverse, starts)


def fewest_buckets(lens: Sequence[int], min_buckets: int, max_padding: float) -> list[tuple[int, np.ndarray]]:
    """The least-padding buckets of :func:`bucket_lengths` with the fewest buckets, at least
    ``min_buckets``, whose total padding is at most ``max_padding`` tokens (one bucket per distinct
    length when none is). One DP, grown a bucket at a time: FlexSP adds buckets until the padded
    tokens fit its threshold (arXiv:2412.01523, section 5.2).
    """
    lens = _as_lengths(lens)
    if lens.size == 0:
        return []
    values, inverse, counts = np.unique(lens, return_inverse=True, return_counts=True)
    starts = []
    for k, (best, start) in enumerate(_padding_rounds(values.astype(float), counts.astype(float)), start=1):
        starts.append(start)
        if k >= len(values) or (k >= min_buckets and best[-1] <= max_padding):
            return _buckets_from(values, inverse, starts)
    raise AssertionError("unreachable")


def even_buckets(lens: Sequence[int], n_buckets: int) -> list[tuple[int, np.ndarray]]:
    """Equal-width buckets up to the longest length (the authors' ``even_dist`` option).

    Bucket b holds lengths in ``((b) * w, (b + 1) * w]`` with ``w = ceil(max / n_buckets)``;
    its boundary is ``(b + 1) * w`` capped at the maximum; empty buckets are dropped.
    """
    lens = _as_lengths(lens)
    if isinstance(n_buckets, bool) or not isinstance(n_buckets, (int, np.integer)) or n_buckets < 1:
        raise ValueError(f"n_buckets must be a positive integer, got {n_buckets!r}.")
    if lens.size == 0:
        return []
    top = int(lens.max())
    width = -(-top // int(n_buckets))
    index = (lens - 1) // width
    return [(min(int((b + 1) * width), top), np.flatnonzero(index == b)) for b in np.unique(index)]
