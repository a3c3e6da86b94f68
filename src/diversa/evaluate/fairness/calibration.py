"""Choosing the fairness penalty weight lambda on validation data from the accuracy-fairness trade-off.

Lee, Antonio, Avanzi, Marchi, Zhou, arXiv:2509.08163 (spec ``tabular.md#dcov-fairness``): retrain
over a grid of lambda, record the validation loss and the intersectional generalised JSD, and
choose. The paper treats the choice as a policy decision shown on the trade-off; the deterministic
selectors here are the spec's (not the paper's exact rule):

* ``"target"``: the smallest lambda whose JSD is at most ``rho`` times the JSD at lambda = 0
  (the lambda with the smallest JSD if none reaches it);
* ``"knee"``: the point of the (loss, JSD) Pareto front farthest from the straight line joining
  the front's end points, both axes scaled to [0, 1] over the front (with fewer than three
  points on the front, its lowest-loss end);
* ``"budget"``: the lambda with the smallest JSD whose loss is at most the loss at lambda = 0
  plus ``loss_budget`` (a matched accuracy cost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from diversa.evaluate.fairness.divergence import generalized_jsd

__all__ = ["LambdaCalibration", "SELECTORS", "calibrate_lambda", "pareto_front", "select_lambda"]

SELECTORS = ("target", "knee", "budget")


@dataclass(frozen=True)
class LambdaCalibration:
    """The validation trade-off over a lambda grid and the chosen lambda.

    ``lambdas``, ``losses``, ``jsds`` ``(L,)``; ``pareto`` the indices on the Pareto front (by
    loss); ``selected_index`` / ``selected_lambda`` the choice of ``selector``; ``models`` the
    fitted models in grid order (empty unless kept).
    """

    lambdas: np.ndarray
    losses: np.ndarray
    jsds: np.ndarray
    pareto: np.ndarray
    selected_index: int
    selected_lambda: float
    selector: str
    models: list = field(default_factory=list)


def _curves(lambdas, losses, jsds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = [np.asarray(v, dtype=float).ravel() for v in (lambdas, losses, jsds)]
    for name, array in zip(("lambdas", "losses", "jsds"), arrays):
        if array.size == 0 or not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be a non-empty sequence of finite numbers.")
    if len({a.size for a in arrays}) != 1:
        raise ValueError(f"lambdas, losses and jsds must have the same length, got {[a.size for a in arrays]}.")
    if np.any(arrays[0] < 0):
        raise ValueError("lambdas must be >= 0.")
    return tuple(arrays)


def pareto_front(losses, jsds) -> np.ndarray:
    """Indices of the points no other point beats on both loss and JSD, sorted by loss then JSD ``(k,)``."""
    losses, jsds = (np.asarray(v, dtype=float).ravel() for v in (losses, jsds))
    order = np.lexsort((jsds, losses))
    front, best = [], np.inf
    for i in order:
        if jsds[i] < best:
            front.append(i)
            best = jsds[i]
    return np.asarray(front, dtype=int)


def _knee(losses: np.ndarray, jsds: np.ndarray) -> int:
    front = pareto_front(losses, jsds)
    if front.size < 3:
        return int(front[0])
    x, y = losses[front], jsds[front]
    x = (x - x.min()) / (np.ptp(x) or 1.0)
    y = (y - y.min()) / (np.ptp(y) or 1.0)
    start, end = np.array([x[0], y[0]]), np.array([x[-1], y[-1]])
    direction = (end - start) / np.linalg.norm(end - start)
    offsets = np.column_stack([x, y]) - start
    distances = np.abs(offsets[:, 0] * direction[1] - offsets[:, 1] * direction[0])
    return int(front[int(np.argmax(distances))])


def select_lambda(lambdas, losses, jsds, selector: str = "target", rho: float = 0.5,
                  loss_budget: float = 0.05) -> int:
    """Index of the chosen lambda on a validation trade-off curve (selectors in the module doc).

    ``lambdas``, ``losses``, ``jsds`` ``(L,)``; the grid must contain lambda = 0 for "target" and
    "budget" (their reference point). Ties go to the smaller lambda.
    """
    lambdas, losses, jsds = _curves(lambdas, losses, jsds)
    if selector not in SELECTORS:
        raise ValueError(f"selector must be one of {SELECTORS}, got {selector!r}.")
    by_lambda = np.argsort(lambdas, kind="stable")
    if selector == "knee":
        return _knee(losses, jsds)
    if not np.any(lambdas == 0):
        raise ValueError(f"lambdas must contain 0 (the reference of the {selector!r} selector).")
    reference = int(by_lambda[0])
    if selector == "target":
        if not (np.isfinite(rho) and 0 <= rho <= 1):
            raise ValueError(f"rho must be in [0, 1], got {rho!r}.")
        reached = [i for i in by_lambda if jsds[i] <= rho * jsds[reference]]
        if reached:
            return int(reached[0])
        return int(min(by_lambda, key=lambda i: jsds[i]))
    if not (np.isfinite(loss_budget) and loss_budget >= 0):
        raise ValueError(f"loss_budget must be a finite number >= 0, got {loss_budget!r}.")
    allowed = [i for i in by_lambda if losses[i] <= losses[reference] + loss_budget]
    return int(min(allowed, key=lambda i: jsds[i]))


def _validation_point(model, X_val, y_val) -> tuple[float, np.ndarray]:
    from sklearn.metrics import log_loss, mean_squared_error

    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X_val)
        if proba.shape[1] != 2:
            raise ValueError(f"calibrate_lambda needs binary classifiers or regressors, got {proba.shape[1]} classes.")
        return float(log_loss(y_val, proba, labels=model.classes_)), proba[:, 1]
    prediction = np.asarray(model.predict(X_val), dtype=float)
    return float(mean_squared_error(y_val, prediction)), prediction


def calibrate_lambda(fit_fn: Callable[[float], object], lambdas: Sequence[float], X_val, y_val, groups_val, *,
                     selector: str = "target", rho: float = 0.5, loss_budget: float = 0.05,
                     bandwidth: float = 0.15, min_group_size: int = 1, standardize: bool = False,
                     keep_models: bool = False) -> LambdaCalibration:
    """Fit one model per lambda with ``fit_fn(lam)``, trace validation loss and JSD, and choose lambda.

    Lee et al., arXiv:2509.08163. Loss: log-loss of ``predict_proba`` (binary classifiers; the JSD
    is then over the positive-class probability) or the mean squared error of ``predict``
    (regressors; consider ``standardize=True`` for the JSD). ``groups_val`` ``(n_val,)`` labels or
    a DataFrame of attributes (see :func:`generalized_jsd`). ``selector``, ``rho`` and
    ``loss_budget`` as :func:`select_lambda`.

    Examples
    --------
    >>> from diversa.datasets.fairness import make_gerrymandered
    >>> from diversa.learners.fair import FairClassifier
    >>> d = make_gerrymandered(600, random_state=0)
    >>> fit = lambda lam: FairClassifier(lam=lam, epochs=5, random_state=0).fit(
    ...     d.X[:400], d.y[:400], sensitive_features=d.sensitive[:400])
    >>> result = calibrate_lambda(fit, [0.0, 10.0], d.X[400:], d.y[400:], d.sensitive[400:])
    >>> result.selected_lambda in (0.0, 10.0)
    True
    """
    grid = np.asarray(lambdas, dtype=float).ravel()
    losses, jsds, models = [], [], []
    for lam in grid:
        model = fit_fn(float(lam))
        loss, prediction = _validation_point(model, X_val, y_val)
        losses.append(loss)
        jsds.append(generalized_jsd(prediction, groups_val, bandwidth=bandwidth, min_group_size=min_group_size,
                                    standardize=standardize))
        if keep_models:
            models.append(model)
    index = select_lambda(grid, losses, jsds, selector=selector, rho=rho, loss_budget=loss_budget)
    return LambdaCalibration(grid, np.asarray(losses), np.asarray(jsds), pareto_front(losses, jsds), index,
                             float(grid[index]), selector, models)
