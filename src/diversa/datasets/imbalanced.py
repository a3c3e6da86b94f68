"""Synthetic imbalanced classification data with an exact, controllable skew.

:func:`make_imbalanced` wraps :func:`sklearn.datasets.make_classification` but
hits the requested class counts exactly: scikit-learn's ``weights`` argument
only approximates them (rounding per cluster, label noise), which makes
imbalance ratios drift between seeds.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_classification
from sklearn.utils import check_random_state


def imbalanced_class_counts(n_samples: int, n_classes: int, imbalance_ratio: float) -> np.ndarray:
    """Class sizes falling geometrically from the majority to the minority class.

    Class 0 is the largest and class ``n_classes - 1`` the smallest, with
    ``counts[0] / counts[-1] ~= imbalance_ratio``; counts sum to ``n_samples``.

    Returns
    -------
    counts : ndarray of shape (n_classes,), int
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}.")
    if not imbalance_ratio >= 1:
        raise ValueError(f"imbalance_ratio must be >= 1 (majority/minority size), got {imbalance_ratio}.")
    shares = imbalance_ratio ** (-np.arange(n_classes) / (n_classes - 1))
    raw = n_samples * shares / shares.sum()
    counts = np.floor(raw + 1e-9).astype(int)
    # Largest-remainder rounding keeps the sum exact and the sizes non-increasing.
    remainder = n_samples - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:remainder]] += 1
    if counts.min() < 1:
        raise ValueError(
            f"n_samples={n_samples} is too small for imbalance_ratio={imbalance_ratio} "
            f"with {n_classes} classes: the smallest class would be empty."
        )
    return counts


def make_imbalanced(
    n_samples: int = 1000,
    n_features: int = 20,
    *,
    imbalance_ratio: float = 10.0,
    n_classes: int = 2,
    n_informative: int | None = None,
    n_redundant: int = 2,
    class_sep: float = 1.0,
    flip_y: float = 0.0,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-cluster classification data with exact class counts.

    Draws a balanced pool from :func:`sklearn.datasets.make_classification`
    (same geometry: one hypercube vertex cluster per class) and keeps a random
    subset of each class of the size given by :func:`imbalanced_class_counts`.
    Class 0 is the majority and class ``n_classes - 1`` the minority, so in the
    binary case the minority label is 1.

    Parameters
    ----------
    n_samples : total number of rows returned.
    n_features : number of columns.
    imbalance_ratio : size of the largest class divided by the smallest (>= 1).
    n_classes : number of classes (>= 2).
    n_informative : informative features (default ``min(n_features, max(2, n_features // 2))``).
    n_redundant : linear combinations of the informative features.
    class_sep : spacing of the class clusters; smaller is harder.
    flip_y : fraction of labels replaced at random before the subsetting
        (label noise; the final counts stay exact).
    random_state : None, int or RandomState; the output is a pure function of it.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64

    Examples
    --------
    >>> X, y = make_imbalanced(1100, 5, imbalance_ratio=10, random_state=0)
    >>> np.bincount(y).tolist()
    [1000, 100]
    """
    counts = imbalanced_class_counts(n_samples, n_classes, imbalance_ratio)
    if n_informative is None:
        n_informative = min(n_features, max(2, n_features // 2))
    if n_informative + n_redundant > n_features:
        raise ValueError(
            f"n_informative + n_redundant = {n_informative + n_redundant} exceeds n_features={n_features}."
        )
    rng = check_random_state(random_state)
    # A pool with a margin above the largest class, so label noise cannot leave
    # a class short of its target count.
    pool_per_class = int(np.ceil(counts.max() * (1.0 + 2.0 * flip_y))) + 10
    X_pool, y_pool = make_classification(
        n_samples=pool_per_class * n_classes,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=n_redundant,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=class_sep,
        flip_y=flip_y,
        random_state=rng,
    )
    keep = np.concatenate(
        [rng.choice(np.flatnonzero(y_pool == label), size=count, replace=False)
         for label, count in enumerate(counts)]
    )
    rng.shuffle(keep)
    return X_pool[keep], y_pool[keep].astype(np.int64)
