"""k-center greedy selection: exact farthest-first traversal, and a clustered version for corpora.

Gonzalez, "Clustering to minimize the maximum intercluster distance", Theoretical
Computer Science 38 (1985): start from one row, then repeatedly add the row
farthest from the rows chosen so far. The result covers the pool within twice
the smallest possible radius for its size (the coverage radius: the largest
distance of any row to its nearest selected row). Sener and Savarese (ICLR
2018) use it as core-set selection; arXiv:2409.11378 Table 2 as a baseline of kMQ.

``mode="exact"`` runs the traversal on every row. Each new centre updates every
row's distance to the selection, except rows the triangle inequality rules out:
a row whose nearest centre ``a`` lies at least twice the row's distance from the
new centre ``c`` cannot move closer (``d(x, c) >= d(a, c) - d(x, a) >= d(x, a)``),
so only the rows of nearby centres are measured. The selection is the one of the
plain O(n * budget * d) loop (first row uniform at random, ties to the lower
index); on clustered data far fewer distances are computed.

``mode="clustered"`` trades the guarantee for corpus scale: k-means on a seeded
sample (:class:`~diversa.data.select.SampledKMeans`) splits the pool; with a
budget up to ``n_clusters`` the traversal runs on the clusters' representatives
(the member nearest each centroid) alone, otherwise every cluster gets a share
of the budget proportional to its size and runs its own traversal, started at
its representative. The cost falls from O(n * budget * d) to about
O(n * (budget / n_clusters) * d) plus the k-means, but rows near a cluster's
border are covered by their own cluster only, so the radius is larger than the
exact one when the budget leaves about one pick per cluster (1.73x on 10k blob
rows with a budget of 200), about the same with several (0.95x on 50k and 200k
rows, 1.01x on 100k x 384 unit-norm blobs where it ran 4x faster than the exact
mode); ``benchmarks/bench_kcenter.py`` measures both with :func:`coverage_radius`.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import BaseSelector, allocate_budget
from .clustering import ASSIGN_BATCH_ROWS, BACKENDS, SampledKMeans, nearest_centroid, resolve_backend

MODES = ("exact", "clustered")
# relative slack of the triangle-inequality test, well above float32 rounding, so that
# rounding never skips a row that the plain loop would update
_PRUNE_SLACK = 1e-4


def _squared_distances(rows, centre, backend):
    if backend == "faiss":
        import faiss

        d2 = faiss.pairwise_distances(centre[None, :].astype(np.float32),
                                      np.ascontiguousarray(rows, dtype=np.float32))[0]
        return np.maximum(d2, 0.0)  # faiss may round a zero distance below zero
    diff = rows - centre
    return np.einsum("ij,ij->i", diff, diff)


def k_center_greedy(X, budget: int, first: int, *, backend: str = "sklearn") -> np.ndarray:
    """Farthest-first traversal of the rows of ``X`` (n, d) from row ``first``: int64 (budget,).

    Exact: the order of the plain loop (ties to the lower index), with the
    triangle inequality sparing rows that a new centre cannot reach. Distances
    are computed in ``X``'s dtype (``backend="sklearn"``, numpy) or in float32
    by faiss (``backend="faiss"``). Each step also measures the new centre
    against the earlier ones, O(budget^2 * d) in all, small next to the
    O(n * budget * d) of the plain loop while the budget is below n.
    """
    n = X.shape[0]
    nearest_sq = np.full(n, np.inf)  # squared distance of each row to the selection
    reach = np.full(n, np.inf)  # twice that distance: farther centres cannot come closer
    owner = np.zeros(n, dtype=np.int64)  # position in `chosen` of that nearest centre
    chosen = np.empty(budget, dtype=np.int64)
    centres = np.empty((budget, X.shape[1]), dtype=X.dtype)
    nxt = int(first)
    for i in range(budget):
        chosen[i] = nxt
        centres[i] = X[nxt]
        rows = None
        if i > 0:
            # the new centre's distance to every earlier centre, then one test per row
            gap = np.sqrt(_squared_distances(centres[:i], centres[i], backend).astype(np.float64))
            rows = np.flatnonzero(gap[owner] < reach)
        if rows is None or rows.size > n // 2:
            # measuring every row is exact too, and cheaper than gathering most of them
            rows, d2 = np.arange(n), _squared_distances(X, centres[i], backend).astype(np.float64)
        else:
            d2 = _squared_distances(X[rows], centres[i], backend).astype(np.float64)
        improved = d2 < nearest_sq[rows]
        closer = rows[improved]
        nearest_sq[closer] = d2[improved]
        reach[closer] = 2.0 * np.sqrt(nearest_sq[closer]) * (1.0 + _PRUNE_SLACK)
        owner[closer] = i
        nearest_sq[nxt] = -1.0  # chosen rows are never picked again, nor measured
        reach[nxt] = -1.0
        nxt = int(np.argmax(nearest_sq))
    return chosen


def coverage_radius(X, selected, *, batch_size: int = ASSIGN_BATCH_ROWS) -> float:
    """Largest Euclidean distance of a row of ``X`` (n, d) to its nearest ``selected`` row:
    the k-center objective (lower covers the pool better). Exact, in row batches."""
    X = np.asarray(X)
    selected = np.asarray(selected, dtype=np.int64)
    if selected.ndim != 1 or selected.size == 0:
        raise ValueError("selected must be a non-empty 1-D array of row indices")
    _, dist = nearest_centroid(X, X[selected], backend="sklearn", batch_size=batch_size)
    return float(dist.max())


class KCenterGreedySelector(BaseSelector):
    """k-Center greedy: farthest-first traversal, the baseline of arXiv:2409.11378 Table 2.

    Parameters
    ----------
    mode : {"exact", "clustered"}
        ``"exact"``: the traversal on every row (first row uniform at random),
        within twice the optimal coverage radius; time about O(n * budget * d)
        in the worst case, much less on clustered data. ``"clustered"``: k-means
        first, then the traversal on cluster representatives or within each
        cluster (see the module docstring): for pools where the exact traversal
        is too slow, at the cost of a larger coverage radius.
    n_clusters : int or None
        k of ``mode="clustered"``; None means ``min(budget, round(sqrt(n)))``.
    backend : {"auto", "faiss", "sklearn"}
        faiss (float32 distances, faiss k-means) or numpy and scikit-learn;
        ``"auto"``: faiss when installed.
    random_state : int, RandomState or None
        Seeds the first row (exact) or the k-means and the first representative (clustered).

    After ``select`` with ``mode="clustered"``: ``labels_`` (n,), ``cluster_centers_`` (k, d),
    ``budgets_`` (k,).
    """

    def __init__(self, mode="exact", *, n_clusters=None, backend="auto", random_state=None):
        self.mode = mode
        self.n_clusters = n_clusters
        self.backend = backend
        self.random_state = random_state

    def fit(self, X, y=None, *, quality=None, domains=None):
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'exact' or 'clustered', got {self.mode!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        k = self.n_clusters
        if not (k is None or (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1)):
            raise ValueError(f"n_clusters must be a positive int or None, got {k!r}")
        resolve_backend(self.backend)  # ImportError now when faiss is asked for and missing
        self._X, _, _ = self._validate(X, quality, domains)
        if isinstance(k, (int, np.integer)) and k > self._X.shape[0]:
            raise ValueError(f"n_clusters={k} exceeds the number of rows ({self._X.shape[0]})")
        return self

    def _select(self, b):
        rng = self._rng()
        backend = resolve_backend(self.backend)
        if self.mode == "exact":
            return k_center_greedy(self._X, b, int(rng.randint(self._X.shape[0])), backend=backend)
        return self._select_clustered(b, rng, backend)

    def _select_clustered(self, b, rng, backend):
        X = self._X
        n = X.shape[0]
        k = self.n_clusters if self.n_clusters is not None else min(b, max(1, round(math.sqrt(n))))
        km = SampledKMeans(int(k), backend=backend, random_state=rng).fit(X)
        labels, dist = km.predict(X, return_distance=True)
        sizes = np.bincount(labels, minlength=k)
        grouped = np.argsort(labels, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        members = [grouped[starts[j]:starts[j + 1]] for j in range(k)]
        # each non-empty cluster's representative: its member nearest the centroid
        reps = np.array([m[np.argmin(dist[m])] if m.size else -1 for m in members])
        filled = np.flatnonzero(sizes)
        self.labels_, self.cluster_centers_ = labels, km.cluster_centers_
        if b <= filled.size:
            first = int(rng.randint(filled.size))
            order = k_center_greedy(X[reps[filled]], b, first, backend=backend)
            budgets = np.zeros(k, dtype=np.int64)
            budgets[filled[order]] = 1
            self.budgets_ = budgets
            return reps[filled[order]]
        self.budgets_ = allocate_budget(sizes, b, "proportional")
        out = []
        for j in np.flatnonzero(self.budgets_):
            first = int(np.flatnonzero(members[j] == reps[j])[0])
            local = k_center_greedy(X[members[j]], int(self.budgets_[j]), first, backend=backend)
            out.append(members[j][local])
        return np.concatenate(out)
