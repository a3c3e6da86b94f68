"""Input checks and output formatting shared by the resamplers.

Every check raises a ``ValueError`` whose message names the offending argument
(``X``, ``y``, ``percentage``, ``k_neighbors``, ...) and the allowed range, as
the project's quality bar asks. Only scikit-learn's public validation API is
used (``check_X_y``, ``check_array``, ``check_random_state``,
``column_or_1d``, ``type_of_target``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_consistent_length, column_or_1d


def as_random_state(random_state) -> np.random.RandomState:
    """Turn ``random_state`` into a ``np.random.RandomState``.

    Accepts what scikit-learn accepts (None, an int, a ``RandomState``) and,
    as the project's convention asks, a ``np.random.Generator``: it is wrapped
    around the same bit generator, so draws advance the caller's generator.
    The legacy ``RandomState`` stream is used everywhere because it is what
    imbalanced-learn draws from, which lets ``sampling_strategy`` mode
    reproduce imbalanced-learn bit for bit.
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.bit_generator)
    try:
        return check_random_state(random_state)
    except ValueError as error:
        raise ValueError(
            "random_state must be None, an int, a numpy RandomState or a numpy "
            f"Generator; got {random_state!r}."
        ) from error


def check_percentage(value, name: str = "percentage") -> float:
    """Return ``value`` as a float after checking it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number > 0 (a percentage); got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0 (a percentage); got {value!r}.")
    return value


def check_k_neighbors(k_neighbors) -> int:
    """Return ``k_neighbors`` as an int after checking it is an integer >= 1."""
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, numbers.Integral):
        raise ValueError(f"k_neighbors must be an integer >= 1; got {k_neighbors!r}.")
    if k_neighbors < 1:
        raise ValueError(f"k_neighbors must be an integer >= 1; got {k_neighbors}.")
    return int(k_neighbors)


def check_enough_samples(n_class: int, k_neighbors: int, label) -> None:
    """Require ``k_neighbors + 1`` rows in a class that is to be over-sampled.

    Each base sample needs ``k_neighbors`` neighbours other than itself, so a
    class with ``T`` rows supports at most ``k_neighbors = T - 1``.
    """
    if n_class < k_neighbors + 1:
        raise ValueError(
            f"k_neighbors={k_neighbors} needs at least k_neighbors + 1 = "
            f"{k_neighbors + 1} samples of class {label!r}, but y has only "
            f"{n_class}; lower k_neighbors to at most {max(n_class - 1, 0)}."
        )


def check_labels(y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate class labels and count them.

    Returns ``(y, classes, counts)``: ``y`` as a 1-D array, the sorted distinct
    labels and how many rows carry each.
    """
    y = column_or_1d(y, input_name="y")
    kind = type_of_target(y, input_name="y")
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"y must hold class labels (binary or multiclass); got a target of type {kind!r}."
        )
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError(
            f"y must contain at least 2 classes to resample; got only {classes.tolist()!r}."
        )
    return y, classes, counts


def check_label_present(label, classes: np.ndarray, name: str) -> Any:
    """Return the entry of ``classes`` equal to ``label`` or raise naming ``name``."""
    matches = [c for c in classes.tolist() if _same_label(c, label)]
    if not matches:
        raise ValueError(
            f"{name}={label!r} is not a class of y; the classes are {classes.tolist()!r}."
        )
    return matches[0]


def _same_label(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def least_frequent(classes: np.ndarray, counts: np.ndarray):
    """The minority class; ties go to the smallest label, as in imbalanced-learn."""
    return classes.tolist()[int(np.argmin(counts))]


def most_frequent(classes: np.ndarray, counts: np.ndarray):
    """The majority class; ties go to the smallest label, as in imbalanced-learn."""
    return classes.tolist()[int(np.argmax(counts))]


def check_y_matches(X_n_rows: int, y: np.ndarray) -> None:
    """Raise a ``ValueError`` naming X and y when their lengths differ."""
    try:
        check_consistent_length(np.empty(X_n_rows), y)
    except ValueError as error:
        raise ValueError(
            f"X and y must have the same number of rows; got {X_n_rows} and {len(y)}."
        ) from error


def feature_names_of(X) -> np.ndarray | None:
    """Column names of a DataFrame whose names are all strings, else None.

    This mirrors what scikit-learn stores as ``feature_names_in_``.
    """
    columns = getattr(X, "columns", None)
    if columns is None or len(columns) == 0:
        return None
    if all(isinstance(name, str) for name in columns):
        return np.asarray(columns, dtype=object)
    return None


def non_numeric_columns(X) -> list:
    """Columns of ``X`` that cannot be read as numbers (names or indices).

    Boolean columns count as numeric. Used to point users with nominal data
    to SMOTENC/SMOTEN before scikit-learn's generic conversion error.
    """
    if isinstance(X, pd.DataFrame):
        return [
            name
            for name, dtype in X.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
        ]
    if hasattr(X, "dtype") and hasattr(X, "ndim"):
        array = X
    else:
        try:
            array = np.asarray(X)
        except (TypeError, ValueError):
            # Ragged input: let the regular validation report it.
            return []
    if array.dtype.kind in "biufc":
        return []
    if array.dtype.kind in "US":
        return list(range(array.shape[1])) if array.ndim == 2 else [0]
    if array.dtype.kind != "O" or array.ndim != 2:
        return []
    return [j for j in range(array.shape[1]) if not _is_numeric_column(array[:, j])]


def _is_numeric_column(column: np.ndarray) -> bool:
    try:
        column.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class OutputFormat:
    """What the caller passed, so results can be handed back in the same form."""

    x_is_frame: bool
    columns: Any
    dtypes: Any
    y_is_series: bool
    y_name: Any
    y_dtype: Any

    @classmethod
    def of(cls, X, y) -> "OutputFormat":
        """Record whether ``X``/``y`` are pandas objects and their metadata."""
        x_is_frame = isinstance(X, pd.DataFrame)
        y_is_series = isinstance(y, pd.Series)
        return cls(
            x_is_frame=x_is_frame,
            columns=X.columns if x_is_frame else None,
            dtypes=X.dtypes if x_is_frame else None,
            y_is_series=y_is_series,
            y_name=y.name if y_is_series else None,
            y_dtype=y.dtype if y_is_series else None,
        )

    def frame(self, X_res: np.ndarray):
        """Wrap a numeric result as a DataFrame with the input's columns if needed."""
        if not self.x_is_frame:
            return X_res
        return pd.DataFrame(X_res, columns=self.columns, copy=False)

    def target(self, y_res: np.ndarray):
        """Wrap the resampled labels as a Series with the input's name and dtype if needed."""
        if not self.y_is_series:
            return y_res
        return pd.Series(y_res, name=self.y_name).astype(self.y_dtype)
