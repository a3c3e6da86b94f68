"""Input checks shared by the mixing modules: errors name the offending argument."""

from __future__ import annotations

import numpy as np

SUM_TOL = 1e-6


def check_proportions(p, name: str = "proportions", n_groups: int | None = None) -> np.ndarray:
    """``p`` as a float vector on the probability simplex, or a ValueError/TypeError naming ``name``."""
    if isinstance(p, (str, bytes)) or p is None:
        raise TypeError(f"{name} must be a sequence of numbers, got {type(p).__name__}.")
    try:
        arr = np.asarray(p, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a sequence of numbers: {exc}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector, got shape {arr.shape}.")
    if n_groups is not None and arr.size != n_groups:
        raise ValueError(f"{name} must have one entry per group ({n_groups}), got {arr.size}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values: {arr.tolist()}.")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got {arr.tolist()}.")
    if abs(arr.sum() - 1.0) > SUM_TOL:
        raise ValueError(f"{name} must sum to 1, got sum {arr.sum():.6g}.")
    return arr


def check_matrix(a, name: str, shape: tuple | None = None, ndim: int = 2) -> np.ndarray:
    """``a`` as a finite float array of ``ndim`` dimensions (and ``shape`` where given)."""
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}.")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_finite(value, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}.")
    return value
