"""Spectral clustering with the minimum-spanning-tree kernel width, and its NCD version.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data",
arXiv:2311.05440, Section 3.3, spec ``tabular.md#practical-ncd``.

Kernel width ("min_dist"): with ``D2max`` the longest edge of the minimum spanning tree over
squared Euclidean distances, ``sigma = sqrt(-D2max / ln(min_dist))`` and the affinity
``A_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))`` (zero diagonal) gives that edge the affinity
``sqrt(min_dist)``: every tree edge keeps at least that much, so the graph stays connected.
The embedding is the eigenvectors of the normalised Laplacian ``I - D^-1/2 A D^-1/2``
(:func:`scipy.sparse.csgraph.laplacian`, isolated nodes get degree 1) for the
``n_components`` smallest eigenvalues after the first, and its rows are clustered with NCD
k-means. NCD spectral clustering embeds unlabelled and known rows together and either keeps the
known classes' mean embeddings as fixed centroids (``assign="known_centroids"``, the
class-method variant) or clusters all rows into ``|C_l| + k`` groups and reads off the
unlabelled rows' groups (``assign="joint"``, the notebook variant). ``min_dist`` and
``n_components`` are tuned on the known rows, whose labels are available (``known_accuracy_``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.linalg import eigh
from scipy.sparse.csgraph import laplacian, minimum_spanning_tree
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils.validation import check_array, check_random_state

from diversa.learners.ncd._data import (
    check_n_clusters,
    check_n_rows,
    class_ids,
    class_means,
    split_known_unlabelled,
)
from diversa.learners.ncd.matching import clustering_accuracy
from diversa.learners.ncd.n_clusters import check_k_range, estimate_n_clusters
from diversa.learners.ncd.ncd_kmeans import ncd_kmeans

__all__ = ["NCDSpectralClustering", "laplacian_embedding", "min_dist_affinity", "min_dist_sigma"]

ASSIGN = ("known_centroids", "joint")


def _check_min_dist(min_dist) -> float:
    if isinstance(min_dist, bool) or not isinstance(min_dist, numbers.Real) or not 0 < min_dist < 1:
        raise ValueError(f"min_dist must be in (0, 1), got {min_dist!r}.")
    return float(min_dist)


def min_dist_sigma(distances, min_dist: float = 0.5) -> float:
    """Kernel width that gives the longest minimum-spanning-tree edge the affinity ``sqrt(min_dist)``.

    ``distances (n, n)``: pairwise Euclidean distances. The tree is built over squared
    distances (zero entries, i.e. duplicate rows, are not edges).
    """
    min_dist = _check_min_dist(min_dist)
    distances = check_array(distances, dtype=np.float64, input_name="distances")
    tree = minimum_spanning_tree(distances ** 2)
    if tree.nnz == 0:
        raise ValueError("the rows are all identical: no spanning-tree edge to set the kernel width.")
    return math.sqrt(-tree.data.max() / math.log(min_dist))


def min_dist_affinity(X, min_dist: float = 0.5) -> tuple[np.ndarray, float]:
    """Gaussian affinity ``(n, n)`` of the rows of ``X (n, d)`` with the min_dist kernel width, and sigma."""
    X = check_array(X, dtype=np.float64, input_name="X")
    distances = euclidean_distances(X)
    sigma = min_dist_sigma(distances, min_dist)
    A = np.exp(-distances ** 2 / (2 * sigma ** 2))
    np.fill_diagonal(A, 0.0)
    return A, sigma


def laplacian_embedding(A, n_components: int) -> np.ndarray:
    """Rows embedded by eigenvectors 2..n_components+1 of the normalised Laplacian of ``A (n, n)``.

    Returns ``(n, n_components)``; the first (trivial) eigenvector is dropped.
    """
    A = check_array(A, dtype=np.float64, input_name="A")
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral) or n_components < 1:
        raise ValueError(f"n_components must be a positive int, got {n_components!r}.")
    if n_components >= A.shape[0]:
        raise ValueError(f"n_components={n_components} must be below the number of rows {A.shape[0]} "
                         "(the first eigenvector is dropped).")
    L = laplacian(A, normed=True)
    _, vectors = eigh(L, subset_by_index=[0, n_components])
    return vectors[:, 1:]


class NCDSpectralClustering(ClusterMixin, BaseEstimator):
    """Spectral clustering of the unlabelled rows, guided by the known classes when there are any.

    Parameters
    ----------
    n_clusters : "auto" or int, number of novel clusters; "auto" estimates it in the spectral
        embedding of the unlabelled rows (needs an int ``n_components``).
    n_components : int or None, embedding width; None: ``n_clusters`` plus the number of known classes.
    min_dist : float in (0, 1), the kernel-width rule.
    assign : "known_centroids" (fixed known centroids, NCD k-means) or "joint" (k-means of all rows).
    k_range, k_index, k_repeats : the estimate of the number of novel classes.
    n_init : NCD k-means restarts. unknown_label, random_state : as :class:`NCDKMeans`.

    Attributes
    ----------
    labels_ (n_u,) the novel cluster of every unlabelled row, embedding_ (n_u + n_k, m) (unlabelled
    rows first), sigma_, known_classes_, n_novel_classes_, k_estimate_, known_accuracy_ (Hungarian
    accuracy of the known rows' groups against their classes: the tuning score; nan without known
    rows), n_features_in_. Spectral clustering is transductive: there is no ``predict``.
    """

    def __init__(self, n_clusters="auto", n_components=None, min_dist=0.5, assign="known_centroids",
                 k_range=(2, 30), k_index="silhouette", k_repeats=3, n_init=10, unknown_label=-1, random_state=None):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.min_dist = min_dist
        self.assign = assign
        self.k_range = k_range
        self.k_index = k_index
        self.k_repeats = k_repeats
        self.n_init = n_init
        self.unknown_label = unknown_label
        self.random_state = random_state

    def _check_params(self) -> None:
        check_n_clusters(self.n_clusters)
        check_k_range(self.k_range)
        _check_min_dist(self.min_dist)
        if self.assign not in ASSIGN:
            raise ValueError(f"assign must be one of {ASSIGN}, got {self.assign!r}.")
        if self.n_clusters == "auto" and self.n_components is None:
            raise ValueError("n_components must be an int when n_clusters='auto' (k is estimated in the embedding).")

    def fit(self, X, y=None, X_unlabelled=None):
        """Embed unlabelled and known rows together and cluster the unlabelled ones.

        The calling conventions are :class:`~diversa.learners.ncd.NCDKMeans`'s.
        """
        self._check_params()
        X_known, y_known, X_u = split_known_unlabelled(self, X, y, X_unlabelled, unknown_label=self.unknown_label)
        check_n_rows(X_u, 2 if self.n_clusters == "auto" else self.n_clusters)
        if X_u.shape[0] < 2:
            raise ValueError(f"{X_u.shape[0]} sample(s) to cluster: spectral clustering needs at least 2 "
                             "unlabelled rows.")
        rng = check_random_state(self.random_state)
        self.known_classes_, ids = class_ids(y_known)
        n_known = self.known_classes_.size
        A, self.sigma_ = min_dist_affinity(np.vstack([X_u, X_known]), self.min_dist)
        m = self.n_components if self.n_components is not None else self.n_clusters + n_known
        self.embedding_ = laplacian_embedding(A, int(m))
        E_u, E_k = self.embedding_[:X_u.shape[0]], self.embedding_[X_u.shape[0]:]
        self.k_estimate_ = None
        k = self.n_clusters
        if k == "auto":
            self.k_estimate_ = estimate_n_clusters(E_u, self.k_range, index=self.k_index, n_repeats=self.k_repeats,
                                                   n_init=self.n_init, random_state=rng.randint(2**31 - 1))
            k = self.k_estimate_.n_clusters
        self.n_novel_classes_ = int(k)
        self.labels_, known_groups = self._assign(E_u, E_k, ids, n_known, int(k), rng)
        self.known_accuracy_ = clustering_accuracy(ids, known_groups) if n_known else float("nan")
        return self

    def _assign(self, E_u, E_k, ids, n_known, k, rng) -> tuple[np.ndarray, np.ndarray]:
        """Novel clusters of the unlabelled rows and the group of every known row."""
        if self.assign == "joint" or n_known == 0:
            run = ncd_kmeans(np.vstack([E_u, E_k]), k + n_known, n_init=self.n_init, random_state=rng)
            novel = run.labels[:E_u.shape[0]]
            return np.unique(novel, return_inverse=True)[1].reshape(-1), run.labels[E_u.shape[0]:]
        known_centroids = class_means(E_k, ids, n_known)
        run = ncd_kmeans(E_u, k, known_centroids, n_init=self.n_init, random_state=rng)
        # a known row's group: its nearest centroid among the known and the novel ones
        centroids = np.vstack([known_centroids, run.centers])
        return run.labels, euclidean_distances(E_k, centroids).argmin(axis=1)

    def fit_predict(self, X, y=None, X_unlabelled=None):
        """Fit and return the novel cluster of every unlabelled row ``(n_u,)``."""
        return self.fit(X, y, X_unlabelled).labels_
