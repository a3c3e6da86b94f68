import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from diversa.evaluate.cv_tests import (
    combined_ftest_5x2cv,
    corrected_repeated_kfold_ttest,
    corrected_resampled_ttest,
    five_by_two_splits,
    ftest_5x2cv_from_differences,
    paired_scores,
    paired_ttest,
    paired_ttest_5x2cv,
    paired_ttest_kfold_cv,
    paired_ttest_resampled,
    resampled_splits,
    ttest_5x2cv_from_differences,
)

mlxtend_evaluate = pytest.importorskip("mlxtend.evaluate")

DATASETS = ["iris", "breast_cancer", "wine", "synthetic"]


def _pair():
    return GaussianNB(), DecisionTreeClassifier(max_depth=2, random_state=1)


def _close(ours, theirs):
    np.testing.assert_allclose(tuple(ours), theirs, rtol=0, atol=1e-10)


# ----- equivalence with mlxtend (same data, same seed) -----

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [1, 7])
def test_5x2cv_tests_match_mlxtend(datasets, name, seed):
    X, y = datasets[name]
    _close(paired_ttest_5x2cv(*_pair(), X, y, random_state=seed),
           mlxtend_evaluate.paired_ttest_5x2cv(*_pair(), X, y, random_seed=seed))
    _close(combined_ftest_5x2cv(*_pair(), X, y, random_state=seed),
           mlxtend_evaluate.combined_ftest_5x2cv(*_pair(), X, y, random_seed=seed))


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [1, 7])
def test_resampled_ttest_matches_mlxtend(datasets, name, seed):
    X, y = datasets[name]
    _close(paired_ttest_resampled(*_pair(), X, y, num_rounds=15, test_size=0.25, random_state=seed),
           mlxtend_evaluate.paired_ttest_resampled(*_pair(), X, y, num_rounds=15, test_size=0.25, random_seed=seed))


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("shuffle, seed", [(False, None), (True, 1), (True, 3)])
def test_kfold_ttest_matches_mlxtend(datasets, name, shuffle, seed):
    X, y = datasets[name]
    _close(paired_ttest_kfold_cv(*_pair(), X, y, cv=5, shuffle=shuffle, random_state=seed),
           mlxtend_evaluate.paired_ttest_kfold_cv(*_pair(), X, y, cv=5, shuffle=shuffle, random_seed=seed))


@pytest.mark.slow
def test_article_example_logistic_regression_vs_stump(iris):
    X, y = iris
    lr, stump = LogisticRegression(max_iter=1000, random_state=1), DecisionTreeClassifier(max_depth=1, random_state=1)
    _close(paired_ttest_5x2cv(lr, stump, X, y, random_state=1),
           mlxtend_evaluate.paired_ttest_5x2cv(lr, stump, X, y, random_seed=1))
    _close(combined_ftest_5x2cv(lr, stump, X, y, random_state=1),
           mlxtend_evaluate.combined_ftest_5x2cv(lr, stump, X, y, random_seed=1))


def test_regressors_and_custom_scoring_match_mlxtend():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(scale=0.5, size=120)
    pair = (LinearRegression(), DecisionTreeRegressor(max_depth=3, random_state=0))
    _close(combined_ftest_5x2cv(*pair, X, y, random_state=2),
           mlxtend_evaluate.combined_ftest_5x2cv(*pair, X, y, random_seed=2))
    _close(paired_ttest_kfold_cv(*pair, X, y, scoring="neg_mean_absolute_error"),
           mlxtend_evaluate.paired_ttest_kfold_cv(*pair, X, y, scoring="neg_mean_absolute_error"))


def test_paired_ttest_equals_scipy_one_sample_t():
    d = np.random.default_rng(0).normal(0.02, 0.05, size=12)
    expected = stats.ttest_1samp(d, 0.0)
    assert tuple(paired_ttest(d)) == pytest.approx((expected.statistic, expected.pvalue), abs=1e-12)
    assert paired_ttest(d).df == 11


