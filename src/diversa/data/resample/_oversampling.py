"""Machinery shared by SMOTE, SMOTE-NC and SMOTE-N.

Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813. The three variants plan the
number of synthetic samples per class the same way (the paper's
``percentage`` or imbalanced-learn's ``sampling_strategy``), draw base
samples, neighbours and gaps the same way, and publish the same per-class
fitted attributes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_random_state, check_enough_samples, least_frequent
from .allocation import (
    allocate_per_base,
    draw_gaps,
    draw_neighbour_columns,
    draw_uniform_pairs,
)
from .strategy import counts_from_percentage, counts_from_sampling_strategy


class ClassDraws(NamedTuple):
    """Where the synthetic samples of one class came from.

    ``rows`` (T,) are the class's row indices in ``X``; ``neighbours`` (T, k)
    the within-class neighbour table (indices into ``rows``); ``base`` and
    ``neighbour`` (S,) the base and neighbour index (into ``rows``) of each
    synthetic sample; ``gaps`` (S,) or (S, d) the interpolation gaps.
    """

    rows: np.ndarray
    neighbours: np.ndarray
    base: np.ndarray
    neighbour: np.ndarray
    gaps: np.ndarray


def draw_smote_origins(
    n_class: int,
    k_neighbors: int,
    n_synthetic: int,
    n_features: int,
    per_feature_gap: bool,
    imblearn_draws: bool,
    random_state: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (base, neighbour column, gap) for every synthetic sample of one class.

    ``imblearn_draws=False``: the paper's per-base allocation (base indices
    ascending), then uniform neighbour columns, then gaps.
    ``imblearn_draws=True``: imbalanced-learn's uniform (base, column) pairs,
    then gaps, in its draw order. Returns three arrays of length
    ``n_synthetic`` (gaps are ``(n_synthetic, n_features)`` when
    ``per_feature_gap``).
    """
    if imblearn_draws:
        base, column = draw_uniform_pairs(n_class, k_neighbors, n_synthetic, random_state)
    else:
        base = allocate_per_base(n_class, n_synthetic, random_state)
        column = draw_neighbour_columns(n_synthetic, k_neighbors, random_state)
    gaps = draw_gaps(n_synthetic, n_features, per_feature_gap, random_state)
    return base, column, gaps


def check_per_feature_gap(per_feature_gap) -> bool:
    """Return ``per_feature_gap`` as a bool after checking it is one."""
    if not isinstance(per_feature_gap, (bool, np.bool_)):
        raise ValueError(f"per_feature_gap must be True or False; got {per_feature_gap!r}.")
    return bool(per_feature_gap)


def plan_synthetic_counts(estimator, y, classes, counts) -> dict:
    """``{label: S}`` from an estimator's ``sampling_strategy`` or ``percentage``."""
    if estimator.sampling_strategy is not None:
        return counts_from_sampling_strategy(estimator.sampling_strategy, classes, counts, y)
    return counts_from_percentage(estimator.percentage, estimator.minority_label, classes, counts)


def classes_to_oversample(estimator, plan: dict) -> list:
    """Classes that get synthetic samples; in the paper's single-class mode always the one class."""
    if single_class_mode(estimator):
        return list(plan)
    return [label for label, n in plan.items() if n > 0]


def plan_oversampling(estimator, y, classes, counts, k_neighbors: int) -> tuple[dict, dict]:
    """The synthetic count per class and the rows of each class to over-sample.

    Returns ``(plan, rows_by_class)``: ``plan`` maps every label to its number
    of synthetic samples, ``rows_by_class`` maps each class that gets some (in
    order) to its row indices, after checking it has ``k_neighbors + 1`` rows.
    """
    plan = plan_synthetic_counts(estimator, y, classes, counts)
    rows_by_class = {label: np.flatnonzero(y == label) for label in classes_to_oversample(estimator, plan)}
    for label, rows in rows_by_class.items():
        check_enough_samples(len(rows), k_neighbors, label)
    return plan, rows_by_class


def single_class_mode(estimator) -> bool:
    """True when one scalar ``percentage`` names a single class (the paper's setting)."""
    return estimator.sampling_strategy is None and not isinstance(estimator.percentage, dict)


def publish_per_class(estimator, plan: dict, classes, counts, **attributes) -> None:
    """Set fitted attributes that exist once per over-sampled class.

    ``attributes`` maps an attribute name to ``{label: value}``. In the
    paper's single-class mode the attribute is that one value (an array);
    when ``percentage`` is a dict or ``sampling_strategy`` is given it is the
    dict itself. Also sets ``sampling_strategy_`` (``{label: S}``) and
    ``minority_label_`` (the over-sampled class, the least frequent one if
    several).
    """
    sizes = dict(zip(classes.tolist(), counts.tolist()))
    labels = list(next(iter(attributes.values())))
    estimator.sampling_strategy_ = dict(plan)
    estimator.minority_label_ = (
        min(labels, key=lambda label: sizes[label]) if labels else least_frequent(classes, counts)
    )
    for name, by_label in attributes.items():
        value = next(iter(by_label.values())) if single_class_mode(estimator) else dict(by_label)
        setattr(estimator, name, value)


def publish_class_draws(estimator, draws: dict, plan: dict, classes, counts) -> None:
    """Set ``minority_indices_``, ``nn_indices_``, ``sample_origin_`` and ``gaps_`` from ``{label: ClassDraws}``."""
    publish_per_class(
        estimator, plan, classes, counts,
        minority_indices_={label: d.rows for label, d in draws.items()},
        nn_indices_={label: d.neighbours for label, d in draws.items()},
        sample_origin_={label: np.column_stack([d.base, d.neighbour]) for label, d in draws.items()},
        gaps_={label: d.gaps for label, d in draws.items()},
    )


def class_random_state(estimator, shared: np.random.RandomState) -> np.random.RandomState:
    """The stream to draw one class's samples from.

    imbalanced-learn re-creates its RandomState for every class, so an int
    seed restarts the stream per class; ``sampling_strategy`` mode does the
    same to match it. The paper's mode draws all classes from one stream.
    """
    if estimator.sampling_strategy is not None:
        return as_random_state(estimator.random_state)
    return shared


def synthetic_labels(plan: dict, targets: list, dtype) -> np.ndarray:
    """Labels of the synthetic rows, class after class in ``targets`` order; shape (sum S,)."""
    return np.concatenate(
        [np.empty(0, dtype=dtype)] + [np.full(plan[label], label, dtype=dtype) for label in targets]
    )
