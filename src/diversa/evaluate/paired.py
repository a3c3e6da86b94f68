"""Paired comparisons of two methods measured on the same units.

Used wherever two methods are scored on the same seeds, folds or items: the
Wilcoxon signed-rank test (Wilcoxon, 1945) on the per-unit differences and a
percentile bootstrap confidence interval of their mean (Efron & Tibshirani,
1993). Results are named tuples with scipy's field names, so
``stat, p = wilcoxon_signed_rank(d)`` unpacks as scipy's result does.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

Alternative = Literal["two-sided", "greater", "less"]


class TestResult(NamedTuple):
    """A test statistic and its p-value."""

    statistic: float
    pvalue: float


class MeanCI(NamedTuple):
    """A mean with the bounds of its confidence interval."""

    mean: float
    low: float
    high: float


def _as_differences(differences) -> np.ndarray:
    d = np.asarray(differences, dtype=float).ravel()
    if d.size == 0:
        raise ValueError("differences must not be empty.")
    if not np.all(np.isfinite(d)):
        raise ValueError("differences must be finite (found NaN or inf).")
    return d


def wilcoxon_signed_rank(differences, alternative: Alternative = "two-sided") -> TestResult:
    """Wilcoxon signed-rank test that the paired differences centre on zero.

    Zero differences are dropped (Wilcoxon's original treatment). When every
    difference is zero there is no evidence of any shift and the p-value is 1.
    The exact null distribution is used for small samples without ties, the
    normal approximation otherwise (scipy's ``method="auto"``).

    Parameters
    ----------
    differences : array-like of shape (n,), method minus baseline per unit.
    alternative : "greater" tests H1: the differences tend to be positive.
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}.")
    d = _as_differences(differences)
    if not np.any(d != 0):
        return TestResult(statistic=0.0, pvalue=1.0)
    result = stats.wilcoxon(d, zero_method="wilcox", alternative=alternative)
    return TestResult(statistic=float(result.statistic), pvalue=float(result.pvalue))


def bootstrap_mean_ci(
    differences,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    random_state=0,
) -> MeanCI:
    """Percentile bootstrap confidence interval of the mean paired difference.

    Resamples whole units (the pairs), so the pairing is kept.

    Parameters
    ----------
    differences : array-like of shape (n,)
    confidence : coverage of the interval, in (0, 1).
    n_resamples : number of bootstrap resamples.
    random_state : seed of the resampling; the interval is a pure function of it.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}.")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}.")
    d = _as_differences(differences)
    rng = check_random_state(random_state)
    draws = rng.randint(0, d.size, size=(n_resamples, d.size))
    means = d[draws].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return MeanCI(mean=float(d.mean()), low=float(low), high=float(high))
