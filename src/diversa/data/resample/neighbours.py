"""k nearest neighbours of each sample within its own class.

SMOTE (Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority
Over-sampling Technique", JAIR 16 (2002), arXiv:1106.1813) interpolates
between a minority sample and one of its k nearest *minority* neighbours,
the sample itself excluded. The search is delegated to
``sklearn.neighbors.NearestNeighbors`` with its default algorithm choice (the
same choice imbalanced-learn makes), queried without ``X`` so that
scikit-learn drops each point from its own neighbour list. With exact
duplicates scikit-learn removes the point itself rather than the first
zero-distance entry, and ties between equidistant neighbours are ordered by
the chosen algorithm (the spec's "ties by index" holds for the brute-force
search on distinct distances only).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors


def within_class_neighbours(
    X_class: np.ndarray, k_neighbors: int, *, metric: str = "minkowski", n_jobs=None
) -> np.ndarray:
    """Indices of the ``k_neighbors`` nearest other rows of ``X_class``.

    ``X_class`` has shape ``(T, d)`` (or ``(T, T)`` distances when ``metric``
    is ``"precomputed"``); ``T`` must exceed ``k_neighbors``. Returns an int
    array of shape ``(T, k_neighbors)`` whose row ``i`` lists the neighbours of
    row ``i`` from nearest to farthest, as indices into ``X_class``, never
    containing ``i`` itself.
    """
    search = NearestNeighbors(n_neighbors=k_neighbors, metric=metric, n_jobs=n_jobs)
    return search.fit(X_class).kneighbors(return_distance=False)
