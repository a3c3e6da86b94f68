"""Batches built from data groups in given proportions, for any training loop.

A mixture ``p`` over ``m`` groups becomes exact per-group counts
``round(p * batch_size)`` (largest remainder, so they sum to the batch size),
as in the Aioli trainer (Chen et al., arXiv:2411.05735); each group is read in
reshuffled passes, without replacement within a pass.

>>> s = GroupSampler([[0, 1, 2], [3, 4], [5, 6, 7, 8]], random_state=0)
>>> s.counts([0.5, 0.25, 0.25], 8).tolist()
[4, 2, 2]
>>> idx = s.sample([0.5, 0.0, 0.5], 4)
>>> sorted(s.group_of(idx).tolist())
[0, 0, 2, 2]
"""

from __future__ import annotations

import numpy as np

from diversa.data.mix._checks import check_positive_int, check_proportions

__all__ = ["GroupSampler", "mixture_counts"]


def mixture_counts(p, batch_size: int) -> np.ndarray:
    """Per-group counts summing to ``batch_size``: floor of ``p * n`` plus the largest remainders."""
    p = check_proportions(p, "p")
    n = check_positive_int(batch_size, "batch_size")
    raw = p * n
    counts = np.floor(raw).astype(np.int64)
    short = n - int(counts.sum())
    if short:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


class GroupSampler:
    """Draw row indices group by group.

    ``groups``: a sequence of index arrays (one per group) into a dataset, or a
    1-D array of group labels ``0..m-1`` per row (``from_labels``). A group with
    no rows is an error (a mixture could ask for it).
    """

    def __init__(self, groups, random_state=None):
        if isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__"):
            raise TypeError(f"groups must be a sequence of index arrays, got {type(groups).__name__}.")
        if len(groups) == 0:
            raise ValueError("groups must hold at least one group.")
        self.groups = []
        for g, rows in enumerate(groups):
            rows = np.asarray(rows)
            if rows.ndim != 1 or rows.size == 0:
                raise ValueError(f"groups[{g}] has no data: every group needs at least one row.")
            if not np.issubdtype(rows.dtype, np.integer):
                raise TypeError(f"groups[{g}] must hold integer row indices, got dtype {rows.dtype}.")
            self.groups.append(rows.astype(np.int64))
        self.rng = np.random.default_rng(random_state)
        self._perm = [self.rng.permutation(r) for r in self.groups]
        self._pos = [0] * len(self.groups)
        self._owner = np.concatenate([np.full(r.size, g) for g, r in enumerate(self.groups)])
        self._rows = np.concatenate(self.groups)

    @classmethod
    def from_labels(cls, labels, n_groups: int | None = None, random_state=None) -> GroupSampler:
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError("labels must be a 1-D array of integer group labels.")
        m = int(labels.max()) + 1 if n_groups is None else check_positive_int(n_groups, "n_groups")
        return cls([np.flatnonzero(labels == g) for g in range(m)], random_state=random_state)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    def counts(self, p, batch_size: int) -> np.ndarray:
        return mixture_counts(check_proportions(p, "p", self.n_groups), batch_size)

    def _take(self, g: int, k: int) -> np.ndarray:
        out = []
        while k > 0:
            perm, pos = self._perm[g], self._pos[g]
            chunk = perm[pos:pos + k]
            out.append(chunk)
            k -= chunk.size
            self._pos[g] = pos + chunk.size
            if self._pos[g] >= perm.size:
                self._perm[g], self._pos[g] = self.rng.permutation(self.groups[g]), 0
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def sample(self, p, batch_size: int) -> np.ndarray:
        """Row indices of one batch with exact per-group counts for mixture ``p``."""
        counts = self.counts(p, batch_size)
        return np.concatenate([self._take(g, int(k)) for g, k in enumerate(counts)])

    def group_of(self, rows) -> np.ndarray:
        """Group of each row index (rows must belong to some group)."""
        lookup = dict(zip(self._rows.tolist(), self._owner.tolist()))
        return np.array([lookup[int(r)] for r in np.asarray(rows).ravel()])
