"""Paired comparisons of two methods measured on the same units.

Used wherever two methods are scored on the same seeds, folds or items:

* the sign-flip permutation test of the mean difference (Fisher, 1935;
  Pitman, 1937): exact over all 2^n sign patterns up to n = 20 and Monte
  Carlo beyond, so its p-value is exact under ties and does not depend on the
  scipy version;
* the Student t interval of the mean difference, optionally with the
  Nadeau-Bengio variance inflation for units that re-split one data set
  (Nadeau & Bengio, 2003, "Inference for the generalization error", Machine
  Learning 52);
* the minimum detectable effect of a one-sided t-test at a given power;
* the Wilcoxon signed-rank test (Wilcoxon, 1945) and a percentile bootstrap
  interval of the mean (Efron & Tibshirani, 1993).

Results are named tuples with scipy's field names, so
``stat, p = sign_flip_test(d)`` unpacks as scipy's results do.
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

import numpy as np
from scipy import optimize, stats
from sklearn.utils import check_random_state

#: Up to this many units the sign-flip test enumerates every sign pattern.
EXACT_SIGN_FLIP_MAX_N = 20

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
    _check_alternative(alternative)
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


def _check_alternative(alternative) -> None:
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}.")


def _half_sums(values: np.ndarray) -> np.ndarray:
    """The sums of ``values`` under all 2^len sign patterns."""
    signs = 1 - 2 * ((np.arange(2 ** values.size)[:, None] >> np.arange(values.size)) & 1)
    return signs @ values


def _count_at_least(d: np.ndarray, threshold: float) -> int:
    """How many of the 2^n sign patterns give ``sum(sign * d) >= threshold`` (meet in the middle)."""
    half = d.size // 2
    left, right = _half_sums(d[:half]), np.sort(_half_sums(d[half:]))
    return int(np.sum(right.size - np.searchsorted(right, threshold - left, side="left")))


def sign_flip_test(differences, alternative: Alternative = "greater", *, n_resamples: int = 100_000,
                   random_state=0) -> TestResult:
    """Sign-flip permutation test that paired differences are symmetric about zero.

    Under H0 every unit's difference is as likely to have either sign, so the
    observed sum is compared with the sums of all 2^n sign patterns. Exact for
    n <= 20 (meet-in-the-middle enumeration); beyond, ``n_resamples`` random
    patterns give ``(1 + hits) / (1 + n_resamples)``. Zero differences count
    as they should (they do not move the sum), so ties need no correction.
    Sums equal up to floating-point rounding count as equal.

    Parameters
    ----------
    differences : array-like of shape (n,), method minus baseline per unit.
    alternative : "greater" (H1: the mean is positive), "less" or "two-sided".
    n_resamples, random_state : the Monte Carlo draw, used only when n > 20.

    Returns
    -------
    TestResult with ``statistic`` the mean difference.
    """
    _check_alternative(alternative)
    d = _as_differences(differences)
    observed = float(d.sum())
    tolerance = 1e-9 * float(np.abs(d).sum())
    if alternative == "less":
        d, observed = -d, -observed
    elif alternative == "two-sided":
        observed = abs(observed)
    if d.size <= EXACT_SIGN_FLIP_MAX_N:
        hits = _count_at_least(d, observed - tolerance)
        if alternative == "two-sided":
            # The null distribution is symmetric: both tails hold the same count.
            hits = 2 * hits if observed > tolerance else 2 ** d.size
        pvalue = hits / 2 ** d.size
    else:
        rng = check_random_state(random_state)
        hits = 0
        for start in range(0, n_resamples, 10_000):
            signs = rng.choice((-1.0, 1.0), size=(min(10_000, n_resamples - start), d.size))
            sums = signs @ d
            hits += int(np.sum((np.abs(sums) if alternative == "two-sided" else sums) >= observed - tolerance))
        pvalue = (1 + hits) / (1 + n_resamples)
    return TestResult(statistic=float(np.mean(differences)), pvalue=float(min(1.0, pvalue)))


def corrected_standard_error(differences, test_over_train: float = 0.0) -> float:
    """Standard error of the mean difference, ``s * sqrt(1/n + test_over_train)``.

    ``test_over_train = 0`` is the usual ``s / sqrt(n)`` for independent
    units. For units that re-split one data set, ``n_test / n_train`` adds
    Nadeau and Bengio's (2003) correction for the overlap of training sets.
    """
    d = _as_differences(differences)
    if test_over_train < 0:
        raise ValueError(f"test_over_train must be >= 0, got {test_over_train}.")
    if d.size < 2:
        return float("nan")
    return float(np.std(d, ddof=1) * np.sqrt(1.0 / d.size + test_over_train))


def t_mean_ci(differences, *, confidence: float = 0.95, test_over_train: float = 0.0) -> MeanCI:
    """Student t confidence interval of the mean difference (n - 1 degrees of freedom).

    Exact coverage for normal differences at any n (the percentile bootstrap
    covers about 0.875 at n = 5 for a nominal 0.95). With ``test_over_train``
    the standard error carries the Nadeau-Bengio correction, so the interval
    matches the corrected resampled t-test. NaN bounds for a single unit.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}.")
    d = _as_differences(differences)
    se = corrected_standard_error(d, test_over_train)
    if d.size < 2:
        return MeanCI(float(d.mean()), float("nan"), float("nan"))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, d.size - 1) * se)
    return MeanCI(float(d.mean()), float(d.mean() - half), float(d.mean() + half))


