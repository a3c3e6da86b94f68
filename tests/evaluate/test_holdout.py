import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression
from sklearn.naive_bayes import GaussianNB

from diversa.evaluate.holdout import holdout_estimate, holdout_split, normal_approx_ci

statsmodels_proportion = pytest.importorskip("statsmodels.stats.proportion")


def test_stratified_split_keeps_class_shares(iris):
    X, y = iris
    train, test = holdout_split(X, y, test_size=0.3, random_state=0)
    assert np.intersect1d(train, test).size == 0 and np.union1d(train, test).size == len(y)
    np.testing.assert_array_equal(np.bincount(y[test]), [15, 15, 15])
    np.testing.assert_array_equal(np.bincount(y[train]), [35, 35, 35])


def test_split_is_reproducible_for_ints_and_generators(iris):
    X, y = iris
    first = holdout_split(X, y, random_state=3)
    np.testing.assert_array_equal(first.test, holdout_split(X, y, random_state=3).test)
    a = holdout_split(X, y, random_state=np.random.default_rng(2))
    b = holdout_split(X, y, random_state=np.random.default_rng(2))
    np.testing.assert_array_equal(a.test, b.test)


def test_integer_test_size_and_unstratified_split(iris):
    X, y = iris
    assert holdout_split(X, y, test_size=20, stratify=False, random_state=0).test.size == 20


@pytest.mark.parametrize("method", ["normal", "wilson"])
@pytest.mark.parametrize("count, n", [(27, 30), (285, 300), (30, 30), (0, 12), (55, 100)])
def test_interval_matches_statsmodels(method, count, n):
    expected = statsmodels_proportion.proportion_confint(count, n, alpha=0.05, method=method)
    np.testing.assert_allclose(normal_approx_ci(count / n, n, method=method), expected, rtol=0, atol=1e-12)


def test_normal_interval_is_clipped_only_on_request():
    assert normal_approx_ci(0.98, 20).high == 1.0
    assert normal_approx_ci(0.98, 20, clip=False).high > 1.0


def test_holdout_estimate_has_an_interval_for_accuracy_only(iris):
    X, y = iris
    result = holdout_estimate(GaussianNB(), X, y, random_state=0)
    assert result.n_test == 45 and result.ci.low <= result.score <= result.ci.high
    wilson = holdout_estimate(GaussianNB(), X, y, random_state=0, ci_method="wilson")
    assert wilson.score == result.score and wilson.ci != result.ci
    Xr, yr = make_regression(n_samples=60, n_features=3, random_state=0)
    regression = holdout_estimate(LinearRegression(), Xr, yr, random_state=0)
    assert regression.ci is None and regression.score > 0.9


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda X, y: holdout_split(X, y[:-1]), "X and y"),
        (lambda X, y: holdout_split(X, y, test_size=0), "test_size"),
        (lambda X, y: holdout_split(X, y, test_size=150), "test_size"),
        (lambda X, y: holdout_split(X, np.linspace(0, 1, len(y))), "stratify"),
        (lambda X, y: holdout_split(np.where(X > 5, np.nan, X), y), "X"),
        (lambda X, y: holdout_estimate(GaussianNB(), X, np.zeros_like(y)), "single class"),
        (lambda X, y: holdout_estimate(GaussianNB(), X, y, ci_method="exact"), "ci_method"),
        (lambda X, y: normal_approx_ci(1.2, 10), "acc"),
        (lambda X, y: normal_approx_ci(0.5, 0), "n"),
        (lambda X, y: normal_approx_ci(0.5, 10, alpha=0), "alpha"),
        (lambda X, y: normal_approx_ci(0.5, 10, method="exact"), "method"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(iris, call, argument):
    X, y = iris
    with pytest.raises(ValueError, match=argument):
        call(X, y)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2000), st.floats(0, 1), st.sampled_from(["normal", "wilson"]))
def test_interval_properties(n, share, method):
    acc = round(share * n) / n
    low, high = normal_approx_ci(acc, n, method=method)
    assert 0.0 <= low <= acc + 1e-12 and acc - 1e-12 <= high <= 1.0
    wider_low, wider_high = normal_approx_ci(acc, n, alpha=0.01, method=method)
    assert wider_low <= low + 1e-12 and wider_high >= high - 1e-12
    if 0 < acc < 1:
        more_low, more_high = normal_approx_ci(acc, 4 * n, method=method)
        assert more_high - more_low < high - low
