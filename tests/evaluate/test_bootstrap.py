from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression
from sklearn.metrics import f1_score, log_loss, make_scorer
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from diversa.evaluate.bootstrap import (
    BootstrapOutOfBag,
    bootstrap_estimate,
    bootstrap_point632_score,
    no_information_error,
)

mlxtend_evaluate = pytest.importorskip("mlxtend.evaluate")
mlxtend_point632 = pytest.importorskip("mlxtend.evaluate.bootstrap_point632")

DATASETS = ["iris", "breast_cancer", "wine", "synthetic"]
METHODS = ["oob", ".632", ".632+"]


# ----- equivalence with mlxtend -----

@pytest.mark.parametrize("method", METHODS)
def test_article_values_on_iris_match_mlxtend_per_split(iris, method):
    X, y = iris
    ours = bootstrap_point632_score(DecisionTreeClassifier(random_state=123), X, y, n_splits=200, method=method,
                                    random_state=123)
    theirs = mlxtend_evaluate.bootstrap_point632_score(DecisionTreeClassifier(random_state=123), X, y,
                                                       n_splits=200, method=method, random_seed=123)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    expected_mean = {"oob": 0.94667, ".632": 0.95914, ".632+": 0.95855}[method]
    assert ours.mean() == pytest.approx(expected_mean, abs=1e-5)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [0, 5])
def test_all_methods_match_mlxtend_across_datasets(datasets, name, seed):
    X, y = datasets[name]
    for method, estimator in product(METHODS, [GaussianNB(), DecisionTreeClassifier(max_depth=3, random_state=0)]):
        ours = bootstrap_point632_score(estimator, X, y, n_splits=6, method=method, random_state=seed)
        theirs = mlxtend_evaluate.bootstrap_point632_score(estimator, X, y, n_splits=6, method=method,
                                                           random_seed=seed)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_regressor_mse_estimates_match_mlxtend(method):
    X, y = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)
    for estimator in (LinearRegression(), DecisionTreeRegressor(max_depth=3, random_state=0)):
        ours = bootstrap_point632_score(estimator, X, y, n_splits=8, method=method, random_state=2)
        theirs = mlxtend_evaluate.bootstrap_point632_score(estimator, X, y, n_splits=8, method=method,
                                                           random_seed=2)
        # mlxtend carries MSE as "1 - score" and back; only rounding differs.
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_custom_metric_matches_mlxtend_scoring_func(datasets):
    X, y = datasets["wine"]
    estimator = DecisionTreeClassifier(max_depth=2, random_state=0)
    macro_f1 = make_scorer(f1_score, average="macro")
    ours = bootstrap_point632_score(estimator, X, y, n_splits=6, scoring=macro_f1, random_state=1)
    theirs = mlxtend_evaluate.bootstrap_point632_score(
        estimator, X, y, n_splits=6, random_seed=1, scoring_func=lambda t, p: f1_score(t, p, average="macro"))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", DATASETS)
def test_out_of_bag_index_sets_match_mlxtend(datasets, name):
    X, _ = datasets[name]
    ours = list(BootstrapOutOfBag(n_splits=5, random_state=0).split(X))
    theirs = list(mlxtend_evaluate.BootstrapOutOfBag(n_splits=5, random_seed=0).split(X))
    for (train, test), (their_train, their_test) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(train, their_train)
        np.testing.assert_array_equal(test, np.sort(their_test))


@pytest.mark.parametrize("name", DATASETS)
def test_vectorized_no_information_rate_equals_mlxtend_pair_loop(datasets, name):
    X, y = datasets[name]
    y_pred = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y).predict(X)
    loop = 1 - mlxtend_point632.no_information_rate(y, y_pred, mlxtend_point632.accuracy)
    assert no_information_error(y, y_pred) == loop  # bit-for-bit: both are 1 - matches / n^2
    classes, p = np.unique(y, return_counts=True)
    q = np.array([np.mean(y_pred == c) for c in classes])
    assert no_information_error(y, y_pred) == pytest.approx(np.sum(p / len(y) * (1 - q)), abs=1e-15)


