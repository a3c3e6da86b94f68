"""The R-MTGB synthetic benchmark (arXiv:2507.11411): shapes, planted outliers, determinism."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsRegressor

from diversa.datasets.multitask import (
    MIN_CLASS_PROPORTION,
    RandomFourierFunction,
    make_multitask_outlier,
)


def test_shapes_and_task_layout():
    d = make_multitask_outlier(n_tasks=5, n_outlier_tasks=2, n_features=3, n_train_per_task=30,
                               n_test_per_task=11, random_state=0)
    assert d.X_train.shape == (150, 3) and d.y_train.shape == (150,) and d.tasks_train.shape == (150,)
    assert d.X_test.shape == (55, 3) and d.y_test.shape == (55,) and d.tasks_test.shape == (55,)
    assert np.bincount(d.tasks_train).tolist() == [30] * 5 and np.bincount(d.tasks_test).tolist() == [11] * 5
    assert d.is_outlier_task.shape == (5,) and d.is_outlier_task.sum() == 2
    assert d.X_train.min() >= -1 and d.X_train.max() <= 1
    assert len(d) == 7 and d[0] is d.X_train and d[-1] is d.is_outlier_task  # unpacks like a tuple


def test_official_sizes():
    d = make_multitask_outlier(random_state=0)
    assert d.X_train.shape == (3000, 5) and d.X_test.shape == (10000, 5) and d.is_outlier_task.sum() == 2


def test_deterministic_given_random_state():
    a = make_multitask_outlier(n_train_per_task=20, n_test_per_task=5, random_state=3)
    b = make_multitask_outlier(n_train_per_task=20, n_test_per_task=5, random_state=3)
    c = make_multitask_outlier(n_train_per_task=20, n_test_per_task=5, random_state=4)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a.y_train, c.y_train)


def test_outlier_ids_are_shuffled():
    planted = {tuple(np.flatnonzero(make_multitask_outlier(n_train_per_task=2, n_test_per_task=0,
                                                           random_state=s).is_outlier_task)) for s in range(8)}
    assert len(planted) > 1 and planted != {(8, 9)}


def _task_function_correlations(d, n_tasks):
    """Correlation between tasks' functions, each estimated by k-NN on a shared grid."""
    grid = np.random.RandomState(0).uniform(-1, 1, size=(400, d.X_train.shape[1]))
    curves = [KNeighborsRegressor(5).fit(d.X_train[d.tasks_train == r], d.y_train[d.tasks_train == r]).predict(grid)
              for r in range(n_tasks)]
    return np.corrcoef(curves)


def test_planted_outliers_share_a_different_function():
    d = make_multitask_outlier(n_tasks=6, n_outlier_tasks=2, n_features=2, n_train_per_task=400,
                               n_test_per_task=0, random_state=0)
    corr = _task_function_correlations(d, 6)
    out, reg = np.flatnonzero(d.is_outlier_task), np.flatnonzero(~d.is_outlier_task)
    within_regular = corr[np.ix_(reg, reg)][np.triu_indices(len(reg), 1)].min()
    between_outliers = corr[out[0], out[1]]
    across = np.abs(corr[np.ix_(out, reg)]).max()
    assert within_regular > 0.8 and between_outliers > 0.8
    assert across < min(within_regular, between_outliers) - 0.2


def test_scenarios_without_outliers():
    identical = make_multitask_outlier(n_tasks=3, n_features=2, n_train_per_task=400, n_test_per_task=0,
                                       scenario=1, random_state=0)
    unrelated = make_multitask_outlier(n_tasks=3, n_features=2, n_train_per_task=400, n_test_per_task=0,
                                       scenario=2, random_state=0)
    related = make_multitask_outlier(n_tasks=3, n_features=2, n_train_per_task=400, n_test_per_task=0,
                                     scenario=3, random_state=0)
    for d in (identical, unrelated, related):
        assert not d.is_outlier_task.any()
    off = np.triu_indices(3, 1)
    assert _task_function_correlations(identical, 3)[off].min() > 0.95
    assert _task_function_correlations(related, 3)[off].min() > 0.8
    assert np.abs(_task_function_correlations(unrelated, 3)[off]).max() < 0.8


def test_classification_labels_and_balance():
    d = make_multitask_outlier(n_tasks=6, n_train_per_task=40, n_test_per_task=60, task_type="classification",
                               random_state=2)
    assert set(np.unique(d.y_train)) == {-1, 1} and d.y_train.dtype.kind == "i"
    for r in range(6):
        labels = np.concatenate([d.y_train[d.tasks_train == r], d.y_test[d.tasks_test == r]])
        assert min(np.mean(labels == 1), np.mean(labels == -1)) >= MIN_CLASS_PROPORTION


def test_classification_is_the_sign_of_the_regression_draw():
    sizes = {"n_tasks": 3, "n_outlier_tasks": 1, "n_train_per_task": 50, "n_test_per_task": 0, "random_state": 5}
    reg = make_multitask_outlier(**sizes)
    clf = make_multitask_outlier(**sizes, task_type="classification")
    balanced = all(min(np.mean(reg.y_train[reg.tasks_train == r] > 0), np.mean(reg.y_train[reg.tasks_train == r] < 0))
                   >= MIN_CLASS_PROPORTION for r in range(3))
    assert balanced  # so the first draw was accepted and both versions share it
    np.testing.assert_array_equal(clf.y_train, np.where(reg.y_train > 0, 1, -1))


def test_random_fourier_function():
    f = RandomFourierFunction.draw(3, np.random.RandomState(0))
    X = np.random.RandomState(1).uniform(-1, 1, size=(5, 3))
    assert f.weights.shape == (500, 3) and f.length_scale == pytest.approx(0.75)
    manual = np.sqrt(2 / 500) * np.cos(X @ f.weights.T / 0.75 + f.phases) @ f.amplitudes
    np.testing.assert_allclose(f(X), manual)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_tasks": 0}, ValueError, "n_tasks must be >= 1"),
    ({"n_tasks": 2.0}, TypeError, "n_tasks must be an int"),
    ({"n_outlier_tasks": 10}, ValueError, "n_outlier_tasks must be < n_tasks"),
    ({"n_outlier_tasks": -1}, ValueError, "n_outlier_tasks must be >= 0"),
    ({"n_train_per_task": 0}, ValueError, "n_train_per_task must be >= 1"),
    ({"n_features": True}, TypeError, "n_features must be an int"),
    ({"scenario": 5}, ValueError, "scenario must be 1, 2, 3 or 4"),
    ({"task_type": "ranking"}, ValueError, "task_type must be"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_multitask_outlier(**kwargs)


def test_impossible_class_balance_is_reported():
    with pytest.raises(ValueError, match="could not draw"):
        make_multitask_outlier(n_tasks=2, n_outlier_tasks=1, n_train_per_task=1, n_test_per_task=0,
                               task_type="classification", random_state=0)
