"""Judging novel class discovery: clustering accuracy, NMI, ARI, and tuning without novel labels.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data",
arXiv:2311.05440, spec ``tabular.md#practical-ncd``. The novel classes' clusters are scored
with the Hungarian clustering accuracy (:func:`clustering_accuracy`), normalised mutual
information and the adjusted Rand index (scikit-learn's). :func:`novel_class_split` hides the
labels of the novel classes; :func:`hidden_class_cv` scores hyper-parameters on hidden KNOWN
classes and :func:`estimate_k_silhouette` estimates the number of novel classes, the two pieces
of the paper's realistic protocol. The Hungarian matching, the tuning and the estimate live in
:mod:`diversa.learners.ncd` (the learners use them) and are re-exported here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.utils.validation import check_array

from diversa.learners.ncd.matching import clustering_accuracy, match_clusters
from diversa.learners.ncd.n_clusters import KEstimate, estimate_k_silhouette, estimate_n_clusters
from diversa.learners.ncd.tuning import hidden_class_cv, hidden_class_folds

__all__ = [
    "KEstimate", "NCDSplit", "NovelClassScores", "clustering_accuracy", "estimate_k_silhouette", "estimate_n_clusters",
    "hidden_class_cv", "hidden_class_folds", "match_clusters", "novel_class_scores", "novel_class_split",
]


class NovelClassScores(NamedTuple):
    """Clustering accuracy, NMI and ARI of novel clusters against the novel classes."""

    acc: float
    nmi: float
    ari: float


def novel_class_scores(y_true, y_pred) -> NovelClassScores:
    """ACC (Hungarian), NMI and ARI of cluster ids ``y_pred (n,)`` against classes ``y_true (n,)``."""
    acc = clustering_accuracy(y_true, y_pred)
    return NovelClassScores(acc, float(normalized_mutual_info_score(y_true, y_pred)),
                            float(adjusted_rand_score(y_true, y_pred)))


class NCDSplit(NamedTuple):
    """An NCD problem cut from a labelled set: known rows and labels, unlabelled rows, and the
    novel labels kept aside for evaluation only (``y_novel``, aligned with ``X_unlabelled``)."""

    X_known: np.ndarray
    y_known: np.ndarray
    X_unlabelled: np.ndarray
    y_novel: np.ndarray


def novel_class_split(X, y, novel_classes, known_classes=None) -> NCDSplit:
    """Split labelled rows ``X (n, d)``, ``y (n,)`` into known classes and novel classes whose labels are hidden.

    ``known_classes`` defaults to every class not in ``novel_classes``; rows of classes in
    neither are dropped. A class may not be both known and novel, and every named class must
    occur in ``y``.
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have one label per row of X ({X.shape[0]}), got shape {y.shape}.")
    present = np.unique(y)
    novel = np.unique(np.asarray(novel_classes))
    known = np.setdiff1d(present, novel) if known_classes is None else np.unique(np.asarray(known_classes))
    both = np.intersect1d(known, novel)
    if both.size:
        raise ValueError(f"novel_classes and known_classes overlap in {both.tolist()}: a novel class cannot be "
                         "labelled among the known rows.")
    for name, classes in (("novel_classes", novel), ("known_classes", known)):
        missing = np.setdiff1d(classes, present)
        if classes.size == 0 or missing.size:
            raise ValueError(f"{name} must name classes present in y; missing {missing.tolist() or 'all'}.")
    is_known, is_novel = np.isin(y, known), np.isin(y, novel)
    return NCDSplit(X[is_known], y[is_known], X[is_novel], y[is_novel])
