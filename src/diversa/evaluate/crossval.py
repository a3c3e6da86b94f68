"""Cross-validation estimates, nested cross-validation and the one-standard-error rule.

Sections 4 and 5 of Raschka, "Model Evaluation, Model Selection, and
Algorithm Selection in Machine Learning" (arXiv:1811.12808, 2018).

* k-fold cross-validation averages the k fold scores; k = 10 is the usual
  bias/variance compromise (Kohavi 1995, "A study of cross-validation and
  bootstrap for accuracy estimation and model selection", IJCAI). Repeating
  it over reshuffles (``n_repeats``) shrinks the variance due to one
  particular partition; leave-one-out (``cv="loo"``) is nearly unbiased but
  high-variance. Repeated random holdout is Monte-Carlo cross-validation.
* The naive t interval of the mean fold score treats folds as independent,
  which they are not (their training sets overlap); ``ci_method="corrected"``
  widens it with the variance correction of Nadeau & Bengio (2003),
  "Inference for the generalization error", Machine Learning 52(3).
* Nested cross-validation (Varma & Simon 2006, "Bias in error estimation
  when using cross-validation for model selection", BMC Bioinformatics 7:91)
  scores the whole procedure "tune by inner CV, refit, predict": each outer
  test fold is scored by the configuration chosen on its outer training part
  alone. The best inner score itself is optimistically biased.
* The one-standard-error rule (Breiman, Friedman, Olshen & Stone 1984,
  "Classification and Regression Trees") picks the simplest configuration
  whose mean CV score is within one standard error of the best.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    LeaveOneOut,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from diversa.evaluate._shared import (
    Interval,
    check_choice,
    check_fraction,
    check_int,
    check_X_y,
    resolve_scorer,
    rows_of_fit_params,
    scores_over_splits,
    sklearn_random_state,
    t_interval,
)

__all__ = [
    "CVResult",
    "NestedCVResult",
    "cross_val_estimate",
    "nested_cv_score",
    "one_standard_error_rule",
    "repeated_holdout_estimate",
]


class CVResult(NamedTuple):
    """Mean of the per-split scores with their sample std (ddof=1), SE = std/sqrt(J) and CI."""

    mean: float
    std: float
    se: float
    ci: Interval
    fold_scores: np.ndarray


class NestedCVResult(NamedTuple):
    """Outer-fold scores of the tuned procedure, the configuration chosen in each outer fold,
    their mean and std (ddof=1), and the best inner CV score of each fold (optimistic; do not
    report it as performance)."""

    outer_scores: np.ndarray
    best_params_per_fold: list
    mean: float
    std: float
    inner_best_scores: np.ndarray


def _stratify(stratify: bool, estimator) -> bool:
    return bool(stratify) and is_classifier(estimator)


def _kfold_splitter(cv, n_repeats: int, stratify: bool, random_state):
    """scikit-learn splitter for an int k (shuffled), "loo", or a splitter passed through."""
    if isinstance(cv, str):
        check_choice("cv", cv, ("loo",))
        if n_repeats != 1:
            raise ValueError("n_repeats must be 1 with cv='loo' (leave-one-out has a single partition).")
        return LeaveOneOut()
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        k = check_int("cv", cv, minimum=2)
        seed = sklearn_random_state(random_state)
        if n_repeats == 1:
            splitter = StratifiedKFold if stratify else KFold
            return splitter(n_splits=k, shuffle=True, random_state=seed)
        repeated = RepeatedStratifiedKFold if stratify else RepeatedKFold
        return repeated(n_splits=k, n_repeats=n_repeats, random_state=seed)
    if hasattr(cv, "split"):
        if n_repeats != 1:
            raise ValueError("n_repeats applies to an int cv only; pass a repeated splitter instead.")
        return cv
    raise ValueError(f"cv must be an int >= 2, 'loo' or a splitter with a split method, got {cv!r}.")


def _summarise(scores: np.ndarray, splits, alpha: float, ci_method: str) -> CVResult:
    n_splits = scores.size
    std = float(scores.std(ddof=1)) if n_splits > 1 else float("nan")
    se = std / np.sqrt(n_splits)
    if ci_method == "corrected":
        # Nadeau & Bengio: Var(mean) ~ (1/J + n_test/n_train) s^2 for overlapping training sets.
        test_over_train = np.mean([len(test) / len(train) for train, test in splits])
        se = std * np.sqrt(1.0 / n_splits + test_over_train)
    return CVResult(float(scores.mean()), std, float(se), t_interval(scores.mean(), se, n_splits - 1, alpha), scores)


def _estimate_over_splits(estimator, X, y, splitter, scoring, alpha, ci_method, n_jobs, fit_params) -> CVResult:
    alpha = check_fraction("alpha", alpha)
    check_choice("ci_method", ci_method, ("t", "corrected"))
    scorer = resolve_scorer(estimator, scoring)
    splits = list(splitter.split(X, y))
    scores = scores_over_splits([estimator], X, y, splits, scorer, n_jobs=n_jobs, fit_params=fit_params)[:, 0]
    return _summarise(scores, splits, alpha, ci_method)


def cross_val_estimate(
    estimator,
    X,
    y,
    cv=10,
    n_repeats: int = 1,
    stratify: bool = True,
    scoring=None,
    random_state=None,
    alpha: float = 0.05,
    ci_method: str = "t",
    n_jobs=None,
    **fit_params,
) -> CVResult:
    """k-fold, repeated k-fold or leave-one-out estimate of performance.

    Parameters
    ----------
    estimator : scikit-learn estimator; cloned before every fit.
    X : array-like of shape (n_samples, n_features); y : shape (n_samples,).
    cv : int k >= 2 (shuffled folds, stratified for classifiers when
        ``stratify``), "loo", or any scikit-learn splitter (used as is).
    n_repeats : repetitions of k-fold with fresh shuffles (int ``cv`` only).
    scoring : None (accuracy / R^2), scorer name or callable.
    alpha : 1 - coverage of the interval.
    ci_method : "t": mean +- t_{J-1} std/sqrt(J) over the J = k n_repeats
        fold scores (optimistic: folds share training data); "corrected":
        the Nadeau-Bengio standard error std sqrt(1/J + n_test/n_train).
    n_jobs : joblib workers over folds.
    fit_params : passed to every ``fit``; per-sample arrays (length
        n_samples, e.g. ``sample_weight``) are restricted to the training rows.

    Returns
    -------
    CVResult(mean, std, se, ci, fold_scores) with fold_scores of shape (J,),
    repeat-major.
    """
    X, y = check_X_y(X, y, estimator=estimator)
    n_repeats = check_int("n_repeats", n_repeats, minimum=1)
    splitter = _kfold_splitter(cv, n_repeats, _stratify(stratify, estimator), random_state)
    return _estimate_over_splits(estimator, X, y, splitter, scoring, alpha, ci_method, n_jobs, fit_params)


def repeated_holdout_estimate(
    estimator,
    X,
    y,
    n_repeats: int = 10,
    test_size: float = 0.3,
    stratify: bool = True,
    scoring=None,
    random_state=None,
    alpha: float = 0.05,
    ci_method: str = "t",
    n_jobs=None,
    **fit_params,
) -> CVResult:
    """Repeated random holdout (Monte-Carlo cross-validation): mean over ``n_repeats`` splits.

    Each repetition is an independent (stratified for classifiers) random
    split with ``test_size``; the CI options are those of
    ``cross_val_estimate`` ("corrected" is the Nadeau-Bengio resampled
    correction this design was derived for).
    """
    X, y = check_X_y(X, y, estimator=estimator)
    n_repeats = check_int("n_repeats", n_repeats, minimum=1)
    test_size = check_fraction("test_size", test_size)
    splitter_type = StratifiedShuffleSplit if _stratify(stratify, estimator) else ShuffleSplit
    splitter = splitter_type(n_splits=n_repeats, test_size=test_size, random_state=sklearn_random_state(random_state))
    return _estimate_over_splits(estimator, X, y, splitter, scoring, alpha, ci_method, n_jobs, fit_params)


def _tune_and_score(estimator, param_grid, X, y, train, test, inner_cv, scorer, fit_params):
    search = GridSearchCV(clone(estimator), param_grid, cv=inner_cv, scoring=scorer, refit=True)
    search.fit(X[train], y[train], **rows_of_fit_params(fit_params, train, X.shape[0]))
    return float(scorer(search.best_estimator_, X[test], y[test])), search.best_params_, float(search.best_score_)


def nested_cv_score(
    estimator,
    param_grid,
    X,
    y,
    outer_cv=5,
    inner_cv=2,
    scoring=None,
    random_state=None,
    n_jobs=None,
    **fit_params,
) -> NestedCVResult:
    """Nested cross-validation of "grid search + refit" (algorithm selection).

    For each outer fold, ``GridSearchCV(estimator, param_grid, cv=inner_cv)``
    is run on the outer training part only, its refitted best model is scored
    on the outer test fold. Defaults: 5 outer and 2 inner folds (shuffled,
    stratified for classifiers). Int folds use one seed drawn from
    ``random_state``; splitter objects are used as is, so
    ``nested_cv_score(..., outer_cv=A, inner_cv=B).outer_scores`` equals
    ``cross_val_score(GridSearchCV(est, grid, cv=B), X, y, cv=A)``.

    Parameters
    ----------
    param_grid : dict or list of dicts, as for ``GridSearchCV``.
    outer_cv, inner_cv : int >= 2 or scikit-learn splitters.
    n_jobs : joblib workers over outer folds.

    The final model is obtained by running the inner procedure on all data;
    the nested score estimates the procedure, not one particular model.
    """
    X, y = check_X_y(X, y, estimator=estimator)
    stratify = is_classifier(estimator)
    seed = sklearn_random_state(random_state)
    if isinstance(seed, np.random.RandomState):
        # One int for both levels, so a RandomState gives the same inner folds in every outer fold.
        seed = int(seed.randint(2**31 - 1))
    outer = _kfold_splitter(outer_cv, 1, stratify, seed)
    inner = _kfold_splitter(inner_cv, 1, stratify, seed)
    scorer = resolve_scorer(estimator, scoring)
    results = Parallel(n_jobs=n_jobs)(
        delayed(_tune_and_score)(estimator, param_grid, X, y, train, test, inner, scorer, fit_params)
        for train, test in outer.split(X, y)
    )
    outer_scores = np.array([score for score, _, _ in results])
    std = float(outer_scores.std(ddof=1)) if outer_scores.size > 1 else float("nan")
    return NestedCVResult(
        outer_scores,
        [params for _, params, _ in results],
        float(outer_scores.mean()),
        std,
        np.array([inner_score for _, _, inner_score in results]),
    )


def _split_score_matrix(cv_results: dict, score_key: str) -> np.ndarray:
    columns = sorted(
        (key for key in cv_results if key.startswith("split") and key.endswith(f"_{score_key}")),
        key=lambda key: int(key[len("split") : -len(score_key) - 1]),
    )
    if len(columns) < 2:
        raise ValueError(
            f"cv_results must hold at least two 'split<i>_{score_key}' entries (as GridSearchCV.cv_results_ does)."
        )
    return np.column_stack([np.asarray(cv_results[key], dtype=float) for key in columns])


def _complexities(all_params, complexity) -> np.ndarray:
    if isinstance(complexity, str):
        if any(complexity not in params for params in all_params):
            raise ValueError(f"complexity {complexity!r} is not a parameter of every configuration.")
        values = [params[complexity] for params in all_params]
    elif callable(complexity):
        values = [complexity(params) for params in all_params]
    else:
        raise ValueError(f"complexity must be a parameter name or a callable, got {complexity!r}.")
    try:
        costs = np.array(values, dtype=float)
    except (TypeError, ValueError):
        costs = np.array([np.nan])
    # numpy turns None into NaN silently; an unorderable complexity must not pass unnoticed.
    if np.any(np.isnan(costs)):
        raise ValueError(
            f"complexity values must be numbers, got {values!r}; pass a callable that maps them to numbers."
        )
    return costs


def one_standard_error_rule(cv_results: dict, complexity, score_key: str = "test_score") -> int:
    """Index of the simplest configuration whose mean CV score is within one SE of the best.

    SE of the best configuration = std(ddof=1) of its k split scores /
    sqrt(k). Among configurations with ``mean >= best_mean - SE_best``, the
    one of lowest complexity wins; ties go to the higher mean score, then to
    the lower index.

    Parameters
    ----------
    cv_results : ``GridSearchCV.cv_results_`` (needs "params" and the
        "split<i>_test_score" columns).
    complexity : name of a numeric parameter whose lower values are simpler
        (e.g. "max_depth", "C"), or a callable ``complexity(params) -> number``
        for anything else (e.g. ``lambda p: -p["n_neighbors"]``, or mapping
        ``max_depth=None`` to infinity).
    score_key : suffix of the per-split score columns.
    """
    if "params" not in cv_results:
        raise ValueError("cv_results must contain 'params' (GridSearchCV.cv_results_).")
    split_scores = _split_score_matrix(cv_results, score_key)
    if not np.all(np.isfinite(split_scores)):
        raise ValueError("cv_results contains NaN split scores; failed fits cannot be ranked.")
    means = split_scores.mean(axis=1)
    best = int(np.argmax(means))
    se_best = split_scores[best].std(ddof=1) / np.sqrt(split_scores.shape[1])
    costs = _complexities(cv_results["params"], complexity)
    # The slack keeps a configuration exactly one SE below the best eligible despite rounding.
    eligible = np.flatnonzero(means >= means[best] - se_best - 1e-12)
    order = np.lexsort((eligible, -means[eligible], costs[eligible]))
    return int(eligible[order[0]])
