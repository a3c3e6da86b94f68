"""Tests that compare classifiers through their proportions of correct predictions.

Section 6 of Raschka, "Model Evaluation, Model Selection, and Algorithm
Selection in Machine Learning" (arXiv:1811.12808, 2018), for fitted models
scored on a test set:

* McNemar (1947), "Note on the sampling error of the difference between
  correlated proportions or percentages", Psychometrika 12(2): two models on
  the same test set; only the discordant counts b (model 1 right, model 2
  wrong) and c (the reverse) matter. Chi-square with Edwards' (1948)
  continuity correction, or the exact binomial test (recommended for
  b + c < 25).
* Cochran (1950), "The comparison of percentages in matched samples",
  Biometrika 37(3/4): the omnibus Q test for L >= 2 models on the same test
  set (for L = 2 it equals the uncorrected McNemar chi-square).
* Looney (1988), "A statistical technique for comparing the accuracies of
  several classifiers", Pattern Recognition Letters 8(1): an F-test on the
  same correctness matrix.
* The difference of two independent proportions (two models, each on its own
  test set); misleading when both use the same test set (Dietterich 1998).

These compare fixed fitted MODELS on one test set; they ignore the variance
due to the training set, so they are not algorithm-comparison tests (for that
see ``diversa.evaluate.cv_tests``). Applying McNemar to two random-seed
variants of one algorithm rejects often, because the two fitted models do
differ. Layout and numbers follow mlxtend 0.25 (same author): table[0, 0] both
right, table[0, 1] model 1 right only, table[1, 0] model 2 right only,
table[1, 1] both wrong.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
from scipy import stats

from diversa.evaluate._shared import (
    SignificanceResult,
    check_choice,
    check_predictions,
    correctness_matrix,
)

__all__ = ["cochrans_q", "ftest", "mcnemar", "mcnemar_table", "mcnemar_tables", "proportion_difference"]


def _pair_table(right_1: np.ndarray, right_2: np.ndarray) -> np.ndarray:
    return np.array(
        [
            [np.sum(right_1 & right_2), np.sum(right_1 & ~right_2)],
            [np.sum(~right_1 & right_2), np.sum(~right_1 & ~right_2)],
        ],
        dtype=np.int64,
    )


def mcnemar_table(y_true, y_pred1, y_pred2) -> np.ndarray:
    """2x2 table of agreement in correctness between two models on the same examples.

    Parameters
    ----------
    y_true, y_pred1, y_pred2 : array-likes of shape (n,).

    Returns
    -------
    int array of shape (2, 2): [[both right, only model 1 right],
    [only model 2 right, both wrong]].
    """
    y_true, (pred1, pred2) = check_predictions(y_true, [y_pred1, y_pred2], minimum_models=2)
    return _pair_table(pred1 == y_true, pred2 == y_true)


def mcnemar_tables(y_true, *y_preds) -> dict[str, np.ndarray]:
    """McNemar tables for every pair of at least two models.

    Returns a dict keyed ``"model_i vs model_j"`` (i < j, mlxtend's keys) of
    int (2, 2) tables laid out as in ``mcnemar_table`` with model i first.
    """
    y_true, preds = check_predictions(y_true, y_preds, minimum_models=2)
    right = correctness_matrix(y_true, preds).astype(bool)
    return {
        f"model_{i} vs model_{j}": _pair_table(right[:, i], right[:, j])
        for i, j in combinations(range(len(preds)), 2)
    }


def _check_table(table) -> np.ndarray:
    table = np.asarray(table)
    if table.shape != (2, 2):
        raise ValueError(f"table must have shape (2, 2), got {table.shape}.")
    if table.dtype.kind not in "iuf" or not np.all(np.isfinite(table)) or np.any(table < 0):
        raise ValueError("table must hold finite, non-negative counts.")
    return table


def mcnemar(table, corrected: bool = True, exact: bool = False) -> SignificanceResult:
    """McNemar's test that two models on the same test set have equal accuracy.

    With b = table[0, 1] and c = table[1, 0]:
    chi-square ``(|b - c| - 1)^2 / (b + c)`` (Edwards' correction, ``corrected``)
    or ``(b - c)^2 / (b + c)``, p = chi2(1).sf; exact: ``statistic`` is None and
    ``p = min(1, 2 BinomCDF(min(b, c); b + c, 1/2))`` (equal to scipy's
    two-sided ``binomtest(b, b + c)``).

    Parameters
    ----------
    table : array-like of shape (2, 2), e.g. from ``mcnemar_table``.

    Raises ValueError for the chi-square version when b + c == 0 (no
    discordant pairs, the statistic is 0/0); the exact test then gives p = 1.
    """
    table = _check_table(table)
    b, c = table[0, 1], table[1, 0]
    details = {"b": b, "c": c}
    if exact:
        pvalue = min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), b + c, 0.5)))
        return SignificanceResult(None, pvalue, df=None, details=details)
    if b + c == 0:
        raise ValueError("table has no discordant pairs (b + c = 0): the chi-square statistic is undefined; "
                         "use exact=True (p = 1).")
    gap = abs(b - c) - 1.0 if corrected else float(b - c)
    chi2 = gap**2 / float(b + c)
    return SignificanceResult(float(chi2), float(stats.chi2.sf(chi2, 1)), df=1, details=details)


def cochrans_q(y_true, *y_preds) -> SignificanceResult:
    """Cochran's Q test that L >= 2 models have equal accuracy on the same test set.

    From the (n, L) 0/1 correctness matrix with column sums G_j, row sums
    L_i and total T: ``Q = (L - 1) (L sum_j G_j^2 - T^2) / (L T - sum_i L_i^2)``,
    p = chi2(L - 1).sf(Q). Computed from the sums directly (mlxtend loops
    over all 2^L correctness patterns). When every example is answered
    alike by all models the denominator is 0 and Q = 0, p = 1.

    Parameters
    ----------
    y_true : array-like of shape (n,); y_preds : L array-likes of shape (n,).
    """
    y_true, preds = check_predictions(y_true, y_preds, minimum_models=2)
    right = correctness_matrix(y_true, preds)
    n_models = right.shape[1]
    per_model = right.sum(axis=0)
    per_example = right.sum(axis=1)
    total = int(per_model.sum())
    numerator = n_models * int(np.dot(per_model, per_model)) - total**2
    denominator = n_models * total - int(np.dot(per_example, per_example))
    details = {"correct_per_model": per_model}
    if denominator == 0:
        return SignificanceResult(0.0, 1.0, df=n_models - 1, details=details)
    q = (n_models - 1) * numerator / denominator
    return SignificanceResult(float(q), float(stats.chi2.sf(q, n_models - 1)), df=n_models - 1, details=details)


def ftest(y_true, *y_preds) -> SignificanceResult:
    """Looney's F-test that L >= 2 models have equal accuracy on the same n test examples.

    A two-way ANOVA of the correctness matrix (models x examples):
    ``SSA = n sum_j ACC_j^2 - n L ACC^2``, ``SSB = (1/L) sum_i L_i^2 - n L ACC^2``,
    ``SST = n L ACC (1 - ACC)``, ``SSAB = SST - SSA - SSB``,
    ``F = [SSA / (L - 1)] / [SSAB / ((L - 1)(n - 1))]``. As mlxtend does, the
    p-value uses df2 = (L - 1) n, not (L - 1)(n - 1) (``df`` reports the pair
    used). Identical models (SSA = SSAB = 0) give F = 0, p = 1 with a warning.
    """
    y_true, preds = check_predictions(y_true, y_preds, minimum_models=2)
    right = correctness_matrix(y_true, preds)
    n_examples, n_models = right.shape
    accuracies = right.sum(axis=0) / n_examples
    mean_accuracy = np.sum(accuracies) / n_models
    per_example = right.sum(axis=1)
    baseline = n_examples * n_models * mean_accuracy**2
    ssa = n_examples * np.sum(accuracies**2) - baseline
    ssb = np.dot(per_example, per_example) / n_models - baseline
    sst = n_examples * n_models * mean_accuracy * (1.0 - mean_accuracy)
    ssab = sst - ssa - ssb
    dfs = (n_models - 1, (n_models - 1) * n_examples)
    details = {"accuracies": accuracies}
    mean_ssa = ssa / (n_models - 1)
    mean_ssab = ssab / ((n_models - 1) * (n_examples - 1)) if n_examples > 1 else 0.0
    if mean_ssab <= 0:
        if np.isclose(mean_ssa, 0.0, atol=1e-12):
            warnings.warn("All models are equally correct on every example: F = 0/0, returning F=0, p=1.",
                          RuntimeWarning, stacklevel=2)
            return SignificanceResult(0.0, 1.0, df=dfs, details=details)
        return SignificanceResult(float("inf"), 0.0, df=dfs, details=details)
    f = mean_ssa / mean_ssab
    return SignificanceResult(float(f), float(stats.f.sf(f, *dfs)), df=dfs, details=details)


def _check_accuracy(name: str, value) -> float:
    if isinstance(value, bool) or not np.isscalar(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a proportion in [0, 1], got {value!r}.")
    return float(value)


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    return int(value)


def _normal_pvalue(z: float, alternative: str) -> float:
    if alternative == "less":
        return float(stats.norm.cdf(z))
    if alternative == "greater":
        return float(stats.norm.sf(z))
    return float(min(1.0, 2.0 * stats.norm.sf(abs(z))))


def proportion_difference(
    acc1, acc2, n1, n2=None, pooled: bool = True, alternative: str = "two-sided"
) -> SignificanceResult:
    """z-test for the difference of two accuracies measured on independent test sets.

    Defaults differ from ``mlxtend.evaluate.proportion_difference``: the
    variance is pooled (the article's test; mlxtend's is unpooled) and the
    p-value is two-sided (mlxtend's is one-sided, Phi(z), H1: acc1 < acc2).
    ``pooled=False, alternative="less"`` gives mlxtend's numbers exactly.

    ``pooled=True`` (the article's test): with p = (n1 acc1 + n2 acc2) /
    (n1 + n2), ``z = (acc1 - acc2) / sqrt(p (1 - p) (1/n1 + 1/n2))``, which for
    n1 = n2 = n is the article's ``sqrt(2 sigma^2 / n)`` with
    sigma^2 = ACC_avg (1 - ACC_avg). ``pooled=False`` uses
    ``acc1 (1 - acc1)/n1 + acc2 (1 - acc2)/n2`` (mlxtend). ``alternative``:
    "two-sided", "less" (H1: acc1 < acc2; mlxtend's p = Phi(z)) or "greater".
    When the variance is 0 (both accuracies 0 or 1) and the accuracies are
    equal, z = 0.

    Parameters
    ----------
    acc1, acc2 : accuracies in [0, 1]; n1 : test-set size of model 1;
    n2 : of model 2 (default n1).
    """
    acc1, acc2 = _check_accuracy("acc1", acc1), _check_accuracy("acc2", acc2)
    n1 = _check_size("n1", n1)
    n2 = n1 if n2 is None else _check_size("n2", n2)
    check_choice("alternative", alternative, ("two-sided", "less", "greater"))
    if pooled:
        shared = (n1 * acc1 + n2 * acc2) / (n1 + n2)
        variance = shared * (1.0 - shared) * (1.0 / n1 + 1.0 / n2)
    else:
        variance = acc1 * (1.0 - acc1) / n1 + acc2 * (1.0 - acc2) / n2
    difference = acc1 - acc2
    if variance == 0:
        z = 0.0 if difference == 0 else float(np.sign(difference) * np.inf)
    else:
        z = difference / np.sqrt(variance)
    return SignificanceResult(float(z), _normal_pvalue(z, alternative), details={"variance": variance})
