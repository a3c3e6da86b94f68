"""Helpers shared by the resampling estimates and the significance tests.

Input validation that names the offending argument, scorer resolution with
scikit-learn's defaults (accuracy for classifiers, R^2 for regressors), the
conversion of ``random_state`` into what scikit-learn splitters and the
mlxtend-compatible legacy streams need, and the result type of every
significance test.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.metrics import get_scorer
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, column_or_1d

from diversa.evaluate.paired import TestResult

__all__ = ["Interval", "SignificanceResult"]


class Interval(NamedTuple):
    """Bounds of a confidence interval; unpacks as ``low, high``."""

    low: float
    high: float


class SignificanceResult(TestResult):
    """A test statistic and p-value, with degrees of freedom and details on the side.

    The tuple holds exactly ``(statistic, pvalue)``, so ``stat, p = test(...)``
    unpacks like mlxtend's and scipy's results; ``df`` (float, tuple of floats
    or None) and ``details`` (dict, e.g. the per-split score differences) are
    attributes outside the tuple, the way scipy's result objects carry extra
    fields. A named tuple cannot hold more fields without breaking that
    two-value unpacking, hence the subclass.
    """

    df = None
    details = None

    def __new__(cls, statistic, pvalue, *, df=None, details=None):
        self = super().__new__(cls, statistic, pvalue)
        self.df = df
        self.details = {} if details is None else dict(details)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(statistic={self.statistic!r}, pvalue={self.pvalue!r}, df={self.df!r})"


def legacy_random_state(random_state) -> np.random.RandomState:
    """The ``np.random.RandomState`` stream mlxtend draws its splits from.

    ``None`` or an int seeds a fresh ``RandomState`` exactly as mlxtend's
    ``random_seed`` does; a ``RandomState`` is used as is; a
    ``np.random.Generator`` first draws an int seed, so a Generator still
    gives reproducible splits.
    """
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(int(random_state.integers(2**31 - 1)))
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.RandomState(random_state)
    raise ValueError(f"random_state must be None, an int, a RandomState or a Generator, got {random_state!r}.")


def sklearn_random_state(random_state):
    """``random_state`` in a form scikit-learn splitters accept (None, int, RandomState).

    scikit-learn does not take ``np.random.Generator``; one is turned into an
    int seed drawn from it.
    """
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.RandomState)):
        return random_state
    raise ValueError(f"random_state must be None, an int, a RandomState or a Generator, got {random_state!r}.")


def check_fraction(name: str, value, *, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` as a float strictly inside (low, high), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low < value < high:
        raise ValueError(f"{name} must be a number in ({low:g}, {high:g}), got {value!r}.")
    return float(value)


def check_int(name: str, value, *, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_choice(name: str, value, allowed: tuple) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}.")
    return value


def check_vector(name: str, values, *, length: int | None = None, length_name: str = "y_true") -> np.ndarray:
    """A 1-D array without NaN/inf (numeric) or None (object), of ``length`` if given."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty.")
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf.")
    if array.dtype.kind == "O" and any(v is None or (isinstance(v, float) and np.isnan(v)) for v in array):
        raise ValueError(f"{name} contains None or NaN.")
    if length is not None and array.shape[0] != length:
        raise ValueError(f"{name} has {array.shape[0]} elements but {length_name} has {length}.")
    return array


