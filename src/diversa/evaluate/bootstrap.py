"""Bootstrap estimates of generalization performance: out-of-bag, .632 and .632+.

Section 3 of Raschka, "Model Evaluation, Model Selection, and Algorithm
Selection in Machine Learning" (arXiv:1811.12808, 2018). Each of B rounds
draws n training rows with replacement and tests on the rows never drawn (the
out-of-bag rows, about 36.8 % of the data since (1 - 1/n)^n -> 1/e); the
out-of-bag score is pessimistic because every model sees only ~63.2 % of the
distinct examples.

* ``.632`` (Efron 1983, "Estimating the error rate of a prediction rule:
  improvement on cross-validation", JASA 78(382)) mixes in the optimistic
  apparent error: ``err = 0.632 err_oob + 0.368 err_train``.
* ``.632+`` (Efron & Tibshirani 1997, "Improvements on cross-validation: the
  .632+ bootstrap method", JASA 92(438)) raises the weight of the out-of-bag
  error when the model overfits, measured by the relative overfitting rate
  ``R = (err_oob - err_train) / (gamma - err_train)`` against the
  no-information error ``gamma`` (the error when inputs and labels are
  independent): ``w = 0.632 / (1 - 0.368 R)``,
  ``err = w err_oob + (1 - w) err_train``.

Conventions follow mlxtend 0.25 (``bootstrap_point632_score``, by the same
author) so that the per-round values agree exactly: the rounds come from
``np.random.RandomState(random_state)`` (one ``randint(0, n, n)`` draw per
round, identical to mlxtend's ``choice``), and "train error" is the error of
the round's bootstrap model on all n rows. mlxtend's documentation prints the
.632+ denominator as ``gamma - err_oob``; its code and Efron & Tibshirani use
``gamma - err_train``, which we follow.

The no-information error for 0-1 loss needs no pairs:
``gamma = sum_k p_k (1 - q_k)`` with p the class shares of y and q the shares of
the predictions; for squared error it is ``var(y) + var(yhat) + (mean y -
mean yhat)^2``; any other per-example loss is averaged over the n^2 pairs in
chunks, never materialised at once (mlxtend builds all n^2 pairs in Python).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier, is_regressor

from diversa.evaluate._shared import (
    Interval,
    check_choice,
    check_int,
    check_X_y,
    legacy_random_state,
    resolve_scorer,
    rows_of_fit_params,
)
from diversa.evaluate.bootstrap_intervals import bootstrap_ci

__all__ = [
    "BootstrapOutOfBag",
    "BootstrapResult",
    "bootstrap_estimate",
    "bootstrap_point632_score",
    "no_information_error",
]

EFRON_WEIGHT = 0.632
_PAIRS_PER_CHUNK = 1 << 20


class BootstrapResult(NamedTuple):
    """A bootstrap estimate: mean over rounds, its standard error, a CI and the per-round values."""

    mean: float
    se: float
    ci: Interval
    scores: np.ndarray


def _num_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


class BootstrapOutOfBag:
    """Bootstrap rounds as a scikit-learn cross-validation splitter.

    Round b trains on n row indices drawn with replacement and tests on the
    sorted indices never drawn. Usable wherever scikit-learn accepts ``cv``
    (e.g. ``cross_val_score(est, X, y, cv=BootstrapOutOfBag(50, 0))``).

    Parameters
    ----------
    n_splits : int >= 1, number of bootstrap rounds B (Efron & Tibshirani
        recommend 50-200).
    random_state : None, int, RandomState or Generator. An int reproduces
        mlxtend's ``BootstrapOutOfBag(random_seed=int)`` rounds (the test
        indices are sorted here; mlxtend lists the same set in set order).
        With an int every ``split`` call gives the same rounds.
    """

    def __init__(self, n_splits: int = 200, random_state=None):
        self.n_splits = check_int("n_splits", n_splits, minimum=1)
        self.random_state = random_state

    def split(self, X, y=None, groups=None):
        """Yield (train, test) index arrays; train has n entries with repeats."""
        n_samples = _num_rows(X)
        rng = legacy_random_state(self.random_state)
        for _ in range(self.n_splits):
            train = rng.randint(0, n_samples, size=n_samples)
            in_bag = np.zeros(n_samples, dtype=bool)
            in_bag[train] = True
            yield train, np.flatnonzero(~in_bag)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of bootstrap rounds."""
        return self.n_splits

    def __repr__(self) -> str:
        return f"BootstrapOutOfBag(n_splits={self.n_splits}, random_state={self.random_state!r})"