def test_no_information_error_closed_forms_equal_pairwise_means():
    rng = np.random.default_rng(0)
    y, y_pred = rng.normal(size=70), rng.normal(1.0, 2.0, size=50)
    pairwise = np.mean((y[:, None] - y_pred[None, :]) ** 2)
    assert no_information_error(y, y_pred, "squared_error") == pytest.approx(pairwise, rel=1e-12)
    chunked = no_information_error(y, y_pred, lambda t, p: np.mean((t - p) ** 2))
    assert chunked == pytest.approx(pairwise, rel=1e-12)
    labels, predicted = rng.integers(0, 3, 40), rng.integers(0, 4, 30)
    assert no_information_error(labels, predicted) == pytest.approx(np.mean(labels[:, None] != predicted[None, :]))


# ----- splitter invariants -----

def test_out_of_bag_rows_are_disjoint_from_training_rows_and_about_a_third():
    X = np.zeros((1000, 1))
    splitter = BootstrapOutOfBag(n_splits=20, random_state=4)
    fractions = []
    for train, test in splitter.split(X):
        assert train.size == 1000 and np.intersect1d(train, test).size == 0
        assert np.array_equal(np.union1d(train, test), np.arange(1000))
        fractions.append(test.size / 1000)
    assert np.mean(fractions) == pytest.approx(np.exp(-1), abs=0.01)
    assert splitter.get_n_splits() == 20


def test_splitter_works_inside_scikit_learn(iris):
    X, y = iris
    scores = cross_val_score(GaussianNB(), X, y, cv=BootstrapOutOfBag(n_splits=5, random_state=0))
    ours = bootstrap_point632_score(GaussianNB(), X, y, n_splits=5, method="oob", random_state=0)
    np.testing.assert_allclose(scores, ours, atol=1e-12)


# ----- .632+ guards and options -----

def test_clip_keeps_the_weight_between_632_and_1(datasets):
    X, y = datasets["synthetic"]
    knn = KNeighborsClassifier(n_neighbors=1)  # resubstitution error 0: strong overfitting
    plus = bootstrap_point632_score(knn, X, y, n_splits=10, method=".632+", clip=True, random_state=0)
    oob = bootstrap_point632_score(knn, X, y, n_splits=10, method="oob", random_state=0)
    plain = bootstrap_point632_score(knn, X, y, n_splits=10, method=".632", random_state=0)
    # With err_train = 0, err_632+ = w err_oob with w in [0.632, 1].
    assert np.all(plus <= plain + 1e-12) and np.all(plus >= oob - 1e-12)


def test_gamma_not_above_train_error_gives_no_nan():
    X = np.arange(40, dtype=float).reshape(-1, 1)
    y = np.tile([0, 1], 20)  # no signal: a stump's train error can reach the no-information error
    scores = bootstrap_point632_score(DecisionTreeClassifier(max_depth=1, random_state=0), X, y, n_splits=30,
                                      method=".632+", random_state=0)
    assert np.all(np.isfinite(scores))


def test_full_model_train_score_uses_one_apparent_error(iris):
    X, y = iris
    tree = DecisionTreeClassifier(random_state=0)  # a full tree fits its training data: apparent error 0
    oob = bootstrap_point632_score(tree, X, y, n_splits=10, method="oob", random_state=0)
    full = bootstrap_point632_score(tree, X, y, n_splits=10, train_score="full_model", random_state=0)
    np.testing.assert_allclose(1 - full, 0.632 * (1 - oob))


