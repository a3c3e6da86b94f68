"""Input validation shared by the score, normalisation and pruning functions."""

from __future__ import annotations

import numbers

import numpy as np


def check_scores(scores, name: str = "scores", n: int | None = None) -> np.ndarray:
    """A finite, non-empty 1-D float array (of length ``n`` when given)."""
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D array of numbers") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries but there are {n} rows: one score per row is needed")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN (at rows {np.flatnonzero(np.isnan(arr))[:5].tolist()}...)")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains infinite values")
    return arr


def check_labels(labels, n: int, n_classes: int | None = None, name: str = "labels") -> np.ndarray:
    """Integer class indices ``(n,)`` in ``[0, n_classes)``."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with {n} entries (one per example), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or (n_classes is not None and arr.max() >= n_classes)):
        bound = "" if n_classes is None else f" and < {n_classes} (the number of classes)"
        raise ValueError(f"{name} must be >= 0{bound}, got values in [{arr.min()}, {arr.max()}]")
    return arr


def check_fraction(fraction, name: str = "fraction") -> float:
    """A real number strictly inside (0, 1)."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 1), got {fraction!r}")
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {fraction!r}")
    return float(fraction)


def check_choice(value, choices: tuple, name: str):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def as_stack(values, name: str, ndim: int) -> np.ndarray:
    """A finite float array with ``ndim`` dimensions; one fewer adds a leading axis of length 1."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array") from None
    if arr.ndim == ndim - 1:
        arr = arr[None]
    if arr.ndim != ndim or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty array with {ndim - 1} or {ndim} dimensions, got shape "
                         f"{np.shape(values)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr
