import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from diversa.evaluate.crossval import (
    cross_val_estimate,
    nested_cv_score,
    one_standard_error_rule,
    repeated_holdout_estimate,
)


@pytest.mark.parametrize("name", ["iris", "wine", "synthetic"])
def test_kfold_estimate_equals_scikit_learn(datasets, name):
    X, y = datasets[name]
    result = cross_val_estimate(GaussianNB(), X, y, cv=5, random_state=0)
    expected = cross_val_score(GaussianNB(), X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    np.testing.assert_allclose(result.fold_scores, expected)
    assert result.mean == pytest.approx(expected.mean()) and result.std == pytest.approx(expected.std(ddof=1))
    assert result.se == pytest.approx(result.std / np.sqrt(5))
    assert result.ci.low < result.mean < result.ci.high


def test_repeated_kfold_loocv_and_splitter_objects(iris):
    X, y = iris
    repeated = cross_val_estimate(GaussianNB(), X, y, cv=5, n_repeats=3, random_state=0)
    assert repeated.fold_scores.shape == (15,)
    loo = cross_val_estimate(GaussianNB(), X, y, cv="loo")
    assert loo.fold_scores.shape == (150,) and set(np.unique(loo.fold_scores)) <= {0.0, 1.0}
    custom = cross_val_estimate(GaussianNB(), X, y, cv=KFold(3))
    np.testing.assert_allclose(custom.fold_scores, cross_val_score(GaussianNB(), X, y, cv=KFold(3)))


def test_per_sample_fit_params_follow_the_training_rows(iris):
    X, y = iris
    weights = np.random.default_rng(0).uniform(0.1, 2.0, size=len(y))
    splitter = StratifiedKFold(5, shuffle=True, random_state=0)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    result = cross_val_estimate(tree, X, y, cv=splitter, sample_weight=weights)
    expected = cross_val_score(tree, X, y, cv=splitter, params={"sample_weight": weights})
    np.testing.assert_allclose(result.fold_scores, expected)


def test_corrected_interval_is_wider(iris):
    X, y = iris
    naive = cross_val_estimate(GaussianNB(), X, y, cv=5, n_repeats=4, random_state=1)
    corrected = cross_val_estimate(GaussianNB(), X, y, cv=5, n_repeats=4, random_state=1, ci_method="corrected")
    assert corrected.mean == naive.mean
    assert corrected.ci.high - corrected.ci.low > naive.ci.high - naive.ci.low
    assert corrected.se == pytest.approx(naive.std * np.sqrt(1 / 20 + 30 / 120))


def test_repeated_holdout_and_parallel_reproducibility(iris):
    X, y = iris
    serial = repeated_holdout_estimate(GaussianNB(), X, y, n_repeats=6, random_state=2)
    parallel = repeated_holdout_estimate(GaussianNB(), X, y, n_repeats=6, random_state=2, n_jobs=2)
    np.testing.assert_array_equal(serial.fold_scores, parallel.fold_scores)
    assert serial.fold_scores.shape == (6,)


def test_regressors_default_to_r2_and_unstratified_folds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X[:, 0] * 2 + rng.normal(scale=0.1, size=80)
    result = cross_val_estimate(DecisionTreeRegressor(max_depth=3, random_state=0), X, y, cv=4, random_state=0)
    assert 0.5 < result.mean <= 1.0


def test_nested_cv_equals_cross_val_score_of_grid_search(datasets):
    X, y = datasets["wine"]
    grid = {"max_depth": [1, 2, 4]}
    outer, inner = StratifiedKFold(3, shuffle=True, random_state=0), StratifiedKFold(2, shuffle=True, random_state=1)
    tree = DecisionTreeClassifier(random_state=0)
    result = nested_cv_score(tree, grid, X, y, outer_cv=outer, inner_cv=inner)
    expected = cross_val_score(GridSearchCV(tree, grid, cv=inner), X, y, cv=outer)
    np.testing.assert_allclose(result.outer_scores, expected)
    assert len(result.best_params_per_fold) == 3 and all(p["max_depth"] in grid["max_depth"]
                                                         for p in result.best_params_per_fold)
    assert result.mean == pytest.approx(expected.mean())


def test_nested_cv_outer_folds_are_disjoint_and_seeded(iris):
    X, y = iris
    grid = {"n_neighbors": [1, 5]}
    first = nested_cv_score(KNeighborsClassifier(), grid, X, y, random_state=0)
    second = nested_cv_score(KNeighborsClassifier(), grid, X, y, random_state=0)
    np.testing.assert_array_equal(first.outer_scores, second.outer_scores)
    assert first.outer_scores.shape == (5,) and first.inner_best_scores.shape == (5,)
    folds = [test for _, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)]
    assert np.concatenate(folds).size == np.unique(np.concatenate(folds)).size == len(y)


def _cv_results(means, spread, params):
    """A minimal GridSearchCV-like cv_results_ with 5 splits per configuration."""
    offsets = np.array([-2, -1, 0, 1, 2]) * spread
    results = {"params": params}
    for i, offset in enumerate(offsets):
        results[f"split{i}_test_score"] = np.array(means) + offset
    return results


def test_one_standard_error_rule_picks_the_simplest_within_one_se():
    params = [{"max_depth": d} for d in (1, 2, 3, 4)]
    # SE of the best = std([-2..2] * 0.01, ddof=1) / sqrt(5) = 0.00707
    results = _cv_results([0.80, 0.895, 0.90, 0.899], 0.01, params)
    assert one_standard_error_rule(results, "max_depth") == 1
    assert one_standard_error_rule(results, lambda p: -p["max_depth"]) == 3
    tight = _cv_results([0.80, 0.89, 0.90, 0.899], 0.001, params)
    assert one_standard_error_rule(tight, "max_depth") == 2


def test_one_standard_error_rule_on_grid_search(iris):
    X, y = iris
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3, 5, 8]}, cv=5).fit(X, y)
    chosen = one_standard_error_rule(search.cv_results_, "max_depth")
    means = search.cv_results_["mean_test_score"]
    assert search.cv_results_["params"][chosen]["max_depth"] <= search.best_params_["max_depth"]
    assert means[chosen] <= means.max()


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda X, y: cross_val_estimate(GaussianNB(), X, y, cv=1), "cv"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, y, cv="loocv"), "cv"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, y, cv="loo", n_repeats=2), "n_repeats"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, y, n_repeats=0), "n_repeats"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, y, alpha=2), "alpha"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, y, ci_method="z"), "ci_method"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, y[:10]), "X and y"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, np.full(len(y), 2)), "single class"),
        (lambda X, y: cross_val_estimate(GaussianNB(), X, np.where(y == 2, np.nan, y)), "y"),
        (lambda X, y: repeated_holdout_estimate(GaussianNB(), X, y, test_size=1.0), "test_size"),
        (lambda X, y: nested_cv_score(GaussianNB(), {}, X, y, outer_cv=0), "cv"),
        (lambda X, y: one_standard_error_rule({"params": [{}]}, "a"), "split"),
        (lambda X, y: one_standard_error_rule(_cv_results([0.8], 0.1, [{"a": 1}]), "b"), "complexity"),
        (lambda X, y: one_standard_error_rule(_cv_results([0.8], 0.1, [{"a": None}]), "a"), "complexity"),
        (lambda X, y: one_standard_error_rule({"split0_test_score": [1]}, "a"), "params"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(iris, call, argument):
    X, y = iris
    with pytest.raises(ValueError, match=argument):
        call(X, y)
