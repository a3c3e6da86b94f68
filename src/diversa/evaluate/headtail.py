"""Head / tail accuracy within answer groups: the distribution-shift split of MUSIC-AVQA-R.

Ma, Hu, Wang, Sun, Song, Pei, Liu, Du, "Look, Listen, and Answer: Overcoming Biases for
Audio-Visual Question Answering", arXiv:2404.12020 (NeurIPS 2024), following GQA-OOD (Kervadec et
al., CVPR 2021); spec ``training.md#mccd``. Within each group of questions (a question type), let
``mu`` be the mean count of the group's answers; an answer counted more than ``(1 + beta) mu``
times is **head**, every other answer **tail** (``beta = 0.2``). Accuracy is reported overall,
on head items and on tail items, so that answering every question of a type with its most
frequent answer cannot hide as good accuracy.

Unlike :func:`diversa.evaluate.shot_accuracy.shot_accuracy` (classes ranked by their *training*
counts over the whole label set, per-class accuracy averaged per shot group), the split here is
relative to each group's own mean, counted on the evaluated items themselves, and accuracy is per
item, as MUSIC-AVQA-R reports it. An answer counted exactly ``(1 + beta) mu`` times is tail (the
authors' rule is "greater than" for head), so a group with a single answer, whose count equals its
mean, is all tail, and so is a group whose answers are all equally frequent.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["HeadTailAccuracy", "head_tail_accuracy", "head_tail_split"]


class HeadTailAccuracy(NamedTuple):
    """Per-item accuracy overall, on head and on tail items (NaN where there are none), per group
    (``{group: accuracy}``), and the numbers of head and tail items."""

    overall: float
    head: float
    tail: float
    per_group: dict
    n_head: int
    n_tail: int


def _labels(values, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {values.shape}.")
    return values


def head_tail_split(y, groups, beta: float = 0.2) -> np.ndarray:
    """Which items are tail: ``(n,)`` bool, True where the item's answer is tail within its group.

    ``y (n,)`` answers (any hashable labels), ``groups (n,)`` the items' groups. Head answers
    of a group are those counted more than ``(1 + beta)`` times the group's mean count over the
    answers that occur in it.
    """
    y = _labels(y, "y")
    groups = _labels(groups, "groups")
    if groups.shape != y.shape:
        raise ValueError(f"groups must have y's shape {y.shape}, got {groups.shape}.")
    if y.size == 0:
        raise ValueError("y is empty.")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}.")
    tail = np.ones(y.shape, dtype=bool)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        answers, inverse, counts = np.unique(y[rows], return_inverse=True, return_counts=True)
        head = counts > (1 + beta) * counts.mean()
        tail[rows] = ~head[inverse.ravel()]
    return tail


def head_tail_accuracy(y_true, y_pred, groups, beta: float = 0.2, tail=None) -> HeadTailAccuracy:
    """Accuracy of ``y_pred (n,)`` for ``y_true (n,)`` overall, on head and on tail items, and per group.

    The split is :func:`head_tail_split` of ``y_true`` within ``groups (n,)`` unless ``tail``
    (``(n,)`` bool) gives one (for example the split of another version of the same items).
    """
    y_true = _labels(y_true, "y_true")
    y_pred = _labels(y_pred, "y_pred")
    groups = _labels(groups, "groups")
    if y_pred.shape != y_true.shape or groups.shape != y_true.shape:
        raise ValueError(f"y_true, y_pred and groups must have one shape, got {y_true.shape}, {y_pred.shape} and "
                         f"{groups.shape}.")
    if tail is None:
        tail = head_tail_split(y_true, groups, beta)
    else:
        tail = np.asarray(tail)
        if tail.shape != y_true.shape or tail.dtype != bool:
            raise ValueError(f"tail must be a boolean array of shape {y_true.shape}, got {tail.dtype} {tail.shape}.")
    if y_true.size == 0:
        raise ValueError("y_true is empty.")
    correct = y_true == y_pred

    def mean(mask) -> float:
        return float(correct[mask].mean()) if mask.any() else float("nan")

    per_group = {g.item() if hasattr(g, "item") else g: mean(groups == g) for g in np.unique(groups)}
    return HeadTailAccuracy(float(correct.mean()), mean(~tail), mean(tail), per_group, int((~tail).sum()),
                            int(tail.sum()))