# ----- formulas and structure -----

def test_5x2cv_statistics_from_differences_follow_the_formulas():
    d = np.array([[0.05, 0.01], [0.02, -0.01], [0.03, 0.04], [0.0, 0.02], [0.01, 0.03]])
    s2 = ((d - d.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    t = d[0, 0] / np.sqrt(s2.mean())
    assert tuple(ttest_5x2cv_from_differences(d)) == pytest.approx((t, 2 * stats.t.sf(abs(t), 5)))
    f = (d**2).sum() / (2 * s2.sum())
    assert tuple(ftest_5x2cv_from_differences(d)) == pytest.approx((f, stats.f.sf(f, 10, 5)))


def test_corrected_resampled_ttest_inflates_the_variance():
    d = np.random.default_rng(1).normal(0.01, 0.02, size=30)
    naive = paired_ttest(d)
    corrected = corrected_resampled_ttest(d, n_train=70, n_test=30)
    expected_t = d.mean() / np.sqrt((1 / 30 + 30 / 70) * d.var(ddof=1))
    assert corrected.statistic == pytest.approx(expected_t)
    assert abs(corrected.statistic) < abs(naive.statistic) and corrected.pvalue > naive.pvalue


def test_corrected_repeated_kfold_ttest_uses_k_times_r_differences(iris):
    X, y = iris
    result = corrected_repeated_kfold_ttest(*_pair(), X, y, k=5, n_repeats=3, random_state=0)
    d = result.details["differences"]
    assert d.shape == (15,) and result.df == 14
    assert tuple(result) == pytest.approx(tuple(corrected_resampled_ttest(d, 120, 30)))
    assert tuple(result) == tuple(corrected_repeated_kfold_ttest(*_pair(), X, y, k=5, n_repeats=3, random_state=0))


def test_splits_partition_the_rows():
    for train, test in resampled_splits(50, num_rounds=3, test_size=0.3, random_state=0):
        assert len(test) == 15 and np.intersect1d(train, test).size == 0
    splits = five_by_two_splits(31, random_state=0)
    assert len(splits) == 10
    for (a_train, a_test), (b_train, b_test) in zip(splits[::2], splits[1::2]):
        np.testing.assert_array_equal(a_train, b_test)
        assert np.union1d(a_train, a_test).size == 31


def test_identical_estimators_give_t_zero_p_one(iris):
    X, y = iris
    tree = DecisionTreeClassifier(random_state=0)
    for test in (paired_ttest_5x2cv, combined_ftest_5x2cv):
        with pytest.warns(RuntimeWarning, match="zero"):
            assert tuple(test(tree, tree, X, y, random_state=0)) == (0.0, 1.0)
    with pytest.warns(RuntimeWarning):
        assert tuple(paired_ttest_kfold_cv(tree, tree, X, y, cv=3)) == (0.0, 1.0)


def test_swapping_estimators_flips_t_and_keeps_p(datasets):
    X, y = datasets["wine"]
    a, b = _pair()
    forward = paired_ttest_5x2cv(a, b, X, y, random_state=3)
    backward = paired_ttest_5x2cv(b, a, X, y, random_state=3)
    assert backward.statistic == pytest.approx(-forward.statistic) and backward.pvalue == pytest.approx(forward.pvalue)
    assert combined_ftest_5x2cv(b, a, X, y, random_state=3) == pytest.approx(combined_ftest_5x2cv(a, b, X, y,
                                                                                                  random_state=3))


def test_parallel_and_generator_seeds_are_reproducible(iris):
    X, y = iris
    serial = paired_ttest_resampled(*_pair(), X, y, num_rounds=6, random_state=5)
    parallel = paired_ttest_resampled(*_pair(), X, y, num_rounds=6, random_state=5, n_jobs=2)
    assert tuple(serial) == tuple(parallel)
    first = combined_ftest_5x2cv(*_pair(), X, y, random_state=np.random.default_rng(4))
    again = combined_ftest_5x2cv(*_pair(), X, y, random_state=np.random.default_rng(4))
    assert tuple(first) == tuple(again)


def test_estimators_are_cloned_not_fitted(iris):
    X, y = iris
    a, b = _pair()
    paired_scores(a, b, X, y, five_by_two_splits(len(y), 0))
    assert not hasattr(a, "classes_") and not hasattr(b, "classes_")


# ----- bad input -----

class _NotAnEstimatorType(ClassifierMixin, BaseEstimator):
    pass


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda X, y: paired_ttest_5x2cv(*_pair(), X[:-1], y), "X and y"),
        (lambda X, y: paired_ttest_5x2cv(*_pair(), X, np.where(y == 0, np.nan, y)), "y"),
        (lambda X, y: paired_ttest_5x2cv(*_pair(), X, np.zeros_like(y)), "single class"),
        (lambda X, y: paired_ttest_5x2cv(*_pair(), X[:, 0], y), "2D"),
        (lambda X, y: paired_ttest_kfold_cv(*_pair(), X, y, cv=1), "cv"),
        (lambda X, y: paired_ttest_resampled(*_pair(), X, y, num_rounds=1), "num_rounds"),
        (lambda X, y: paired_ttest_resampled(*_pair(), X, y, test_size=1.5), "test_size"),
        (lambda X, y: paired_ttest_resampled(*_pair(), X, y, test_size="half"), "test_size"),
        (lambda X, y: paired_ttest_5x2cv(*_pair(), X, y, scoring="no-such-metric"), "scoring"),
        (lambda X, y: paired_ttest_5x2cv(*_pair(), X, y, random_state="seed"), "random_state"),
        (lambda X, y: corrected_repeated_kfold_ttest(*_pair(), X, y, k=1), "k"),
        (lambda X, y: ttest_5x2cv_from_differences(np.zeros((5, 3))), "differences"),
        (lambda X, y: paired_ttest([0.1, np.nan, 0.2]), "differences"),
        (lambda X, y: paired_ttest([0.1]), "differences"),
        (lambda X, y: corrected_resampled_ttest([0.1, 0.2], n_train=0, n_test=3), "n_train"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(iris, call, argument):
    X, y = iris
    with pytest.raises(ValueError, match=argument):
        call(X, y)


# ----- properties -----

differences = st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=40)


@settings(max_examples=80, deadline=None)
@given(differences)
def test_paired_t_properties(values):
    d = np.array(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = paired_ttest(d)
        mirrored = paired_ttest(-d)
        shuffled = paired_ttest(d[::-1])
        corrected = corrected_resampled_ttest(d, 2.0, 1.0)
    for r in (result, corrected):
        assert 0.0 <= r.pvalue <= 1.0
    assert mirrored.pvalue == pytest.approx(result.pvalue) and mirrored.statistic == pytest.approx(-result.statistic)
    assert shuffled.pvalue == pytest.approx(result.pvalue)
    assert corrected.pvalue >= result.pvalue - 1e-12


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=10, max_size=10))
def test_5x2cv_properties(values):
    d = np.array(values).reshape(5, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t, f = ttest_5x2cv_from_differences(d), ftest_5x2cv_from_differences(d)
        t_flipped, f_flipped = ttest_5x2cv_from_differences(-d), ftest_5x2cv_from_differences(-d)
        f_rows = ftest_5x2cv_from_differences(d[::-1, ::-1])
    assert 0.0 <= t.pvalue <= 1.0 and 0.0 <= f.pvalue <= 1.0 and f.statistic >= 0
    assert t_flipped.pvalue == pytest.approx(t.pvalue) and f_flipped.pvalue == pytest.approx(f.pvalue)
    # F uses all ten differences symmetrically: any reordering of replications and folds leaves it unchanged.
    assert f_rows.pvalue == pytest.approx(f.pvalue)
