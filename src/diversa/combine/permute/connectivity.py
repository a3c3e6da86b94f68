"""Linear mode connectivity: loss and accuracy along the straight line between two models.

Frankle et al., "Linear Mode Connectivity and the Lottery Ticket Hypothesis",
ICML 2020 (arXiv:1912.05671); Entezari et al., ICLR 2022 (arXiv:2110.06296);
Ainsworth et al., "Git Re-Basin", ICLR 2023 (arXiv:2209.04836); Ito, Yamada,
Kumagai, ICLR 2025 (arXiv:2402.04051). The path is
``theta(lambda) = (1 - lambda) theta_a + lambda theta_b`` at ``n_points``
evenly spaced lambdas (25, as git re-basin). The barrier of a metric to
minimise (a loss) is its largest rise above the chord between the endpoints,

    B = max_lambda [ L(theta(lambda)) - ((1 - lambda) L(theta_a) + lambda L(theta_b)) ],

and of a metric to maximise (accuracy) its largest drop below the chord. Both
are >= 0 since the endpoints contribute 0; two models are linearly connected
when the barrier is about zero.

Models with BatchNorm carry running statistics that are interpolated like the
weights; to recompute them for each point instead (REPAIR-style reset), pass an
``evaluate`` that calls ``torch.optim.swa_utils.update_bn`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from diversa.combine.merge.interpolation import linear_interpolation

__all__ = ["InterpolationCurve", "barrier", "classification_evaluator", "interpolation_curve", "loss_barrier",
           "plot_interpolation"]


class InterpolationCurve(NamedTuple):
    """Metrics along the linear path: ``values[metric][i]`` at ``lambdas[i]`` (0 = model a, 1 = model b)."""

    lambdas: np.ndarray
    values: dict[str, np.ndarray]


def interpolation_curve(evaluate: Callable[[dict[str, torch.Tensor]], Mapping[str, float] | float],
                        params_a: Mapping[str, torch.Tensor], params_b: Mapping[str, torch.Tensor],
                        n_points: int = 25) -> InterpolationCurve:
    """Evaluate ``(1 - lambda) params_a + lambda params_b`` at ``n_points`` lambdas in [0, 1].

    ``evaluate(state_dict)`` returns a number or a mapping of metric names to
    numbers (e.g. :func:`classification_evaluator`); a number is stored as
    ``"loss"``. Use the same data for every point. Non-floating tensors come
    from ``params_a``.
    """
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    if set(params_a) != set(params_b):
        raise ValueError("params_a and params_b must hold the same tensors "
                         f"(differ in {sorted(set(params_a) ^ set(params_b))[:3]})")
    lambdas = np.linspace(0.0, 1.0, n_points)
    values: dict[str, list[float]] = {}
    for lam in lambdas:
        point = linear_interpolation(params_a, params_b, alpha=1.0 - float(lam))
        result = evaluate(point)
        metrics = {"loss": result} if not isinstance(result, Mapping) else result
        if values and set(metrics) != set(values):
            raise ValueError("evaluate must return the same metrics at every point")
        for name, value in metrics.items():
            values.setdefault(name, []).append(float(value))
    return InterpolationCurve(lambdas, {k: np.asarray(v) for k, v in values.items()})


def barrier(curve: InterpolationCurve, metric: str = "loss", higher_is_better: bool = False) -> float:
    """Largest rise of a metric above the endpoints' chord (largest drop below it if ``higher_is_better``)."""
    if metric not in curve.values:
        raise ValueError(f"metric {metric!r} is not in the curve ({sorted(curve.values)})")
    y = curve.values[metric]
    lam = curve.lambdas
    chord = (1 - lam) * y[0] + lam * y[-1]
    gap = chord - y if higher_is_better else y - chord
    return float(max(gap.max(), 0.0))


def loss_barrier(evaluate, params_a, params_b, n_points: int = 25, metric: str = "loss") -> float:
    """The loss barrier between two models (:func:`interpolation_curve` then :func:`barrier`)."""
    return barrier(interpolation_curve(evaluate, params_a, params_b, n_points), metric)


def classification_evaluator(model: nn.Module, X: torch.Tensor, y: torch.Tensor
                             ) -> Callable[[dict[str, torch.Tensor]], dict[str, float]]:
    """``evaluate(state_dict) -> {"loss": mean cross-entropy, "accuracy": ...}`` of ``model`` on ``(X, y)``.

    The state dict is loaded into ``model`` (which is then left holding the
    last one evaluated) and run in eval mode without gradients.
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")

    def evaluate(state: dict[str, torch.Tensor]) -> dict[str, float]:
        model.load_state_dict(state)
        training = model.training
        model.eval()
        try:
            with torch.no_grad():
                logits = model(X)
        finally:
            model.train(training)
        return {"loss": float(F.cross_entropy(logits, y)),
                "accuracy": float((logits.argmax(-1) == y).float().mean())}

    return evaluate


def plot_interpolation(curves: Mapping[str, InterpolationCurve], metric: str = "loss", ax=None):
    """Plot ``metric`` along the path for each labelled curve (e.g. naive and aligned); returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.2))
    for label, curve in curves.items():
        if metric not in curve.values:
            raise ValueError(f"curve {label!r} has no metric {metric!r} ({sorted(curve.values)})")
        ax.plot(curve.lambdas, curve.values[metric], marker="o", markersize=3, label=label)
    ax.set_xlabel("lambda (0 = model a, 1 = model b)")
    ax.set_ylabel(metric)
    ax.legend()
    return ax
