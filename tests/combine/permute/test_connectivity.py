"""Interpolation curves and barriers along the linear path."""

import matplotlib
import numpy as np
import pytest
import torch
from permute_models import mlp

from diversa.combine.permute import (
    InterpolationCurve,
    barrier,
    classification_evaluator,
    interpolation_curve,
    loss_barrier,
    plot_interpolation,
)

matplotlib.use("Agg")



def test_barrier_is_the_largest_rise_above_the_chord():
    lam = np.linspace(0, 1, 5)
    loss = np.array([1.0, 2.5, 2.0, 1.5, 3.0])  # chord: 1.0, 1.5, 2.0, 2.5, 3.0
    curve = InterpolationCurve(lam, {"loss": loss, "accuracy": np.array([0.9, 0.5, 0.7, 0.9, 0.7])})
    assert barrier(curve) == pytest.approx(1.0)
    # accuracy chord: 0.9, 0.85, 0.8, 0.75, 0.7 -> largest drop 0.35 at lambda 0.25
    assert barrier(curve, "accuracy", higher_is_better=True) == pytest.approx(0.35)


def test_a_path_below_the_chord_has_no_barrier():
    curve = InterpolationCurve(np.linspace(0, 1, 3), {"loss": np.array([1.0, 0.2, 1.0])})
    assert barrier(curve) == 0.0


def test_curve_runs_from_model_a_to_model_b_on_the_straight_line():
    a, b = mlp(1).state_dict(), mlp(2).state_dict()
    seen = []

    def evaluate(state):
        seen.append(state["0.bias"].clone())
        return float(state["0.bias"][0])

    curve = interpolation_curve(evaluate, a, b, n_points=5)
    assert torch.equal(seen[0], a["0.bias"]) and torch.allclose(seen[-1], b["0.bias"])
    torch.testing.assert_close(seen[1], 0.75 * a["0.bias"] + 0.25 * b["0.bias"])
    np.testing.assert_allclose(curve.values["loss"], [float(s[0]) for s in seen])


def test_classifier_barrier_is_zero_between_a_model_and_itself_and_positive_between_strangers():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 6, generator=g)
    model = mlp(0)
    with torch.no_grad():
        y = model(X).argmax(-1)
    evaluate = classification_evaluator(mlp(9), X, y)
    assert loss_barrier(evaluate, model.state_dict(), model.state_dict()) == pytest.approx(0.0, abs=1e-6)
    curve = interpolation_curve(evaluate, model.state_dict(), mlp(5).state_dict(), n_points=9)
    assert set(curve.values) == {"loss", "accuracy"}
    assert curve.values["accuracy"][0] == 1.0  # model a labelled the data


def test_plot_draws_each_curve():
    lam = np.linspace(0, 1, 4)
    curves = {"naive": InterpolationCurve(lam, {"loss": np.array([0.1, 0.9, 0.8, 0.2])}),
              "aligned": InterpolationCurve(lam, {"loss": np.array([0.1, 0.2, 0.2, 0.2])})}
    ax = plot_interpolation(curves)
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    np.testing.assert_allclose(lines["naive"], [0.1, 0.9, 0.8, 0.2])
    np.testing.assert_allclose(lines["aligned"], [0.1, 0.2, 0.2, 0.2])
    with pytest.raises(ValueError, match="no metric 'accuracy'"):
        plot_interpolation(curves, "accuracy")


def test_bad_input_is_named():
    a = mlp(1).state_dict()
    with pytest.raises(ValueError, match="n_points"):
        interpolation_curve(lambda s: 0.0, a, a, n_points=1)
    with pytest.raises(ValueError, match="same tensors"):
        interpolation_curve(lambda s: 0.0, a, {k: v for k, v in a.items() if k != "0.bias"})
    with pytest.raises(ValueError, match="metric 'acc'"):
        barrier(InterpolationCurve(np.linspace(0, 1, 2), {"loss": np.zeros(2)}), "acc")
