"""Checks run before a resampler draws or stores anything.

imbalanced-learn validates ``X`` and the samplers' own parameters; these
checks cover what its messages leave unnamed (a continuous ``y``, ``X`` and
``y`` of different lengths, a class too small for ``k_neighbors``, a
``sampling_strategy`` that does not fit ``y``, nominal columns given to SMOTE)
and the paper's parameters, each with a ``ValueError`` naming the argument.
They run before ``fit_resample`` sets any fitted attribute.
"""

from __future__ import annotations

import numbers

import numpy as np
from imblearn.utils import check_sampling_strategy
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d


def check_target(X, y) -> np.ndarray:
    """``y`` as a 1-D array of class labels with at least 2 classes and one per row of ``X``."""
    y = column_or_1d(y, input_name="y")
    kind = type_of_target(y, input_name="y")
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"y must hold class labels (binary or multiclass); got a target of type {kind!r}.")
    if np.unique(y).size < 2:
        raise ValueError(f"y must contain at least 2 classes to resample; got only {np.unique(y).tolist()!r}.")
    if getattr(X, "ndim", 2) != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_rows != len(y):
        raise ValueError(f"X and y must have the same number of rows; got {n_rows} and {len(y)}.")
    return y


def check_label(label, classes: np.ndarray, name: str):
    """The entry of ``classes`` equal to ``label``, or a ``ValueError`` naming ``name``."""
    for candidate in classes.tolist():
        if candidate == label:
            return candidate
    raise ValueError(f"{name}={label!r} is not a class of y; the classes are {classes.tolist()!r}.")


def check_flag(value, name: str) -> bool:
    """``value`` as a bool, or a ``ValueError`` naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def strategy_counts(sampling_strategy, y: np.ndarray, sampling_type: str) -> dict:
    """imbalanced-learn's ``{label: n}`` plan, its errors re-raised naming ``sampling_strategy``."""
    try:
        return dict(check_sampling_strategy(sampling_strategy, y, sampling_type))
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"sampling_strategy={sampling_strategy!r} does not fit y: {error}") from error


def check_room_for_neighbours(k_neighbors, y: np.ndarray, plan: dict) -> None:
    """Each class that gets synthetic samples needs ``k_neighbors + 1`` rows."""
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, numbers.Integral):
        return  # a neighbours estimator or a bad value: imbalanced-learn checks those
    for label, n_synthetic in plan.items():
        n_class = int(np.sum(y == label))
        if n_synthetic > 0 and n_class < k_neighbors + 1:
            raise ValueError(
                f"k_neighbors={k_neighbors} needs at least {k_neighbors + 1} samples of class {label!r}, "
                f"but y has only {n_class}; lower k_neighbors to at most {max(n_class - 1, 0)}.")


def is_numeric(X) -> bool:
    """Whether every value of ``X`` (array, DataFrame or sparse) reads as a number."""
    if hasattr(X, "tocsr"):
        return True
    array = np.asarray(X)
    if array.dtype.kind not in "OUS":
        return True
    try:
        array.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


def refuse_nominal(X) -> None:
    """Point users with text columns to SMOTENC / SMOTEN before a generic conversion error."""
    if not is_numeric(X):
        raise ValueError("X has non-numeric columns; SMOTE interpolates numbers only. Use SMOTENC for "
                         "mixed numeric and nominal features or SMOTEN for all-nominal features.")
