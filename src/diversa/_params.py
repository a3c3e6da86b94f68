"""Checks of estimator hyper-parameters shared by every layer.

Each raises a ``ValueError`` (or ``TypeError``) that names the argument, as
scikit-learn's estimators do, and returns the value converted to a plain type.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils.validation import check_random_state


def check_int(value, name: str, low: int) -> int:
    """``value`` as an int ``>= low`` (booleans are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    return int(value)


def check_real(value, name: str, low: float, *, strict: bool = False) -> float:
    """``value`` as a finite float ``>= low`` (``> low`` when ``strict``)."""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
    if bad or value < low or (strict and value == low):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low}, got {value!r}.")
    return float(value)


def check_hidden(hidden) -> tuple[int, ...]:
    """Hidden-layer widths: one positive int or a sequence of them."""
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        widths = tuple(hidden)
    except TypeError:
        raise TypeError(f"hidden must be an int or a sequence of ints, got {hidden!r}.") from None
    if any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in widths):
        raise ValueError(f"hidden must hold positive ints, got {hidden!r}.")
    return widths


def torch_seed(random_state) -> int:
    """An int seed for torch: an int is kept; None, a RandomState or a Generator draws one."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if hasattr(random_state, "integers"):  # numpy Generator
        return int(random_state.integers(2**31 - 1))
    return int(check_random_state(random_state).randint(2**31 - 1))


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Per-row weights as a float64 array of length ``n_samples`` (ones when None)."""
    if sample_weight is None:
        return np.ones(n_samples)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        return np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {weights.shape}.")
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight must be finite.")
    if weights.sum() <= 0:
        raise ValueError("sample_weight must not sum to zero (or less).")
    return weights