def test_probability_loss_and_parallel_runs_are_reproducible(iris):
    X, y = iris
    kwargs = dict(n_splits=6, method=".632+", loss=log_loss, response_method="predict_proba", random_state=3)
    serial = bootstrap_point632_score(GaussianNB(), X, y, **kwargs)
    parallel = bootstrap_point632_score(GaussianNB(), X, y, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(serial, parallel)
    assert np.all(serial > 0)  # losses, not scores
    generator = bootstrap_point632_score(GaussianNB(), X, y, n_splits=4, random_state=np.random.default_rng(1))
    again = bootstrap_point632_score(GaussianNB(), X, y, n_splits=4, random_state=np.random.default_rng(1))
    np.testing.assert_array_equal(generator, again)


def test_sample_weight_is_indexed_with_the_bootstrap_rows(iris):
    X, y = iris
    tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    weights = np.random.default_rng(1).uniform(0.1, 2.0, size=len(y))
    ours = bootstrap_point632_score(tree, X, y, n_splits=4, random_state=0, sample_weight=weights)
    expected = []
    for train, test in BootstrapOutOfBag(4, 0).split(X):
        model = clone(tree).fit(X[train], y[train], sample_weight=weights[train])
        expected.append(0.632 * model.score(X[test], y[test]) + 0.368 * model.score(X, y))
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_string_labels_give_the_same_scores_as_integer_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    for method in METHODS:
        as_ints = bootstrap_point632_score(GaussianNB(), X, y, n_splits=5, method=method, random_state=0)
        as_strings = bootstrap_point632_score(GaussianNB(), X, names, n_splits=5, method=method, random_state=0)
        np.testing.assert_array_equal(as_ints, as_strings)


def test_a_round_without_out_of_bag_rows_raises():
    seed = next(s for s in range(100) if np.unique(np.random.RandomState(s).randint(0, 2, 2)).size == 2)
    with pytest.raises(ValueError, match="out-of-bag"):
        bootstrap_point632_score(GaussianNB(), np.array([[0.0], [1.0]]), np.array([0, 1]), n_splits=1,
                                 random_state=seed)


# ----- intervals and summaries -----

def test_bootstrap_estimate_summarises_the_rounds(iris):
    X, y = iris
    result = bootstrap_estimate(GaussianNB(), X, y, n_splits=20, method=".632+", random_state=0)
    assert result.mean == pytest.approx(result.scores.mean()) and result.se == pytest.approx(result.scores.std(ddof=1))
    assert result.ci.low <= result.mean <= result.ci.high


# ----- bad input -----

@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y, n_splits=0), "n_splits"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y, method=".5"), "method"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X[:, 0], y), "2D"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y[:-1]), "X and y"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, np.where(y == 1, np.nan, y)), "y"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, np.ones_like(y)), "single class"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y, train_score="x"), "train_score"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y, scoring="f1_macro", method=".632+"), "loss"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y, scoring="accuracy", loss="zero_one"), "either"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y, loss="hinge"), "loss"),
        (lambda X, y: bootstrap_point632_score(GaussianNB(), X, y, response_method="predict_proba"), "loss"),
        (lambda X, y: BootstrapOutOfBag(n_splits=1.5), "n_splits"),
        (lambda X, y: bootstrap_estimate(GaussianNB(), X, y, n_splits=1), "n_splits"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(iris, call, argument):
    X, y = iris
    with pytest.raises(ValueError, match=argument):
        call(X, y)


# ----- properties -----

@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40).flatmap(lambda n: st.tuples(st.lists(st.integers(0, 3), min_size=n, max_size=n),
                                                       st.lists(st.integers(0, 4), min_size=1, max_size=30))))
def test_zero_one_no_information_equals_pairwise_mean(arrays):
    y, y_pred = (np.array(a) for a in arrays)
    expected = np.mean(y[:, None] != y_pred[None, :])
    assert no_information_error(y, y_pred) == pytest.approx(expected, abs=1e-15)
    assert no_information_error(y[::-1], y_pred[::-1]) == no_information_error(y, y_pred)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(METHODS), st.booleans())
def test_scores_are_finite_accuracies(seed, method, clip):
    X, y = np.random.default_rng(seed).normal(size=(40, 2)), np.tile([0, 1], 20)
    scores = bootstrap_point632_score(GaussianNB(), X, y, n_splits=5, method=method, clip=clip, random_state=seed)
    assert np.all(np.isfinite(scores))
    if method != ".632+" or clip:
        assert np.all((scores >= -1e-12) & (scores <= 1 + 1e-12))
