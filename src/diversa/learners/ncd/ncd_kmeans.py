"""NCD k-means: k-means on the unlabelled rows that keeps the known classes' centroids fixed.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data",
arXiv:2311.05440, Section 3.2, spec ``tabular.md#practical-ncd``. The known centroids are the
class means of the labelled rows and never move. The novel centroids are seeded k-means++
style: a row is drawn with probability proportional to its distance (the official code's
choice, not the squared distance of k-means++) to the nearest centroid among the known ones and
the novel ones drawn so far, so seeds avoid regions the known classes already explain. Lloyd
iterations then move only the novel centroids (a centroid left without rows stays put) until
``(sum of centroid shifts)^2 < tol`` or ``max_iter``; of ``n_init`` restarts the one with the
lowest inertia, the sum of distances (not squared) to the nearest novel centroid, wins.
Without known classes it is k-means with distance-proportional seeding.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils.validation import check_array, check_is_fitted, check_random_state, validate_data

from diversa.learners.ncd._data import (
    check_n_clusters,
    check_n_rows,
    class_ids,
    class_means,
    split_known_unlabelled,
)
from diversa.learners.ncd.n_clusters import check_k_range, estimate_n_clusters

__all__ = ["NCDKMeans", "NCDKMeansResult", "ncd_kmeans", "seed_novel_centroids"]


class NCDKMeansResult(NamedTuple):
    """Novel ``centers (k, d)``, each row's ``labels (n,)``, ``inertia`` (sum of distances), ``n_iter``."""

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int


def seed_novel_centroids(X: np.ndarray, n_clusters: int, known_centroids: np.ndarray | None,
                         rng: np.random.RandomState) -> np.ndarray:
    """Draw ``n_clusters`` rows of ``X (n, d)`` as seeds, each with probability proportional to its
    distance to the nearest known or already drawn centroid (uniform first draw without known ones)."""
    anchors = np.empty((0, X.shape[1])) if known_centroids is None else known_centroids
    chosen: list[int] = []
    if anchors.shape[0] == 0:
        chosen.append(int(rng.randint(X.shape[0])))
    nearest = np.full(X.shape[0], np.inf)
    if anchors.shape[0]:
        nearest = euclidean_distances(X, anchors).min(axis=1)
    while len(chosen) < n_clusters:
        if chosen:
            nearest = np.minimum(nearest, euclidean_distances(X, X[chosen[-1:]]).ravel())
        total = nearest.sum()
        # every row sits on a centroid: no row is farther than another, draw uniformly
        p = nearest / total if total > 0 else None
        chosen.append(int(rng.choice(X.shape[0], p=p)))
    return X[chosen].copy()


def _lloyd(X: np.ndarray, centers: np.ndarray, max_iter: int, tol: float) -> NCDKMeansResult:
    k = centers.shape[0]
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        labels = euclidean_distances(X, centers).argmin(axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, X)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centers)
        shift = np.sqrt(((moved - centers) ** 2).sum(axis=1)).sum()
        centers = moved
        if shift ** 2 < tol:
            break
    distances = euclidean_distances(X, centers)
    labels = distances.argmin(axis=1)
    return NCDKMeansResult(centers, labels, float(distances[np.arange(X.shape[0]), labels].sum()), n_iter)


def ncd_kmeans(X, n_clusters: int, known_centroids=None, *, n_init: int = 10, max_iter: int = 1000,
               tol: float = 1e-10, random_state=None) -> NCDKMeansResult:
    """Cluster the unlabelled rows ``X (n, d)`` into ``n_clusters`` novel clusters around fixed
    ``known_centroids (c, d)`` (or none); the restart with the lowest inertia wins."""
    X = check_array(X, dtype=np.float64, input_name="X")
    _check_positive_int(n_clusters, "n_clusters")
    _check_positive_int(n_init, "n_init")
    _check_positive_int(max_iter, "max_iter")
    if not (isinstance(tol, numbers.Real) and tol >= 0):
        raise ValueError(f"tol must be a non-negative float, got {tol!r}.")
    check_n_rows(X, n_clusters, "X")
    if known_centroids is not None:
        known_centroids = check_array(known_centroids, dtype=np.float64, input_name="known_centroids",
                                      ensure_min_samples=0)
        if known_centroids.shape[1] != X.shape[1]:
            raise ValueError(f"known_centroids has {known_centroids.shape[1]} features but X has {X.shape[1]}.")
    rng = check_random_state(random_state)
    best = None
    for _ in range(n_init):
        seeds = seed_novel_centroids(X, n_clusters, known_centroids, rng)
        run = _lloyd(X, seeds, max_iter, tol)
        if best is None or run.inertia < best.inertia:
            best = run
    return best


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


class NCDKMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """NCD k-means: novel clusters of the unlabelled rows around the known classes' fixed centroids.

    Parameters
    ----------
    n_clusters : "auto" or int, number of novel clusters; "auto" estimates it on the unlabelled
        rows with ``k_index`` over ``k_range`` (``k_repeats`` k-means runs per k).
    k_range, k_index, k_repeats : the estimate of the number of novel classes.
    n_init, max_iter, tol : restarts and Lloyd stopping rule (``(sum of shifts)^2 < tol``).
    unknown_label : the label of unlabelled rows in ``y`` (``fit(X, y)`` convention).
    random_state : int, RandomState or None.

    Attributes
    ----------
    known_classes_ (c,), known_centroids_ (c, d), cluster_centers_ (k, d) the novel centroids,
    labels_ (n_u,) the novel cluster of every unlabelled row, inertia_ (sum of distances),
    n_iter_, n_novel_classes_ (k), k_estimate_ (:class:`KEstimate` or None), n_features_in_.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(n_samples=300, centers=6, cluster_std=0.5, random_state=0)
    >>> known = y < 3
    >>> model = NCDKMeans(n_clusters="auto", k_range=(2, 6), random_state=0).fit(X[known], y[known], X[~known])
    >>> model.n_novel_classes_, model.labels_.shape
    (3, (150,))
    """

    def __init__(self, n_clusters="auto", k_range=(2, 30), k_index="silhouette", k_repeats=3, n_init=10,
                 max_iter=1000, tol=1e-10, unknown_label=-1, random_state=None):
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.k_index = k_index
        self.k_repeats = k_repeats
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.unknown_label = unknown_label
        self.random_state = random_state

    def fit(self, X, y=None, X_unlabelled=None):
        """Fit on known rows ``X (n_k, d)``, ``y (n_k,)`` and ``X_unlabelled (n_u, d)``, or on
        ``X, y`` with ``y == unknown_label`` marking the unlabelled rows, or on ``X`` alone."""
        check_n_clusters(self.n_clusters)
        check_k_range(self.k_range)
        X_known, y_known, X_u = split_known_unlabelled(self, X, y, X_unlabelled, unknown_label=self.unknown_label)
        rng = check_random_state(self.random_state)
        self.known_classes_, ids = class_ids(y_known)
        self.known_centroids_ = class_means(X_known, ids, self.known_classes_.size)
        self.k_estimate_ = None
        k = self.n_clusters
        if k == "auto":
            self.k_estimate_ = estimate_n_clusters(X_u, self.k_range, index=self.k_index, n_repeats=self.k_repeats,
                                                   n_init=self.n_init, random_state=rng.randint(2**31 - 1))
            k = self.k_estimate_.n_clusters
        result = ncd_kmeans(X_u, int(k), self.known_centroids_ if self.known_classes_.size else None,
                            n_init=self.n_init, max_iter=self.max_iter, tol=self.tol, random_state=rng)
        self.cluster_centers_, self.labels_ = result.centers, result.labels
        self.inertia_, self.n_iter_ = result.inertia, result.n_iter
        self.n_novel_classes_ = int(k)
        return self

    def fit_predict(self, X, y=None, X_unlabelled=None):
        """Fit and return the novel cluster of every unlabelled row ``(n_u,)``."""
        return self.fit(X, y, X_unlabelled).labels_

    def transform(self, X):
        """Distances of ``X (n, d)`` to the novel centroids ``(n, k)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return euclidean_distances(X, self.cluster_centers_)

    def predict(self, X):
        """Nearest novel centroid of every row of ``X (n, d)``."""
        return self.transform(X).argmin(axis=1)

    def cluster_novel(self, X_novel, n_clusters=None):
        """Cluster new rows ``X_novel (n, d)`` afresh around the fitted known centroids (transductive);
        ``n_clusters`` defaults to the fitted number of novel classes."""
        check_is_fitted(self)
        X_novel = validate_data(self, X_novel, reset=False, dtype=np.float64)
        k = self.n_novel_classes_ if n_clusters is None else n_clusters
        known = self.known_centroids_ if self.known_classes_.size else None
        return ncd_kmeans(X_novel, k, known, n_init=self.n_init, max_iter=self.max_iter, tol=self.tol,
                          random_state=self.random_state).labels
