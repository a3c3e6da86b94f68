"""Known rows, their labels and unlabelled rows, from either calling convention of ``fit``.

Novel class discovery (Troisemaine et al., arXiv:2311.05440) trains on labelled rows of known
classes and unlabelled rows of novel classes. Every estimator of :mod:`diversa.learners.ncd`
takes them as ``fit(X_known, y_known, X_unlabelled)`` or, scikit-learn's semi-supervised
convention, as ``fit(X, y)`` with ``y == unknown_label`` on the unlabelled rows; ``fit(X)``
means every row is unlabelled (plain clustering).
"""

from __future__ import annotations

import numbers
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, validate_data


class NCDData(NamedTuple):
    """Rows of one NCD problem: known ``X_known (n_k, d)``, their labels ``y_known (n_k,)`` and the
    unlabelled ``X_unlabelled (n_u, d)``."""

    X_known: np.ndarray
    y_known: np.ndarray
    X_unlabelled: np.ndarray


def split_known_unlabelled(estimator, X, y=None, X_unlabelled=None, *, unknown_label=-1, reset: bool = True,
                           cluster_all_if_none_unlabelled: bool = True) -> NCDData:
    """Validate and split one NCD problem (sets ``n_features_in_`` on ``estimator`` when ``reset``).

    * ``X_unlabelled`` given: ``X, y`` are the known rows; ``y`` may not contain ``unknown_label``.
    * ``y`` given alone: rows with ``y == unknown_label`` are unlabelled. When no row is, there
      is nothing marked novel: with ``cluster_all_if_none_unlabelled`` every row is clustered
      (with a warning, as scikit-learn's self-training warns on fully labelled ``y``),
      otherwise the unlabelled set is empty.
    * neither: every row of ``X`` is unlabelled and there are no known classes.
    """
    if X_unlabelled is not None:
        if y is None:
            raise ValueError("y is required with X_unlabelled: X, y are then the known rows and their labels.")
        X, y = validate_data(estimator, X, y, reset=reset, dtype=np.float64)
        _check_labels(y)
        if np.any(_is_unknown(y, unknown_label)):
            raise ValueError(f"y holds unknown_label={unknown_label!r} although X_unlabelled is given: with "
                             "X_unlabelled, X and y are the known rows and every one needs its class.")
        X_u = check_array(X_unlabelled, dtype=np.float64, input_name="X_unlabelled", ensure_min_samples=0)
        if X_u.shape[0] == 0:
            raise ValueError("X_unlabelled has no rows: there is nothing to discover novel classes in.")
        if X_u.shape[1] != X.shape[1]:
            raise ValueError(f"X_unlabelled has {X_u.shape[1]} features but X has {X.shape[1]}.")
        return NCDData(X, y, X_u)
    if y is None:
        X = validate_data(estimator, X, reset=reset, dtype=np.float64)
        return NCDData(X[:0], np.empty(0, dtype=np.int64), X)
    X, y = validate_data(estimator, X, y, reset=reset, dtype=np.float64)
    _check_labels(y)
    unknown = _is_unknown(y, unknown_label)
    if not unknown.any() and cluster_all_if_none_unlabelled:
        warnings.warn(f"y marks no row as unlabelled (unknown_label={unknown_label!r}); every row of X is "
                      "clustered. Mark the novel rows with unknown_label or pass them as X_unlabelled.",
                      UserWarning, stacklevel=3)
        return NCDData(X, y, X)
    return NCDData(X[~unknown], y[~unknown], X[unknown])


def _check_labels(y) -> None:
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    if y.size:
        check_classification_targets(y)


def _is_unknown(y: np.ndarray, unknown_label) -> np.ndarray:
    # object / string labels compare elementwise; a numeric unknown_label against strings is never equal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return np.asarray(y == unknown_label, dtype=bool).reshape(y.shape)


def check_n_rows(X: np.ndarray, n_clusters: int, name: str = "X_unlabelled") -> None:
    """Clustering ``n_clusters`` groups needs at least that many rows."""
    if X.shape[0] < max(n_clusters, 1):
        raise ValueError(f"{name} has {X.shape[0]} sample(s) but n_clusters={n_clusters} clusters are asked for "
                         "(n_samples must be >= n_clusters).")


def check_n_clusters(n_clusters) -> None:
    """``n_clusters`` is ``"auto"`` (estimated) or a positive int."""
    if isinstance(n_clusters, str) and n_clusters == "auto":
        return
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral) or n_clusters < 1:
        raise ValueError(f"n_clusters must be 'auto' or a positive int, got {n_clusters!r}.")


def class_ids(y_known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Known classes (sorted) and each known row's index into them."""
    classes, ids = np.unique(y_known, return_inverse=True)
    return classes, ids.reshape(-1)


def class_means(X: np.ndarray, ids: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean row of every class ``(n_classes, d)``."""
    counts = np.bincount(ids, minlength=n_classes).astype(float)
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, ids, X)
    return sums / counts[:, None]
