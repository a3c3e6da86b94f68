"""Estimating the number of novel classes with a cluster validity index.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data",
arXiv:2311.05440, spec ``tabular.md#practical-ncd``: the number of novel classes is never
given. Run k-means (k-means++, ``n_init`` restarts) for every ``k`` in ``k_range``, repeat
``n_repeats`` times, and keep the ``k`` whose mean index is best: the silhouette (the official
notebooks' choice; higher is better), or the other indices the paper compares,
Calinski-Harabasz (higher) and Davies-Bouldin (lower), all from scikit-learn. The paper finds
the estimate more reliable in PBN's latent space than in the original features.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.utils.validation import check_array, check_random_state

__all__ = ["INDICES", "KEstimate", "check_k_range", "estimate_k_silhouette", "estimate_n_clusters"]

#: Validity index -> (scikit-learn score, True when higher is better).
INDICES = {
    "silhouette": (silhouette_score, True),
    "calinski_harabasz": (calinski_harabasz_score, True),
    "davies_bouldin": (davies_bouldin_score, False),
}


class KEstimate(NamedTuple):
    """An estimated number of clusters with the curve it was read from.

    ``n_clusters``: the chosen k; ``k_values (m,)``: the k tried; ``scores (m, n_repeats)``: the
    index of every run; ``index``: the validity index's name.
    """

    n_clusters: int
    k_values: np.ndarray
    scores: np.ndarray
    index: str


def check_k_range(k_range) -> tuple[int, int]:
    """``k_range = (k_min, k_max)`` with ``2 <= k_min <= k_max`` (a validity index needs 2 clusters)."""
    try:
        k_min, k_max = k_range
    except (TypeError, ValueError):
        raise ValueError(f"k_range must be a pair (k_min, k_max), got {k_range!r}.") from None
    for k in (k_min, k_max):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ValueError(f"k_range must hold ints, got {k_range!r}.")
    if k_min < 2:
        raise ValueError(f"k_range must start at k_min >= 2 (validity indices compare 2 or more clusters), "
                         f"got k_min={k_min}.")
    if k_max < k_min:
        raise ValueError(f"k_range must have k_max >= k_min, got {k_range!r}.")
    return int(k_min), int(k_max)


def estimate_n_clusters(Z, k_range=(2, 30), *, index: str = "silhouette", n_repeats: int = 3, n_init: int = 10,
                        random_state=None) -> KEstimate:
    """Best number of k-means clusters of ``Z (n, d)`` by a validity index.

    ``k_max`` is capped at ``n - 1`` (the silhouette is undefined for ``k = n``); ties go to the
    smallest k. Every run is seeded from ``random_state``.
    """
    if index not in INDICES:
        raise ValueError(f"index must be one of {sorted(INDICES)}, got {index!r}.")
    k_min, k_max = check_k_range(k_range)
    for name, value in (("n_repeats", n_repeats), ("n_init", n_init)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    Z = check_array(Z, dtype=np.float64, input_name="Z")
    if Z.shape[0] <= k_min:
        raise ValueError(f"Z has {Z.shape[0]} rows; estimating k from k_min={k_min} needs more than k_min rows.")
    k_values = np.arange(k_min, min(k_max, Z.shape[0] - 1) + 1)
    score, higher_is_better = INDICES[index]
    rng = check_random_state(random_state)
    scores = np.empty((k_values.size, n_repeats))
    for i, k in enumerate(k_values):
        for r in range(n_repeats):
            labels = KMeans(n_clusters=int(k), n_init=n_init, random_state=rng.randint(2**31 - 1)).fit_predict(Z)
            # duplicated rows can leave fewer distinct clusters than k; a single cluster cannot be scored
            scores[i, r] = score(Z, labels) if np.unique(labels).size > 1 else np.nan
    mean = np.mean(np.where(np.isnan(scores), -np.inf if higher_is_better else np.inf, scores), axis=1)
    best = int(np.argmax(mean) if higher_is_better else np.argmin(mean))
    return KEstimate(int(k_values[best]), k_values, scores, index)


def estimate_k_silhouette(Z, k_range=(2, 30), n_repeats: int = 3, random_state=None) -> KEstimate:
    """Number of clusters of ``Z (n, d)`` with the best mean silhouette (the official notebooks' estimate)."""
    return estimate_n_clusters(Z, k_range, index="silhouette", n_repeats=n_repeats, random_state=random_state)