def corrected_t_test(differences, alternative: Alternative = "greater", *,
                     test_over_train: float = 0.0) -> TestResult:
    """One-sample t-test of the mean difference with the Nadeau-Bengio standard error.

    With ``test_over_train = 0`` this is ``scipy.stats.ttest_1samp(d, 0)``.
    Zero spread gives p = 0 or 1 by the sign of the mean (p = 1 when it is 0).
    """
    _check_alternative(alternative)
    d = _as_differences(differences)
    if d.size < 2:
        raise ValueError(f"differences must hold at least 2 units for a t-test, got {d.size}.")
    se = corrected_standard_error(d, test_over_train)
    mean = float(d.mean())
    t = mean / se if se > 0 else (np.inf * np.sign(mean) if mean != 0 else 0.0)
    dist = stats.t(d.size - 1)
    if alternative == "greater":
        pvalue = dist.sf(t) if mean != 0 or se > 0 else 1.0
    elif alternative == "less":
        pvalue = dist.cdf(t) if mean != 0 or se > 0 else 1.0
    else:
        pvalue = 2 * dist.sf(abs(t)) if mean != 0 or se > 0 else 1.0
    return TestResult(statistic=float(t), pvalue=float(min(1.0, pvalue)))


def minimum_detectable_effect(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8,
                              test_over_train: float = 0.0) -> float:
    """Smallest true mean difference a one-sided level-``alpha`` t-test detects with ``power``.

    Solves ``P(T' > t_{1-alpha, n-1}) = power`` for the non-centrality of a
    non-central t with n - 1 degrees of freedom, then scales it by the
    (corrected) standard error ``sd * sqrt(1/n + test_over_train)``. In the
    units of the differences. Infinite when n < 2 or when no sign pattern of
    n units can reach ``alpha`` (2^-n >= alpha, the exact sign-flip floor);
    0 when the differences have no spread.
    """
    if n < 2 or 2.0 ** -n >= alpha:
        return float("inf")
    if not np.isfinite(sd) or sd < 0:
        raise ValueError(f"sd must be a finite number >= 0, got {sd}.")
    if sd == 0:
        return 0.0
    return float(_noncentrality_for_power(n - 1, alpha, power) * sd * np.sqrt(1.0 / n + test_over_train))


@functools.lru_cache(maxsize=256)
def _noncentrality_for_power(df: int, alpha: float, power: float) -> float:
    """Non-centrality at which a one-sided level-alpha t-test with ``df`` degrees of freedom has ``power``."""
    critical = stats.t.ppf(1.0 - alpha, df)
    return float(optimize.brentq(lambda delta: stats.nct.sf(critical, df, delta) - power, 0.0, 100.0))
