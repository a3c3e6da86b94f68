import numpy as np
import pytest

from diversa.datasets.fairness import make_gerrymandered
from diversa.evaluate.fairness import calibrate_lambda, pareto_front, select_lambda

LAMBDAS = [0.0, 0.3, 1.0, 3.0, 10.0]
LOSSES = [0.30, 0.31, 0.33, 0.40, 0.60]
JSDS = [0.20, 0.15, 0.09, 0.05, 0.04]


def test_target_selector_takes_the_smallest_lambda_that_halves_the_divergence():
    assert LAMBDAS[select_lambda(LAMBDAS, LOSSES, JSDS, "target", rho=0.5)] == 1.0
    assert LAMBDAS[select_lambda(LAMBDAS, LOSSES, JSDS, "target", rho=0.2)] == 10.0  # none reach: least JSD
    shuffled = [3, 0, 4, 1, 2]
    index = select_lambda(np.take(LAMBDAS, shuffled), np.take(LOSSES, shuffled), np.take(JSDS, shuffled))
    assert np.take(LAMBDAS, shuffled)[index] == 1.0


def test_knee_and_budget_selectors():
    # scaled to [0, 1] the front is x = (0, .033, .1, .333, 1), y = (1, .6875, .3125, .0625, 0); the chord is
    # x + y = 1, and |x + y - 1| peaks at lambda = 3 (0.604 against 0.5875 at lambda = 1)
    assert LAMBDAS[select_lambda(LAMBDAS, LOSSES, JSDS, "knee")] == 3.0
    assert LAMBDAS[select_lambda(LAMBDAS, LOSSES, JSDS, "budget", loss_budget=0.05)] == 1.0
    assert LAMBDAS[select_lambda(LAMBDAS, LOSSES, JSDS, "budget", loss_budget=0.0)] == 0.0
    assert LAMBDAS[select_lambda(LAMBDAS[:2], LOSSES[:2], JSDS[:2], "knee")] == 0.0  # < 3 points: lowest loss


def test_pareto_front_drops_dominated_points():
    assert list(pareto_front([0.3, 0.35, 0.32, 0.5], [0.2, 0.25, 0.1, 0.1])) == [0, 2]


def test_calibrate_lambda_fits_every_lambda_and_chooses(one_thread):
    from diversa.learners.fair import FairClassifier

    d = make_gerrymandered(600, random_state=0)
    train, val = slice(0, 300), slice(300, None)
    fitted = []

    def fit(lam):
        fitted.append(lam)
        return FairClassifier(lam=lam, epochs=10, batch_size=150, lr=1e-2, random_state=0).fit(
            d.X[train], d.y[train], sensitive_features=d.sensitive[train])

    result = calibrate_lambda(fit, [0.0, 100.0], d.X[val], d.y[val], d.sensitive[val], keep_models=True)
    assert fitted == [0.0, 100.0] and len(result.models) == 2
    assert result.jsds[1] < result.jsds[0] and result.losses[1] > result.losses[0]
    assert result.selected_lambda == [0.0, 100.0][result.selected_index]


def test_bad_input():
    with pytest.raises(ValueError, match="lambdas must contain 0"):
        select_lambda([1.0, 2.0], [0.3, 0.4], [0.2, 0.1])
    with pytest.raises(ValueError, match="same length"):
        select_lambda([0.0, 1.0], [0.3], [0.2, 0.1])
    with pytest.raises(ValueError, match="selector"):
        select_lambda([0.0, 1.0], [0.3, 0.4], [0.2, 0.1], selector="best")
    with pytest.raises(ValueError, match="rho"):
        select_lambda([0.0, 1.0], [0.3, 0.4], [0.2, 0.1], rho=2.0)
