"""Accuracy of a long-tailed classifier by shot group: many-, medium- and few-shot classes.

The standard report of long-tailed recognition (used by SADE, Zhang et al., arXiv:2107.09249,
and MDCS, Zhao et al., arXiv:2308.09922; spec ``ensemble.md`` section 0.2): per-class accuracy,
averaged within the groups of classes with many, a medium number of, or few training examples
(:func:`diversa.datasets.longtail.shot_groups`: many if ``n_c > n_max / 5``, few if ``n_c <
n_max / 25``), so the head cannot hide the tail.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from diversa.datasets.longtail import shot_groups

__all__ = ["ShotAccuracy", "shot_accuracy"]

GROUPS = ("many", "medium", "few")


class ShotAccuracy(NamedTuple):
    """Mean per-class accuracy of each shot group (NaN for a group without test classes), the
    per-class accuracies ``(C,)`` (NaN for a class absent from the test set) and plain accuracy."""

    many: float
    medium: float
    few: float
    per_class: np.ndarray
    overall: float


def shot_accuracy(y_true, y_pred, class_counts, n_max: int | None = None) -> ShotAccuracy:
    """Many / medium / few-shot accuracy of predictions ``y_pred (n,)`` for labels ``y_true (n,)``.

    Labels are class indices ``0..C-1`` of the training classes; ``class_counts (C,)`` are their
    training counts (``n_max`` defaults to the largest). A test label outside the training
    classes is an error, not a silent miss.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    counts = np.asarray(class_counts)
    if counts.ndim != 1 or counts.size < 2 or not np.issubdtype(counts.dtype, np.number) or np.any(counts < 0):
        raise ValueError("class_counts must be a 1-d array of at least two non-negative training counts.")
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"y_true and y_pred must be 1-d of equal length, got shapes {y_true.shape} and "
                         f"{y_pred.shape}.")
    if y_true.size == 0:
        raise ValueError("y_true is empty.")
    C = counts.size
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{name} must hold integer class indices, got dtype {labels.dtype}.")
        unseen = np.setdiff1d(labels, np.arange(C))
        if unseen.size:
            raise ValueError(f"{name} holds labels {unseen.tolist()} that are not training classes 0..{C - 1}.")
    per_class = np.full(C, np.nan)
    for c in np.unique(y_true):
        per_class[c] = np.mean(y_pred[y_true == c] == c)
    groups = shot_groups(counts, n_max)
    by_group = [float(np.nanmean(per_class[groups == g])) if np.any(np.isfinite(per_class[groups == g]))
                else float("nan") for g in GROUPS]
    return ShotAccuracy(*by_group, per_class, float(np.mean(y_true == y_pred)))
