"""Clustering accuracy: the share of rows right under the best one-to-one cluster-to-class map.

The metric of novel class discovery (Troisemaine et al., arXiv:2311.05440, spec
``tabular.md#practical-ncd``): ``ACC = max_perm (1/n) sum_i 1[y_i = perm(c_i)]`` over one-to-one
maps from clusters to classes, found with the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`) on the contingency table. With more clusters than
classes (or fewer), the unmatched clusters (classes) count as wrong. It lives beside the
learners because their hyper-parameter tuning scores with it; :mod:`diversa.evaluate.ncd` is its
public home.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics.cluster import contingency_matrix

__all__ = ["clustering_accuracy", "match_clusters"]


def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D, got shapes {y_true.shape} and {y_pred.shape}.")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {y_true.size} and {y_pred.size}.")
    if y_true.size == 0:
        raise ValueError("y_true is empty: clustering accuracy needs at least one row.")
    return y_true, y_pred


def match_clusters(y_true, y_pred) -> dict:
    """The one-to-one map cluster -> class that maximises the rows it gets right.

    ``y_true, y_pred (n,)``: any hashable labels. Clusters left without a class (more clusters
    than classes) are absent from the map.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    classes, clusters = np.unique(y_true), np.unique(y_pred)
    table = contingency_matrix(y_true, y_pred)                 # (n_classes, n_clusters)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return {clusters[c].item(): classes[r].item() for r, c in zip(rows, cols)}


def clustering_accuracy(y_true, y_pred) -> float:
    """Hungarian clustering accuracy of cluster ids ``y_pred (n,)`` against classes ``y_true (n,)``, in [0, 1]."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    table = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / y_true.size)
