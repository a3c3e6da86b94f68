import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diversa.evaluate.bootstrap_intervals import bootstrap_ci, bootstrap_statistic

mlxtend_evaluate = pytest.importorskip("mlxtend.evaluate")


def test_bootstrap_ci_methods():
    scores = np.random.default_rng(0).normal(0.9, 0.02, size=200)
    low, high = bootstrap_ci(scores)
    np.testing.assert_allclose((low, high), np.percentile(scores, [2.5, 97.5]))
    t_low, t_high = bootstrap_ci(scores, method="t")
    assert (t_low + t_high) / 2 == pytest.approx(scores.mean())
    assert bootstrap_ci(scores, alpha=0.01).low <= low


@pytest.mark.parametrize("seed", [0, 11])
def test_bootstrap_statistic_matches_mlxtend(seed):
    x = np.random.RandomState(seed).normal(5.0, size=80)
    original, se, (low, high) = mlxtend_evaluate.bootstrap(x, func=np.mean, num_rounds=300, seed=seed)
    ours = bootstrap_statistic(x, np.mean, n_rounds=300, random_state=seed, quantile="mlxtend")
    np.testing.assert_allclose((ours.original, ours.se, *ours.ci), (original, se, low, high), rtol=0, atol=1e-10)
    linear = bootstrap_statistic(x, np.mean, n_rounds=300, random_state=seed)
    assert linear.se == ours.se and linear.ci.low < original < linear.ci.high


def test_statistic_of_two_dimensional_rows():
    rng = np.random.RandomState(0)
    pairs = rng.normal(size=(60, 2))
    result = bootstrap_statistic(pairs, lambda rows: np.corrcoef(rows.T)[0, 1], n_rounds=200, random_state=0)
    assert result.ci.low <= result.original <= result.ci.high and result.se > 0


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda X, y: bootstrap_ci([0.5, 0.6], alpha=1.2), "alpha"),
        (lambda X, y: bootstrap_ci([0.5]), "scores"),
        (lambda X, y: bootstrap_ci([0.5, 0.6], method="bca"), "method"),
        (lambda X, y: bootstrap_statistic(X, lambda a: a.mean(axis=0)), "scalar"),
        (lambda X, y: bootstrap_statistic(y, np.mean, quantile="nearest"), "quantile"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(iris, call, argument):
    X, y = iris
    with pytest.raises(ValueError, match=argument):
        call(X, y)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=50), st.floats(0.001, 0.5))
def test_interval_properties(values, alpha):
    scores = np.array(values)
    for method in ("percentile", "t"):
        low, high = bootstrap_ci(scores, alpha, method)
        assert low <= high + 1e-9
        reversed_low, reversed_high = bootstrap_ci(scores[::-1], alpha, method)
        assert (reversed_low, reversed_high) == pytest.approx((low, high))
    low, high = bootstrap_ci(scores, alpha)
    assert scores.min() - 1e-9 <= low and high <= scores.max() + 1e-9
