"""Confidence intervals from bootstrap replicates, and the bootstrap of a statistic.

Raschka, "Model Evaluation, Model Selection, and Algorithm Selection in
Machine Learning" (arXiv:1811.12808, 2018), Section 3: from B bootstrap
replicates of a score (e.g. the per-round values of
``diversa.evaluate.bootstrap.bootstrap_point632_score``) a 1 - alpha interval
is either the percentile interval [q_{alpha/2}, q_{1-alpha/2}] of the
replicates or the t interval ``mean +- t_{1-alpha/2, B-1} SE`` with SE the
standard deviation of the replicates (Efron & Tibshirani 1993, "An
Introduction to the Bootstrap", chapters 12-13). ``bootstrap_statistic`` is
the ordinary nonparametric bootstrap of any scalar statistic, with
``mlxtend.evaluate.bootstrap``'s resampling stream and, on request, its
quantile rule.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from scipy import stats

from diversa.evaluate._shared import Interval, check_choice, check_fraction, check_int, legacy_random_state

__all__ = ["BootstrapStatistic", "bootstrap_ci", "bootstrap_statistic"]


class BootstrapStatistic(NamedTuple):
    """A statistic on the original sample, its bootstrap standard error and CI."""

    original: float
    se: float
    ci: Interval


def bootstrap_ci(scores, alpha: float = 0.05, method: str = "percentile") -> Interval:
    """Confidence interval from B bootstrap replicate scores.

    ``"percentile"``: the alpha/2 and 1 - alpha/2 quantiles of the replicates
    (numpy's linear interpolation). ``"t"``: ``mean +- t_{1-alpha/2, B-1} SE``
    with ``SE`` the standard deviation of the replicates (ddof=1), which is the
    bootstrap standard error itself.

    Parameters
    ----------
    scores : array-like of shape (B,), B >= 2, finite.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or scores.size < 2 or not np.all(np.isfinite(scores)):
        raise ValueError("scores must be a finite 1-D array with at least 2 replicates.")
    alpha = check_fraction("alpha", alpha)
    check_choice("method", method, ("percentile", "t"))
    if method == "percentile":
        low, high = np.percentile(scores, [100.0 * alpha / 2.0, 100.0 * (1.0 - alpha / 2.0)])
        return Interval(float(low), float(high))
    half = stats.t.ppf(1.0 - alpha / 2.0, scores.size - 1) * scores.std(ddof=1)
    return Interval(float(scores.mean() - half), float(scores.mean() + half))


def _mlxtend_quantile(sorted_values: np.ndarray, q: float) -> float:
    # mlxtend's rule: rank round(q B) - 1 (Python rounding, half to even) clipped to the array.
    rank = min(max(round(q * sorted_values.shape[0]) - 1, 0), sorted_values.shape[0] - 1)
    return float(sorted_values[rank])


def bootstrap_statistic(
    x,
    func,
    n_rounds: int = 1000,
    alpha: float = 0.05,
    ddof: int = 1,
    quantile: str = "linear",
    random_state=None,
) -> BootstrapStatistic:
    """Ordinary nonparametric bootstrap of a scalar statistic (Efron & Tibshirani 1993).

    The default interval differs from ``mlxtend.evaluate.bootstrap``'s: it
    takes numpy's linear percentiles of the replicates (``quantile="linear"``)
    where mlxtend takes the sorted replicate at rank round(q B) - 1
    (``quantile="mlxtend"`` gives mlxtend's numbers exactly); the level is
    ``1 - alpha`` (mlxtend's ``ci``). The resamples, the statistic and its
    standard error are mlxtend's.

    Resamples the rows of ``x`` with replacement ``n_rounds`` times from
    ``np.random.RandomState(random_state)`` (mlxtend's ``bootstrap`` stream),
    evaluates ``func`` on each resample, and returns the statistic on the
    original sample, the standard deviation of the replicates (``ddof``) and
    a 1 - alpha interval. ``quantile="linear"`` takes numpy percentiles;
    ``quantile="mlxtend"`` reproduces ``mlxtend.evaluate.bootstrap`` exactly
    (sorted replicate at rank round(q B) - 1).

    Parameters
    ----------
    x : array-like of shape (n,) or (n, d); rows are resampled.
    func : callable mapping an array like ``x`` to a scalar.
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError("x must be an array with at least one row.")
    n_rounds = check_int("n_rounds", n_rounds, minimum=2)
    alpha = check_fraction("alpha", alpha)
    check_choice("quantile", quantile, ("linear", "mlxtend"))
    original = func(x)
    if np.ndim(original) != 0 or not isinstance(np.asarray(original).item(), numbers.Number):
        raise ValueError("func must return a scalar.")
    rng = legacy_random_state(random_state)
    replicates = np.empty(n_rounds)
    for r in range(n_rounds):
        replicates[r] = func(x[rng.randint(0, x.shape[0], size=x.shape[0])])
    se = float(np.std(replicates, ddof=ddof))
    if quantile == "linear":
        ci = bootstrap_ci(replicates, alpha, "percentile")
    else:
        coverage = 1.0 - alpha
        tail = (1.0 - coverage) / 2.0
        ordered = np.sort(replicates)
        ci = Interval(_mlxtend_quantile(ordered, tail), _mlxtend_quantile(ordered, coverage + tail))
    return BootstrapStatistic(float(original), se, ci)
