"""Loaders for the small data sets that ship with scikit-learn.

Every reproduction runs offline, so it draws only on data bundled with an
installed package. :func:`load_bundled` gives them one spelling and adds the
binary "one digit against the rest" task the SMOTE experiments use.
"""

from __future__ import annotations

import numpy as np
from sklearn import datasets as skdatasets

_LOADERS = {
    "breast_cancer": skdatasets.load_breast_cancer,
    "digits": skdatasets.load_digits,
    "iris": skdatasets.load_iris,
    "wine": skdatasets.load_wine,
    "diabetes": skdatasets.load_diabetes,
}

BUNDLED_NAMES = tuple(_LOADERS) + ("digits_9_vs_rest",)


def load_bundled(name: str, *, as_frame: bool = False):
    """Load a scikit-learn bundled data set as ``(X, y)``.

    Parameters
    ----------
    name : one of :data:`BUNDLED_NAMES`. ``"digits_<d>_vs_rest"`` (d in 0..9)
        gives the binary task "digit d" (label 1) against all other digits
        (label 0), about 10% positives.
    as_frame : return a pandas DataFrame and Series instead of arrays.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features) or DataFrame
    y : ndarray of shape (n_samples,) or Series

    Examples
    --------
    >>> X, y = load_bundled("digits_9_vs_rest")
    >>> X.shape, int(y.sum())
    ((1797, 64), 180)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}.")
    digit = _parse_digit_vs_rest(name)
    base = "digits" if digit is not None else name
    if base not in _LOADERS:
        raise ValueError(
            f"name={name!r} is not a bundled data set; choose one of {', '.join(BUNDLED_NAMES)} "
            "or 'digits_<d>_vs_rest'."
        )
    X, y = _LOADERS[base](return_X_y=True, as_frame=as_frame)
    if digit is not None:
        y = (y == digit).astype(np.int64)
        if as_frame:
            y = y.rename(f"is_{digit}")
    return X, y


def _parse_digit_vs_rest(name: str) -> int | None:
    parts = name.split("_")
    if len(parts) == 4 and parts[0] == "digits" and parts[2:] == ["vs", "rest"]:
        if parts[1].isdigit() and 0 <= int(parts[1]) <= 9:
            return int(parts[1])
        raise ValueError(f"name={name!r}: the digit must be 0..9.")
    return None
