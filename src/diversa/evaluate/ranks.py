"""Comparing k algorithms over N datasets by ranks: Friedman test and Nemenyi post-hoc.

Raschka, "Model Evaluation, Model Selection, and Algorithm Selection in
Machine Learning" (arXiv:1811.12808, 2018), Section 6, recommends an omnibus
test before post-hoc pairwise tests; for many algorithms over many datasets
the standard protocol is Demsar (2006), "Statistical comparisons of
classifiers over multiple data sets", JMLR 7:

* Rank the algorithms on each dataset (1 = best, ties share the average
  rank) and average over datasets: R_j.
* Friedman (1937), "The use of ranks to avoid the assumption of normality
  implicit in the analysis of variance", JASA 32(200):
  ``chi2_F = 12 N / (k (k + 1)) [sum_j R_j^2 - k (k + 1)^2 / 4]``, divided by
  the tie correction ``1 - sum(t^3 - t) / (N k (k^2 - 1))`` exactly as
  ``scipy.stats.friedmanchisquare``; df = k - 1. Iman & Davenport (1980)'s
  less conservative ``F = (N - 1) chi2_F / (N (k - 1) - chi2_F)`` with
  df (k - 1, (k - 1)(N - 1)) is reported in ``details``.
* Nemenyi (1963) post-hoc: two algorithms differ when their average ranks
  differ by more than ``CD = q_alpha sqrt(k (k + 1) / (6 N))`` with
  ``q_alpha`` the studentized range quantile for k groups and infinite df,
  divided by sqrt(2).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from diversa.evaluate._shared import SignificanceResult, check_fraction, check_int

__all__ = ["average_ranks", "friedman_test", "nemenyi_cd", "nemenyi_pvalues"]


def _check_score_matrix(score_matrix) -> np.ndarray:
    scores = np.asarray(score_matrix, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"score_matrix must be 2-D (n_datasets, n_algorithms), got shape {scores.shape}.")
    if scores.shape[0] < 2:
        raise ValueError(f"score_matrix needs at least 2 datasets (rows), got {scores.shape[0]}.")
    if scores.shape[1] < 2:
        raise ValueError(f"score_matrix needs at least 2 algorithms (columns), got {scores.shape[1]}.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("score_matrix contains NaN or inf.")
    return scores


def _rank_matrix(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Per-dataset ranks, 1 = best, ties averaged: shape (n_datasets, n_algorithms)."""
    return stats.rankdata(-scores if higher_is_better else scores, axis=1)


def average_ranks(score_matrix, higher_is_better: bool = True) -> np.ndarray:
    """Mean rank of each algorithm over datasets (1 = best), shape (k,).

    Parameters
    ----------
    score_matrix : array-like of shape (N datasets, k algorithms).
    higher_is_better : False for errors or losses.
    """
    return _rank_matrix(_check_score_matrix(score_matrix), higher_is_better).mean(axis=0)


def friedman_test(score_matrix, higher_is_better: bool = True) -> SignificanceResult:
    """Friedman test that k algorithms perform alike over N datasets.

    ``statistic`` is the tie-corrected chi2_F (equal to
    ``scipy.stats.friedmanchisquare(*columns)`` for k >= 3; k = 2 is allowed
    here), df = k - 1. ``details``: "average_ranks" (k,) and "iman_davenport"
    (a SignificanceResult). All rows tied throughout give chi2_F = 0, p = 1.

    Parameters
    ----------
    score_matrix : array-like of shape (N datasets, k algorithms), N, k >= 2.
    """
    scores = _check_score_matrix(score_matrix)
    n_datasets, k = scores.shape
    ranks = _rank_matrix(scores, higher_is_better)
    mean_ranks = ranks.mean(axis=0)
    chi2 = 12.0 * n_datasets / (k * (k + 1)) * (np.sum(mean_ranks**2) - k * (k + 1) ** 2 / 4.0)
    tie_correction = 1.0 - _tie_sum(scores) / (n_datasets * k * (k**2 - 1))
    chi2 = 0.0 if tie_correction <= 0 else max(chi2 / tie_correction, 0.0)
    pvalue = float(stats.chi2.sf(chi2, k - 1))
    details = {"average_ranks": mean_ranks, "iman_davenport": _iman_davenport(chi2, n_datasets, k)}
    return SignificanceResult(float(chi2), pvalue, df=k - 1, details=details)


def _tie_sum(scores: np.ndarray) -> float:
    """sum over datasets and tie groups of t^3 - t."""
    total = 0.0
    for row in scores:
        _, counts = np.unique(row, return_counts=True)
        total += float(np.sum(counts.astype(float) ** 3 - counts))
    return total


def _iman_davenport(chi2: float, n_datasets: int, k: int) -> SignificanceResult:
    dfs = ((k - 1), (k - 1) * (n_datasets - 1))
    denominator = n_datasets * (k - 1) - chi2
    if denominator <= 0:
        # chi2_F at its maximum: every dataset ranks the algorithms identically.
        return SignificanceResult(float("inf"), 0.0, df=dfs)
    f = (n_datasets - 1) * chi2 / denominator
    return SignificanceResult(float(f), float(stats.f.sf(f, *dfs)), df=dfs)


def _nemenyi_q(k: int, alpha: float) -> float:
    return float(stats.studentized_range.ppf(1.0 - alpha, k, np.inf) / np.sqrt(2.0))


def nemenyi_cd(k: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks: ``q_alpha sqrt(k (k + 1) / (6 N))``.

    ``q_alpha`` at alpha = 0.05: k = 2 1.960, 3 2.344, 4 2.569, 5 2.728,
    10 3.164 (Demsar 2006, Table 5a).

    Parameters
    ----------
    k : number of algorithms (>= 2); n_datasets : N (>= 1).
    """
    k = check_int("k", k, minimum=2)
    n_datasets = check_int("n_datasets", n_datasets, minimum=1)
    alpha = check_fraction("alpha", alpha)
    return _nemenyi_q(k, alpha) * float(np.sqrt(k * (k + 1) / (6.0 * n_datasets)))


def nemenyi_pvalues(score_matrix, higher_is_better: bool = True) -> np.ndarray:
    """Pairwise Nemenyi p-values from average ranks, shape (k, k), 1 on the diagonal.

    ``q_ij = |R_i - R_j| / sqrt(k (k + 1) / (6 N)) * sqrt(2)`` and
    ``p_ij = P(studentized range(k, inf) > q_ij)`` (the statistic of
    scikit-posthocs' ``posthoc_nemenyi_friedman``); ``p_ij < alpha`` exactly
    when ``|R_i - R_j| > nemenyi_cd(k, N, alpha)``.
    """
    scores = _check_score_matrix(score_matrix)
    n_datasets, k = scores.shape
    mean_ranks = _rank_matrix(scores, higher_is_better).mean(axis=0)
    q = np.abs(mean_ranks[:, None] - mean_ranks[None, :]) / np.sqrt(k * (k + 1) / (6.0 * n_datasets)) * np.sqrt(2.0)
    upper = np.triu_indices(k, 1)
    pvalues = np.ones((k, k))
    pvalues[upper] = stats.studentized_range.sf(q[upper], k, np.inf)
    pvalues.T[upper] = pvalues[upper]
    return np.clip(pvalues, 0.0, 1.0)
