"""Paired tests that compare two learning ALGORITHMS by resampling the training data.

Section 6 of Raschka, "Model Evaluation, Model Selection, and Algorithm
Selection in Machine Learning" (arXiv:1811.12808, 2018). Every test fits both
estimators on the same training parts, scores them on the same test parts and
tests the per-split differences ``d = score(estimator1) - score(estimator2)``:

* resampled paired t-test (J random splits) and k-fold CV paired t-test:
  ``t = mean(d) sqrt(J) / std(d, ddof=1)``, df = J - 1. Dietterich (1998),
  "Approximate statistical tests for comparing supervised classification
  learning algorithms", Neural Computation 10(7), showed both have inflated
  Type I error because the splits share data.
* Dietterich's 5x2cv paired t-test: five 50/50 splits, both directions;
  ``t = d_11 / sqrt(mean_i s_i^2)``, df = 5 (d_11: first split, first fold).
* Alpaydin (1999), "Combined 5 x 2 cv F test for comparing supervised
  classification learning algorithms", Neural Computation 11(8):
  ``F = sum d_ij^2 / (2 sum_i s_i^2)`` ~ F(10, 5); lower Type I error and
  more power than the 5x2cv t.
* Nadeau & Bengio (2003), "Inference for the generalization error", Machine
  Learning 52(3): the corrected resampled t,
  ``t = mean(d) / sqrt((1/J + n_test/n_train) s_d^2)``; applied to r-times
  repeated k-fold by Bouckaert & Frank (2004), "Evaluating the replicability
  of significance tests for comparing learning algorithms", PAKDD.

Compatibility with mlxtend 0.25 (for exact equality of t, F and p): the
resampled and 5x2cv splits come from ``np.random.RandomState(random_state)``,
one ``randint(0, 32767)`` per round seeding scikit-learn's unstratified
``train_test_split``; the k-fold test uses unstratified ``KFold`` without
shuffling by default. Unlike mlxtend, the estimators are cloned before every
fit (mlxtend refits the passed objects), and an all-zero set of differences
gives t = 0 (or F = 0), p = 1 with a warning instead of 0/0 = NaN.

The ``*_from_differences`` functions test precomputed differences, so one
set of fits can feed several tests (``paired_scores`` computes them).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn.base import is_classifier
from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, train_test_split

from diversa.evaluate._shared import (
    SignificanceResult,
    check_fraction,
    check_int,
    check_X_y,
    legacy_random_state,
    resolve_scorer,
    scores_over_splits,
    sklearn_random_state,
)

__all__ = [
    "combined_ftest_5x2cv",
    "corrected_repeated_kfold_ttest",
    "corrected_resampled_ttest",
    "five_by_two_splits",
    "ftest_5x2cv_from_differences",
    "paired_scores",
    "paired_ttest",
    "paired_ttest_5x2cv",
    "paired_ttest_kfold_cv",
    "paired_ttest_resampled",
    "resampled_splits",
    "ttest_5x2cv_from_differences",
]

_MLXTEND_SEED_BOUND = 32767


def _check_differences(differences, *, shape=None) -> np.ndarray:
    d = np.asarray(differences, dtype=float)
    if shape is not None and d.shape != shape:
        raise ValueError(f"differences must have shape {shape}, got {d.shape}.")
    if shape is None and (d.ndim != 1 or d.size < 2):
        raise ValueError(f"differences must be 1-D with at least 2 values, got shape {d.shape}.")
    if not np.all(np.isfinite(d)):
        raise ValueError("differences contain NaN or inf.")
    return d


def _t_result(mean, se, dof, details) -> SignificanceResult:
    """Two-sided t-test of mean / se with ``dof`` degrees of freedom, 0/0 and x/0 handled."""
    if se == 0:
        if mean == 0:
            warnings.warn("All score differences are zero: returning t=0, p=1.", RuntimeWarning, stacklevel=3)
            return SignificanceResult(0.0, 1.0, df=dof, details=details)
        return SignificanceResult(float(np.sign(mean) * np.inf), 0.0, df=dof, details=details)
    t = mean / se
    return SignificanceResult(float(t), float(2.0 * stats.t.sf(abs(t), dof)), df=dof, details=details)


def paired_ttest(differences) -> SignificanceResult:
    """Paired t-test on J score differences: ``t = mean(d) sqrt(J) / std(d, ddof=1)``, df = J - 1.

    The statistic of the resampled and k-fold CV paired t-tests. Identical to
    ``scipy.stats.ttest_1samp(d, 0)`` except for the zero-variance cases
    (all zero: t = 0, p = 1; constant non-zero: t = +-inf, p = 0).
    """
    d = _check_differences(differences)
    se = np.sqrt(np.sum((d - d.mean()) ** 2) / (d.size - 1)) / np.sqrt(d.size)
    return _t_result(d.mean(), se, d.size - 1, {"differences": d})


def corrected_resampled_ttest(differences, n_train, n_test) -> SignificanceResult:
    """Nadeau-Bengio corrected resampled t-test on J score differences.

    ``t = mean(d) / sqrt((1/J + n_test/n_train) s_d^2)``, s_d^2 the sample
    variance (ddof=1), df = J - 1. The extra ``n_test/n_train`` term accounts
    for the correlation between splits that share training data.

    Parameters
    ----------
    differences : array-like of shape (J,), J >= 2.
    n_train, n_test : training and test sizes of each split (> 0).
    """
    d = _check_differences(differences)
    if not (np.isscalar(n_train) and np.isscalar(n_test)) or n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive numbers, got {n_train!r} and {n_test!r}.")
    variance = np.sum((d - d.mean()) ** 2) / (d.size - 1)
    se = np.sqrt((1.0 / d.size + n_test / n_train) * variance)
    return _t_result(d.mean(), se, d.size - 1, {"differences": d, "test_over_train": n_test / n_train})


def _fold_variances(d: np.ndarray) -> np.ndarray:
    """s_i^2 = sum_j (d_ij - mean_i)^2 over the two folds of each replication, shape (5,)."""
    return np.sum((d - d.mean(axis=1, keepdims=True)) ** 2, axis=1)


def ttest_5x2cv_from_differences(differences) -> SignificanceResult:
    """Dietterich's 5x2cv t: ``t = d[0, 0] / sqrt(sum_i s_i^2 / 5)``, df = 5, two-sided.

    Parameters
    ----------
    differences : array-like of shape (5, 2); row i = replication, column j =
        which half was the training set.
    """
    d = _check_differences(differences, shape=(5, 2))
    return _t_result(d[0, 0], np.sqrt(_fold_variances(d).sum() / 5.0), 5, {"differences": d})


def ftest_5x2cv_from_differences(differences) -> SignificanceResult:
    """Alpaydin's combined 5x2cv F: ``F = sum_ij d_ij^2 / (2 sum_i s_i^2)`` ~ F(10, 5).

    Parameters
    ----------
    differences : array-like of shape (5, 2), as for the 5x2cv t-test.
    """
    d = _check_differences(differences, shape=(5, 2))
    numerator = np.sum(d**2)
    denominator = 2.0 * _fold_variances(d).sum()
    details = {"differences": d}
    if denominator == 0:
        if numerator == 0:
            warnings.warn("All score differences are zero: returning F=0, p=1.", RuntimeWarning, stacklevel=2)
            return SignificanceResult(0.0, 1.0, df=(10, 5), details=details)
        return SignificanceResult(float("inf"), 0.0, df=(10, 5), details=details)
    f = numerator / denominator
    return SignificanceResult(float(f), float(stats.f.sf(f, 10, 5)), df=(10, 5), details=details)


def resampled_splits(n_samples: int, num_rounds: int = 30, test_size=0.3, random_state=None) -> list:
    """mlxtend's resampled-t splits: per round ``train_test_split`` seeded by ``randint(0, 32767)``.

    Returns a list of ``num_rounds`` (train, test) index arrays in the row
    order ``train_test_split`` gives; unstratified, as in mlxtend.
    """
    n_samples = check_int("n_samples", n_samples, minimum=2)
    num_rounds = check_int("num_rounds", num_rounds, minimum=2)
    if not isinstance(test_size, (int, float)) or isinstance(test_size, bool):
        raise ValueError(f"test_size must be an int or a float, got {test_size!r}.")
    if isinstance(test_size, float):
        check_fraction("test_size", test_size)
    rng = legacy_random_state(random_state)
    indices = np.arange(n_samples)
    return [
        tuple(train_test_split(indices, test_size=test_size, random_state=rng.randint(0, _MLXTEND_SEED_BOUND)))
        for _ in range(num_rounds)
    ]


def five_by_two_splits(n_samples: int, random_state=None) -> list:
    """The 10 (train, test) splits of 5x2cv in mlxtend's order.

    For replication i a 50/50 ``train_test_split`` seeded by
    ``randint(0, 32767)`` gives halves (S1, S2); the list holds
    (S1, S2), (S2, S1) for i = 1..5, so ``d.reshape(5, 2)`` lines up with
    ``ttest_5x2cv_from_differences``.
    """
    n_samples = check_int("n_samples", n_samples, minimum=4)
    rng = legacy_random_state(random_state)
    indices = np.arange(n_samples)
    splits = []
    for _ in range(5):
        first, second = train_test_split(indices, test_size=0.5, random_state=rng.randint(0, _MLXTEND_SEED_BOUND))
        splits.extend([(first, second), (second, first)])
    return splits


def paired_scores(estimator1, estimator2, X, y, splits, scoring=None, n_jobs=None, **fit_params) -> np.ndarray:
    """Scores of both estimators on each (train, test) split, shape (n_splits, 2).

    Both are cloned and fitted on the same training rows and scored on the
    same test rows. ``scoring`` defaults to accuracy (classifiers) or R^2
    (regressors) of ``estimator1``. ``n_jobs`` runs splits through joblib.
    ``fit_params`` go to both fits; per-sample arrays (length n_samples, e.g.
    ``sample_weight``) are restricted to the training rows.
    """
    X, y = check_X_y(X, y, estimator=estimator1)
    scorer = resolve_scorer(estimator1, scoring)
    return scores_over_splits([estimator1, estimator2], X, y, list(splits), scorer, n_jobs=n_jobs,
                              fit_params=fit_params)


def _differences(estimator1, estimator2, X, y, splits, scoring, n_jobs):
    scores = paired_scores(estimator1, estimator2, X, y, splits, scoring=scoring, n_jobs=n_jobs)
    return scores[:, 0] - scores[:, 1], scores


def _with_scores(result: SignificanceResult, scores: np.ndarray) -> SignificanceResult:
    result.details["scores"] = scores
    return result


def paired_ttest_resampled(
    estimator1, estimator2, X, y, num_rounds: int = 30, test_size=0.3, scoring=None, random_state=None, n_jobs=None
) -> SignificanceResult:
    """Resampled paired t-test over ``num_rounds`` random train/test splits (mlxtend's splits).

    Known to have a badly inflated Type I error; prefer
    ``combined_ftest_5x2cv`` or ``corrected_resampled_ttest``.
    ``details`` holds the differences and the (J, 2) scores.
    """
    X, y = check_X_y(X, y, estimator=estimator1)
    splits = resampled_splits(X.shape[0], num_rounds, test_size, random_state)
    d, scores = _differences(estimator1, estimator2, X, y, splits, scoring, n_jobs)
    return _with_scores(paired_ttest(d), scores)


def paired_ttest_kfold_cv(
    estimator1, estimator2, X, y, cv: int = 10, scoring=None, shuffle: bool = False, random_state=None, n_jobs=None
) -> SignificanceResult:
    """k-fold cross-validation paired t-test, df = k - 1.

    Folds are ``KFold(cv, shuffle=shuffle, random_state=random_state if
    shuffle)``, unstratified as in mlxtend, so data sorted by class (iris)
    gives unbalanced folds unless ``shuffle=True``.
    """
    X, y = check_X_y(X, y, estimator=estimator1)
    cv = check_int("cv", cv, minimum=2)
    folds = KFold(cv, shuffle=True, random_state=sklearn_random_state(random_state)) if shuffle else KFold(cv)
    d, scores = _differences(estimator1, estimator2, X, y, folds.split(X), scoring, n_jobs)
    return _with_scores(paired_ttest(d), scores)


def _differences_5x2cv(estimator1, estimator2, X, y, scoring, random_state, n_jobs):
    X, y = check_X_y(X, y, estimator=estimator1)
    splits = five_by_two_splits(X.shape[0], random_state)
    d, scores = _differences(estimator1, estimator2, X, y, splits, scoring, n_jobs)
    return d.reshape(5, 2), scores


def paired_ttest_5x2cv(estimator1, estimator2, X, y, scoring=None, random_state=None, n_jobs=None):
    """Dietterich's 5x2cv paired t-test of two estimators (10 fits each), df = 5."""
    d, scores = _differences_5x2cv(estimator1, estimator2, X, y, scoring, random_state, n_jobs)
    return _with_scores(ttest_5x2cv_from_differences(d), scores)


def combined_ftest_5x2cv(estimator1, estimator2, X, y, scoring=None, random_state=None, n_jobs=None):
    """Alpaydin's combined 5x2cv F-test of two estimators (10 fits each), df = (10, 5)."""
    d, scores = _differences_5x2cv(estimator1, estimator2, X, y, scoring, random_state, n_jobs)
    return _with_scores(ftest_5x2cv_from_differences(d), scores)


def corrected_repeated_kfold_ttest(
    estimator1,
    estimator2,
    X,
    y,
    k: int = 10,
    n_repeats: int = 10,
    scoring=None,
    stratify: bool = True,
    random_state=None,
    n_jobs=None,
) -> SignificanceResult:
    """Corrected repeated k-fold t-test (Bouckaert & Frank 2004; Nadeau & Bengio 2003).

    Runs ``n_repeats`` shuffled k-fold partitions (stratified for classifiers
    when ``stratify``), and applies ``corrected_resampled_ttest`` to the
    J = k n_repeats differences with the mean training and test sizes of the
    folds (n_test/n_train = 1/(k - 1) when k divides n).
    """
    X, y = check_X_y(X, y, estimator=estimator1)
    k = check_int("k", k, minimum=2)
    n_repeats = check_int("n_repeats", n_repeats, minimum=1)
    splitter_type = RepeatedStratifiedKFold if stratify and is_classifier(estimator1) else RepeatedKFold
    splitter = splitter_type(n_splits=k, n_repeats=n_repeats, random_state=sklearn_random_state(random_state))
    splits = list(splitter.split(X, y))
    d, scores = _differences(estimator1, estimator2, X, y, splits, scoring, n_jobs)
    n_train = float(np.mean([len(train) for train, _ in splits]))
    n_test = float(np.mean([len(test) for _, test in splits]))
    return _with_scores(corrected_resampled_ttest(d, n_train, n_test), scores)
