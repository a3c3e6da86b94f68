"""Holdout evaluation and confidence intervals for a test-set accuracy.

Section 2 of Raschka, "Model Evaluation, Model Selection, and Algorithm
Selection in Machine Learning" (arXiv:1811.12808, 2018): split the data once,
fit on the training part, score on the untouched test part. Stratifying the
split keeps the class shares of y in both parts (the article shows how an
unstratified split of iris skews its 1/3 class shares), which lowers the
variance of the estimate. A test-set accuracy is a binomial proportion, so its
confidence interval is the normal approximation
``ACC +- z_{1-alpha/2} sqrt(ACC (1 - ACC) / n_test)`` or, better near 0 or 1 and
for small test sets, the score interval of Wilson (1927), "Probable inference,
the law of succession, and statistical inference", JASA 22(158).

Holdout is pessimistically biased (the model sees only part of the data) and
high-variance on small data; prefer the bootstrap or k-fold estimates there
(``diversa.evaluate.bootstrap``, ``diversa.evaluate.crossval``).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from scipy import stats
from sklearn.base import clone, is_classifier
from sklearn.model_selection import train_test_split

from diversa.evaluate._shared import (
    Interval,
    check_choice,
    check_fraction,
    check_int,
    check_X_y,
    is_classification_target,
    resolve_scorer,
    rows_of_fit_params,
    sklearn_random_state,
)

__all__ = ["HoldoutResult", "HoldoutSplit", "holdout_estimate", "holdout_split", "normal_approx_ci"]


class HoldoutSplit(NamedTuple):
    """Row indices of the training and the test part; unpacks as ``train, test``."""

    train: np.ndarray
    test: np.ndarray


class HoldoutResult(NamedTuple):
    """A holdout estimate: the test score, its confidence interval and the split.

    ``ci`` is None unless the score is an accuracy (the binomial interval
    applies to proportions only).
    """

    score: float
    ci: Interval | None
    n_test: int
    train: np.ndarray
    test: np.ndarray


def _check_test_size(test_size, n_samples: int):
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        if not 1 <= test_size < n_samples:
            raise ValueError(f"test_size as an int must lie in [1, {n_samples - 1}], got {test_size}.")
        return int(test_size)
    return check_fraction("test_size", test_size)


def holdout_split(X, y, test_size=0.3, stratify: bool = True, random_state=None) -> HoldoutSplit:
    """Split rows into a training and a test part once.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    test_size : float in (0, 1) (share of rows) or int (number of rows).
    stratify : keep y's class shares in both parts. Only defined for a
        binary or multiclass y; a continuous y with ``stratify=True`` raises.
    random_state : None, int, RandomState or Generator.

    Returns
    -------
    HoldoutSplit(train, test): integer index arrays, in scikit-learn's
    ``train_test_split`` order.
    """
    X, y = check_X_y(X, y)
    test_size = _check_test_size(test_size, X.shape[0])
    if stratify and not is_classification_target(y):
        raise ValueError("stratify=True needs a binary or multiclass y; pass stratify=False for a continuous y.")
    indices = np.arange(X.shape[0])
    train, test = train_test_split(
        indices,
        test_size=test_size,
        stratify=y if stratify else None,
        random_state=sklearn_random_state(random_state),
    )
    return HoldoutSplit(train, test)


def normal_approx_ci(acc, n, alpha: float = 0.05, method: str = "normal", clip: bool = True) -> Interval:
    """Confidence interval of an accuracy measured on ``n`` independent test examples.

    ``method="normal"``: ``acc +- z sqrt(acc (1 - acc) / n)`` with
    ``z = Phi^{-1}(1 - alpha/2)`` (1.96 for 95 %), clipped to [0, 1] when
    ``clip`` (as statsmodels' ``proportion_confint(method="normal")``).
    ``method="wilson"``: Wilson's score interval, which stays inside [0, 1]
    and keeps its coverage when acc is near 0 or 1 or n < 100.

    Parameters
    ----------
    acc : float in [0, 1], the observed accuracy.
    n : int >= 1, the number of test examples.
    alpha : 1 - coverage, in (0, 1).
    """
    if isinstance(acc, bool) or not isinstance(acc, numbers.Real) or not 0.0 <= acc <= 1.0:
        raise ValueError(f"acc must be a proportion in [0, 1], got {acc!r}.")
    n = check_int("n", n, minimum=1)
    alpha = check_fraction("alpha", alpha)
    check_choice("method", method, ("normal", "wilson"))
    z = stats.norm.isf(alpha / 2.0)
    if method == "wilson":
        shrink = 1.0 + z**2 / n
        center = (acc + z**2 / (2.0 * n)) / shrink
        half = z * np.sqrt(acc * (1.0 - acc) / n + z**2 / (4.0 * n**2)) / shrink
    else:
        center = float(acc)
        half = z * np.sqrt(acc * (1.0 - acc) / n)
    low, high = center - half, center + half
    if clip:
        low, high = max(low, 0.0), min(high, 1.0)
    return Interval(float(low), float(high))


def holdout_estimate(
    estimator,
    X,
    y,
    test_size=0.3,
    stratify: bool = True,
    scoring=None,
    alpha: float = 0.05,
    ci_method: str = "normal",
    random_state=None,
    **fit_params,
) -> HoldoutResult:
    """Fit on a training part, score once on the held-out test part.

    The confidence interval is ``normal_approx_ci`` of the test accuracy
    (``ci_method`` "normal" or "wilson") when the score is an accuracy
    (``scoring`` None for a classifier, or "accuracy"); otherwise ``ci`` is
    None. ``stratify`` applies to classifiers only.

    Parameters
    ----------
    estimator : scikit-learn estimator; cloned before fitting.
    X : array-like of shape (n_samples, n_features); y : shape (n_samples,).
    scoring : None, scorer name or callable ``scorer(estimator, X, y)``.
    fit_params : passed to ``estimator.fit``; per-sample arrays (length
        n_samples, e.g. ``sample_weight``) are restricted to the training rows.
    """
    X, y = check_X_y(X, y, estimator=estimator)
    alpha = check_fraction("alpha", alpha)
    check_choice("ci_method", ci_method, ("normal", "wilson"))
    scorer = resolve_scorer(estimator, scoring)
    train, test = holdout_split(
        X, y, test_size=test_size, stratify=stratify and is_classifier(estimator), random_state=random_state
    )
    model = clone(estimator).fit(X[train], y[train], **rows_of_fit_params(fit_params, train, X.shape[0]))
    score = float(scorer(model, X[test], y[test]))
    is_accuracy = scoring == "accuracy" or (scoring is None and is_classifier(estimator))
    ci = normal_approx_ci(score, test.size, alpha=alpha, method=ci_method) if is_accuracy else None
    return HoldoutResult(score, ci, int(test.size), train, test)
