"""The sequence blaster: split a global batch into balanced micro-batches.

FlexSP (Wang et al., arXiv:2412.01523, section 5.1): the global batch is
too large to plan in one MILP, and too large to run at once, so it is cut
into micro-batches run one after another. Sorting the lengths (longest first)
and cutting the sorted order into consecutive chunks that minimise the largest
chunk's token count (the linear-partition problem, solved exactly by dynamic
programming) keeps similar lengths together and balances memory. The
smallest useful number of micro-batches is the total tokens over the cluster's
capacity, raised until every chunk fits (:func:`min_micro_batches`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from diversa.systems.seqpar.bucketing import _as_lengths


def _chunk_sums(lens: np.ndarray) -> np.ndarray:
    """(n + 1, n + 1) matrix of sum(lens[i:j]), infinite where the chunk would be empty."""
    n = len(lens)
    prefix = np.concatenate([[0.0], np.cumsum(lens, dtype=float)])
    i = np.arange(n + 1)[:, None]
    j = np.arange(n + 1)[None, :]
    return np.where(i < j, prefix[None, :] - prefix[:, None], np.inf)


def _dp_rounds(lens: np.ndarray):
    """Yield, for 1, 2, ... chunks, (best, start): best[j] = least largest chunk sum of lens[:j],
    start[j] = where the last chunk of that split starts (dp[c, j] = min_i max(dp[c-1, i], S[j] - S[i]))."""
    n = len(lens)
    chunk = _chunk_sums(lens)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    while True:
        totals = np.maximum(best[:, None], chunk)
        start = np.argmin(totals, axis=0)            # the first best start: deterministic ties
        best = totals[start, np.arange(n + 1)]
        yield best, start


def _min_max_cuts(lens: np.ndarray, n_chunks: int) -> list[int]:
    """End positions (exclusive) of ``n_chunks`` consecutive non-empty chunks of ``lens``
    minimising the largest chunk sum."""
    rounds = _dp_rounds(lens)
    starts = [next(rounds)[1] for _ in range(n_chunks)]
    ends, end = [], len(lens)
    for start in reversed(starts):
        ends.append(end)
        end = int(start[end])
    return ends[::-1]


def chunk_global_batch(lens: Sequence[int], n_micro: int, *, sort: bool = True) -> list[np.ndarray]:
    """Split ``lens`` into ``n_micro`` micro-batches of consecutive sequences, minimising the
    largest micro-batch's token count. Returns index arrays into ``lens``.

    ``sort=True`` (the authors' ``sort_consec``) orders the lengths longest first before
    cutting; ``sort=False`` (their ``distribution``) cuts the given order.
    FlexSP's sequence blaster (arXiv:2412.01523, section 5.1). ``lens``: (n,) positive integers,
    ``1 <= n_micro <= n``.
    """
    lens = _as_lengths(lens)
    if isinstance(n_micro, bool) or not isinstance(n_micro, (int, np.integer)) or n_micro < 1:
        raise ValueError(f"n_micro must be a positive integer, got {n_micro!r}.")
    if lens.size == 0:
        return []
    if n_micro > lens.size:
        raise ValueError(f"n_micro = {n_micro} exceeds the {lens.size} sequences; every micro-batch needs one.")
    order = np.argsort(-lens, kind="stable") if sort else np.arange(lens.size)
    ends = _min_max_cuts(lens[order], int(n_micro))
    chunks, start = [], 0
    for end in ends:
        chunks.append(order[start:end])
        start = end
    return chunks


def min_micro_batches(lens: Sequence[int], cluster_tokens: float, *, sort: bool = True) -> int:
    """Fewest micro-batches whose balanced chunks (:func:`chunk_global_batch`) each hold at most
    ``cluster_tokens`` tokens; the length of ``lens`` when no split fits (a sequence too long).

    At least ``ceil(sum(lens) / cluster_tokens)``, as in the authors' planner; the balanced split
    minimises the largest chunk, so it fits exactly when any split into that many chunks does.
    """
    lens = _as_lengths(lens)
    if lens.size == 0:
        return 0
    order = np.argsort(-lens, kind="stable") if sort else np.arange(lens.size)
    floor = max(1, math.ceil(int(lens.sum()) / cluster_tokens))
    for n, (best, _) in enumerate(_dp_rounds(lens[order]), start=1):
        if n >= lens.size or (n >= floor and best[-1] <= cluster_tokens):
            return min(n, int(lens.size))
    raise AssertionError("unreachable")