def check_predictions(y_true, y_preds, *, minimum_models: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Validate true labels and several models' predictions of the same examples."""
    if len(y_preds) < minimum_models:
        raise ValueError(f"y_preds must hold at least {minimum_models} models' predictions, got {len(y_preds)}.")
    y_true = check_vector("y_true", y_true)
    preds = [check_vector(f"y_preds[{i}]", p, length=y_true.shape[0]) for i, p in enumerate(y_preds)]
    return y_true, preds


def correctness_matrix(y_true: np.ndarray, preds: list[np.ndarray]) -> np.ndarray:
    """(n_examples, n_models) int matrix: 1 where model j got example i right."""
    return np.column_stack([(p == y_true) for p in preds]).astype(np.int64)


def check_X_y(X, y, *, estimator=None):
    """Validate a design matrix and its target for a resampling procedure.

    X: array-like or sparse (CSR/CSC) of shape (n_samples, n_features), 2-D,
    finite. y: shape (n_samples,), finite. When ``estimator`` is a
    classifier, y must hold at least two classes (a fit on one class is
    undefined for most classifiers and stratification is meaningless).
    Returns (X, y) as arrays that support integer-array row indexing.
    """
    if y is None:
        raise ValueError("y must not be None.")
    X = check_array(X, accept_sparse=["csr", "csc"], dtype=None, input_name="X")
    y = check_vector("y", column_or_1d(np.asarray(y), warn=False))
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y have inconsistent lengths: X has {X.shape[0]} rows, y has {y.shape[0]}.")
    if estimator is not None and is_classifier(estimator) and np.unique(y).size < 2:
        raise ValueError("y has a single class; comparing or scoring a classifier needs at least 2 classes.")
    return X, y


def is_classification_target(y) -> bool:
    """True for binary or multiclass targets (the ones stratification applies to)."""
    return type_of_target(y) in ("binary", "multiclass")


def resolve_scorer(estimator, scoring):
    """A callable ``scorer(estimator, X, y)`` (higher is better).

    None -> accuracy for classifiers and R^2 for regressors (mlxtend's and
    scikit-learn's defaults); a str goes through ``sklearn.metrics.get_scorer``;
    a callable is used as is.
    """
    if scoring is None:
        if is_classifier(estimator):
            return get_scorer("accuracy")
        if is_regressor(estimator):
            return get_scorer("r2")
        raise ValueError("scoring is None and the estimator is neither a classifier nor a regressor; pass scoring.")
    if isinstance(scoring, str):
        try:
            return get_scorer(scoring)
        except ValueError as error:
            raise ValueError(f"scoring {scoring!r} is not a scikit-learn scorer name: {error}") from None
    if callable(scoring):
        return scoring
    raise ValueError(f"scoring must be None, a scorer name or a callable scorer(estimator, X, y), got {scoring!r}.")


def rows_of_fit_params(fit_params: dict, rows: np.ndarray, n_samples: int) -> dict:
    """Fit parameters for a fit on ``X[rows]``: per-sample arrays (e.g. ``sample_weight``) take the same rows.

    A parameter counts as per-sample when it is array-like with ``n_samples``
    entries; everything else is passed unchanged. Without this a full-length
    ``sample_weight`` would be silently misaligned with a bootstrap sample,
    which also has n rows.
    """
    subset = {}
    for name, value in fit_params.items():
        is_per_sample = hasattr(value, "__len__") and not isinstance(value, (str, dict)) and len(value) == n_samples
        subset[name] = np.asarray(value)[rows] if is_per_sample else value
    return subset


def fit_and_score(estimator, X, y, train, test, scorer, fit_params) -> float:
    """Fit a clone of ``estimator`` on rows ``train`` and score it on rows ``test``."""
    model = clone(estimator).fit(X[train], y[train], **rows_of_fit_params(fit_params, train, X.shape[0]))
    return float(scorer(model, X[test], y[test]))


def scores_over_splits(estimators, X, y, splits, scorer, *, n_jobs=None, fit_params=None) -> np.ndarray:
    """Score every estimator on every (train, test) split: shape (n_splits, n_estimators).

    Each estimator is cloned before each fit, so the caller's objects are
    never modified. Splits are independent, so they run through joblib with
    ``n_jobs`` workers; the backend is the caller's choice
    (``joblib.parallel_config``). The result does not depend on ``n_jobs``
    because every split is fixed before any work is dispatched.
    """
    fit_params = {} if fit_params is None else fit_params
    jobs = (
        delayed(fit_and_score)(estimator, X, y, train, test, scorer, fit_params)
        for train, test in splits
        for estimator in estimators
    )
    flat = Parallel(n_jobs=n_jobs)(jobs)
    return np.asarray(flat, dtype=float).reshape(-1, len(estimators))


def t_interval(mean: float, se: float, dof: int, alpha: float) -> Interval:
    """mean +- t_{1-alpha/2, dof} * se; NaN bounds when dof < 1 (no spread to estimate)."""
    if dof < 1:
        return Interval(float("nan"), float("nan"))
    half = stats.t.ppf(1.0 - alpha / 2.0, dof) * se
    return Interval(float(mean - half), float(mean + half))