def _zero_one_no_information(y, y_pred) -> float:
    """sum_k p_k (1 - q_k): the 0-1 error of predictions paired with every label at random.

    Computed as 1 - (matching pairs) / n^2 with integer counts, which is the
    exact mean of the n^2 pairwise 0-1 losses.
    """
    labels, label_counts = np.unique(y, return_counts=True)
    predicted, predicted_counts = np.unique(y_pred, return_counts=True)
    position = np.clip(np.searchsorted(labels, predicted), 0, labels.size - 1)
    matches = labels[position] == predicted
    matching_pairs = int(np.dot(label_counts[position[matches]], predicted_counts[matches]))
    return 1.0 - matching_pairs / (y.shape[0] * y_pred.shape[0])


def _squared_error_no_information(y, y_pred) -> float:
    """Mean of (y_i - yhat_j)^2 over all pairs = var(y) + var(yhat) + (mean y - mean yhat)^2."""
    y = np.asarray(y, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    return float(np.var(y) + np.var(y_pred) + (y.mean() - y_pred.mean()) ** 2)


def _pairwise_no_information(loss, y, y_pred) -> float:
    """Mean of loss over all (y_i, yhat_j) pairs, in chunks of about 1M pairs.

    Exact for losses that are means of per-pair terms (the chunk means are
    re-weighted by chunk size).
    """
    n_pred = y_pred.shape[0]
    rows_per_chunk = max(1, _PAIRS_PER_CHUNK // n_pred)
    total = 0.0
    for start in range(0, y.shape[0], rows_per_chunk):
        targets = y[start : start + rows_per_chunk]
        repeated_targets = np.repeat(targets, n_pred, axis=0)
        tiled_predictions = np.tile(y_pred, (targets.shape[0],) + (1,) * (y_pred.ndim - 1))
        total += float(loss(repeated_targets, tiled_predictions)) * repeated_targets.shape[0]
    return total / (y.shape[0] * n_pred)


def no_information_error(y, y_pred, loss="zero_one") -> float:
    """Error of a rule whose predictions are independent of the labels.

    The mean of ``loss(y_i, y_pred_j)`` over all n x m pairs (Efron &
    Tibshirani 1997, eq. 27). ``loss`` is "zero_one" (closed form
    ``sum_k p_k (1 - q_k)``), "squared_error" (closed form) or a callable
    ``loss(y_true, y_pred) -> mean loss`` evaluated in chunks.

    Parameters
    ----------
    y : array-like of shape (n,); y_pred : array-like of shape (m,) or (m, c).
    """
    y = np.asarray(y)
    y_pred = np.asarray(y_pred)
    if loss == "zero_one":
        return _zero_one_no_information(y, y_pred)
    if loss == "squared_error":
        return _squared_error_no_information(y, y_pred)
    if callable(loss):
        return _pairwise_no_information(loss, y, y_pred)
    raise ValueError(f"loss must be 'zero_one', 'squared_error' or a callable, got {loss!r}.")


def _mean_squared_error(y_true, y_pred) -> float:
    return float(np.mean((np.asarray(y_true, dtype=float) - y_pred) ** 2))


def _zero_one_loss(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))


class _RoundErrors(NamedTuple):
    oob: float
    apparent: float
    no_information: float


class _AccuracyMetric:
    """0-1 loss from one ``predict`` on all rows; reported as accuracy."""

    reports_score = True
    has_no_information = True

    def errors(self, model, X, y, test, apparent: bool) -> _RoundErrors:
        # Row-wise predictors give the same test predictions on X as on X[test],
        # so one predict call serves the out-of-bag, apparent and no-information errors.
        y_pred = model.predict(X if apparent else X[test])
        correct = (y_pred == y) if apparent else (y_pred == y[test])
        oob = 1.0 - np.mean(correct[test] if apparent else correct)
        if not apparent:
            return _RoundErrors(oob, np.nan, np.nan)
        return _RoundErrors(oob, 1.0 - np.mean(correct), _zero_one_no_information(y, y_pred))


class _LossMetric:
    """A lower-is-better loss on a response (predict, predict_proba or decision_function)."""

    reports_score = False
    has_no_information = True

    def __init__(self, loss, response_method: str, binary: bool):
        self.loss = {"squared_error": _mean_squared_error, "zero_one": _zero_one_loss}.get(loss, loss)
        self.loss_name = loss if isinstance(loss, str) else None
        self.response_method = response_method
        self.binary = binary

    def _response(self, model, X):
        response = getattr(model, self.response_method)(X)
        if self.response_method == "predict_proba" and self.binary:
            response = response[:, 1]
        return response

    def errors(self, model, X, y, test, apparent: bool) -> _RoundErrors:
        if not apparent:
            return _RoundErrors(self.loss(y[test], self._response(model, X[test])), np.nan, np.nan)
        response = self._response(model, X)
        oob = self.loss(y[test], response[test])
        gamma = no_information_error(y, response, self.loss_name or self.loss)
        return _RoundErrors(oob, self.loss(y, response), gamma)


class _ScorerMetric:
    """A higher-is-better scikit-learn scorer; error = 1 - score (mlxtend's bookkeeping)."""

    reports_score = True
    has_no_information = False

    def __init__(self, scorer):
        self.scorer = scorer

    def errors(self, model, X, y, test, apparent: bool) -> _RoundErrors:
        oob = 1.0 - self.scorer(model, X[test], y[test])
        return _RoundErrors(oob, 1.0 - self.scorer(model, X, y) if apparent else np.nan, np.nan)


def _choose_metric(estimator, y, scoring, loss, response_method):
    if scoring is not None and loss is not None:
        raise ValueError("Pass either scoring (higher is better) or loss (lower is better), not both.")
    if loss is not None:
        if not (callable(loss) or loss in ("zero_one", "squared_error")):
            raise ValueError(f"loss must be 'zero_one', 'squared_error' or a callable, got {loss!r}.")
        return _LossMetric(loss, response_method, binary=np.unique(y).size == 2)
    if response_method != "predict":
        raise ValueError("response_method applies to a loss callable; pass loss=... with it.")
    if scoring == "accuracy" or (scoring is None and is_classifier(estimator)):
        return _AccuracyMetric()
    if scoring is None and is_regressor(estimator):
        return _LossMetric("squared_error", "predict", binary=False)
    return _ScorerMetric(resolve_scorer(estimator, scoring))


def _nonempty_rounds(splitter: BootstrapOutOfBag, X):
    """The splitter's rounds, drawn lazily (memory O(n), not O(B n)), refusing empty out-of-bag sets."""
    for train, test in splitter.split(X):
        if test.size == 0:
            raise ValueError(f"A bootstrap round drew all {X.shape[0]} rows, leaving no out-of-bag rows; "
                             "use more samples or another random_state.")
        yield train, test


def _round_errors(estimator, X, y, train, test, metric, apparent, fit_params) -> _RoundErrors:
    model = clone(estimator).fit(X[train], y[train], **rows_of_fit_params(fit_params, train, X.shape[0]))
    return metric.errors(model, X, y, test, apparent)


def _relative_overfitting(err_oob, err_train, gamma, clip: bool):
    """Efron & Tibshirani's R, with the out-of-bag error actually used (clipped to gamma if ``clip``)."""
    if clip:
        err_oob = np.minimum(err_oob, gamma)
        defined = (err_oob > err_train) & (gamma > err_train)
    else:
        # gamma <= err_train leaves R undefined (mlxtend divides by ~0): treat as no overfitting.
        defined = gamma - err_train > 0
    denominator = np.where(defined, gamma - err_train, 1.0)
    return np.where(defined, (err_oob - err_train) / denominator, 0.0), err_oob


def _combine_errors(method: str, err_oob, err_train, gamma, clip: bool):
    if method == "oob":
        return err_oob
    if method == ".632":
        weight = EFRON_WEIGHT
    else:
        overfitting, err_oob = _relative_overfitting(err_oob, err_train, gamma, clip)
        weight = EFRON_WEIGHT / (1.0 - (1.0 - EFRON_WEIGHT) * overfitting)
    return weight * err_oob + (1.0 - weight) * err_train


def bootstrap_point632_score(
    estimator,
    X,
    y,
    n_splits: int = 200,
    method: str = ".632",
    scoring=None,
    loss=None,
    response_method: str = "predict",
    train_score: str = "bootstrap_model",
    clip: bool = False,
    random_state=None,
    n_jobs=None,
    **fit_params,
) -> np.ndarray:
    """Per-round out-of-bag, .632 or .632+ bootstrap estimates.

    Parameters
    ----------
    estimator : scikit-learn estimator, cloned before every fit.
    X : array-like of shape (n_samples, n_features); y : shape (n_samples,).
    n_splits : number of bootstrap rounds B >= 1.
    method : "oob", ".632" or ".632+".
    scoring : None, "accuracy", another scorer name or callable
        ``scorer(est, X, y)``; the error is ``1 - score``. Only accuracy
        (the default for classifiers) supports ".632+", whose no-information
        error needs a per-example loss.
    loss : "zero_one", "squared_error" or callable ``loss(y_true, response)``
        (a mean of per-example losses, lower is better). With a loss the
        returned values are losses. Regressors default to "squared_error",
        as in mlxtend, so their values are MSE estimates. A loss that infers
        the label set from ``y_true`` (scikit-learn's ``log_loss``) needs it
        fixed, e.g. ``functools.partial(log_loss, labels=classes)``: an
        out-of-bag part or a chunk of pairs may miss a class.
    response_method : "predict", "predict_proba" or "decision_function":
        what the loss sees (binary ``predict_proba`` gives the positive column).
    train_score : "bootstrap_model" (mlxtend: the round's model on all n rows)
        or "full_model" (Efron 1983: the apparent error of one model fitted on
        all rows; one extra fit; the no-information error then also comes
        from that model).
    clip : False reproduces mlxtend (no clipping; only gamma <= err_train is
        guarded, giving R = 0). True is Efron & Tibshirani's variant:
        ``err_oob' = min(err_oob, gamma)``, R' in [0, 1].
    random_state : None, int, RandomState or Generator (see
        ``BootstrapOutOfBag``).
    n_jobs : joblib workers over rounds; the result does not depend on it.
    fit_params : passed to every ``fit``; per-sample arrays (length n, e.g.
        ``sample_weight``) are indexed with the round's bootstrap rows.

    Returns
    -------
    ndarray of shape (n_splits,): scores (higher is better) unless ``loss``
    is used, then losses. Average them for the estimate; ``bootstrap_ci``
    gives an interval.
    """
    n_splits = check_int("n_splits", n_splits, minimum=1)
    check_choice("method", method, ("oob", ".632", ".632+"))
    check_choice("train_score", train_score, ("bootstrap_model", "full_model"))
    check_choice("response_method", response_method, ("predict", "predict_proba", "decision_function"))
    X, y = check_X_y(X, y, estimator=estimator)
    metric = _choose_metric(estimator, y, scoring, loss, response_method)
    if method == ".632+" and not metric.has_no_information:
        raise ValueError("method='.632+' needs a per-example loss for its no-information error; pass loss=... "
                         "or use scoring=None/'accuracy'.")
    per_round_apparent = method != "oob" and train_score == "bootstrap_model"
    errors = Parallel(n_jobs=n_jobs)(
        delayed(_round_errors)(estimator, X, y, train, test, metric, per_round_apparent, fit_params)
        for train, test in _nonempty_rounds(BootstrapOutOfBag(n_splits, random_state), X)
    )
    err_oob, err_train, gamma = (np.asarray(column, dtype=float) for column in zip(*errors))
    if method != "oob" and train_score == "full_model":
        everything = np.arange(X.shape[0])
        full = _round_errors(estimator, X, y, everything, everything, metric, True, fit_params)
        err_train, gamma = np.full(n_splits, full.apparent), np.full(n_splits, full.no_information)
    combined = _combine_errors(method, err_oob, err_train, gamma, clip)
    return 1.0 - combined if metric.reports_score else combined


def bootstrap_estimate(
    estimator,
    X,
    y,
    n_splits: int = 200,
    method: str = ".632",
    alpha: float = 0.05,
    ci_method: str = "percentile",
    random_state=None,
    n_jobs=None,
    **kwargs,
) -> BootstrapResult:
    """Bootstrap estimate of performance with its standard error and confidence interval.

    Runs ``bootstrap_point632_score`` (``kwargs`` are its ``scoring``,
    ``loss``, ``response_method``, ``train_score``, ``clip`` and fit
    parameters) and summarises the B rounds: mean, SE = std(ddof=1) of the
    rounds, and ``bootstrap_ci(alpha, ci_method)``.
    """
    scores = bootstrap_point632_score(
        estimator, X, y, n_splits=n_splits, method=method, random_state=random_state, n_jobs=n_jobs, **kwargs
    )
    if scores.size < 2:
        raise ValueError(f"n_splits must be >= 2 for a standard error and interval, got {n_splits}.")
    return BootstrapResult(
        float(scores.mean()), float(scores.std(ddof=1)), bootstrap_ci(scores, alpha, ci_method), scores
    )
