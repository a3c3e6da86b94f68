"""R-MTGB estimators (arXiv:2507.11411): scikit-learn contract, end-to-end behaviour, bad input."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.datasets.multitask import make_multitask_outlier
from diversa.learners.multitask import (
    MTGBClassifier,
    MTGBRegressor,
    PooledGBClassifier,
    PooledGBRegressor,
    RMTGBClassifier,
    RMTGBRegressor,
    SingleTaskGBClassifier,
    SingleTaskGBRegressor,
)

SMALL = {"n_iter_1st": 10, "n_iter_2nd": 5, "n_iter_3rd": 3}


# Without tasks every row belongs to one task, so the estimators are plain
# regressors/classifiers and pass every check; no expected failures.
@parametrize_with_checks([
    RMTGBRegressor(**SMALL), RMTGBClassifier(**SMALL),
    PooledGBRegressor(n_estimators=10), PooledGBClassifier(n_estimators=10),
    SingleTaskGBRegressor(n_estimators=10), SingleTaskGBClassifier(n_estimators=10),
    MTGBRegressor(n_iter_1st=10, n_iter_3rd=3), MTGBClassifier(n_iter_1st=10, n_iter_3rd=3),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def regression_data():
    return make_multitask_outlier(n_tasks=5, n_outlier_tasks=1, n_features=3, n_train_per_task=80,
                                  n_test_per_task=40, random_state=0)


@pytest.fixture(scope="module")
def classification_data():
    return make_multitask_outlier(n_tasks=4, n_outlier_tasks=1, n_features=3, n_train_per_task=80,
                                  n_test_per_task=40, task_type="classification", random_state=0)


def test_fit_exposes_the_learned_partition(regression_data):
    d = regression_data
    model = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    assert model.tasks_.tolist() == [0, 1, 2, 3, 4] and model.n_tasks_ == 5
    assert model.theta_.shape == (5,) and model.theta_path_.shape == (6, 5)
    np.testing.assert_allclose(model.outlier_score_, 1 / (1 + np.exp(-model.theta_)))
    assert set(model.estimators_) == {"meta", "out", "non", "task"}
    assert (len(model.estimators_["meta"]), len(model.estimators_["out"]), len(model.estimators_["non"])) == (10, 5, 5)
    assert [len(t) for t in model.estimators_["task"]] == [3] * 5
    assert model.train_loss_.shape == (18,)
    assert model.predict(d.X_test, d.tasks_test).shape == (200,)


def test_fit_is_deterministic_given_random_state(regression_data):
    d = regression_data
    a = RMTGBRegressor(**SMALL, subsample=0.7, random_state=5).fit(d.X_train, d.y_train, d.tasks_train)
    b = RMTGBRegressor(**SMALL, subsample=0.7, random_state=5).fit(d.X_train, d.y_train, d.tasks_train)
    np.testing.assert_array_equal(a.predict(d.X_test, d.tasks_test), b.predict(d.X_test, d.tasks_test))
    np.testing.assert_array_equal(a.theta_, b.theta_)


def test_task_column_equals_the_tasks_argument(regression_data):
    d = regression_data
    by_argument = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    X_col = np.column_stack([d.X_train, d.tasks_train])
    by_column = RMTGBRegressor(**SMALL, task_col=-1, random_state=0).fit(X_col, d.y_train)
    frame = pd.DataFrame(d.X_train, columns=["a", "b", "c"]).assign(site=d.tasks_train)
    by_name = RMTGBRegressor(**SMALL, task_col="site", random_state=0).fit(frame, d.y_train)
    expected = by_argument.predict(d.X_test, d.tasks_test)
    np.testing.assert_array_equal(by_column.predict(np.column_stack([d.X_test, d.tasks_test])), expected)
    test_frame = pd.DataFrame(d.X_test, columns=["a", "b", "c"]).assign(site=d.tasks_test)
    np.testing.assert_array_equal(by_name.predict(test_frame), expected)
    assert by_name.feature_names_in_.tolist() == ["a", "b", "c"] and by_column.n_features_in_ == 3


def test_string_task_ids(regression_data):
    d = regression_data
    names = np.array(["north", "south", "east", "west", "up"])
    model = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, names[d.tasks_train])
    reference = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    # Sorted ids differ, so the tasks get other indices (and other theta draws); predictions stay sane.
    assert model.tasks_.tolist() == sorted(names.tolist())
    assert model.score(d.X_test, d.y_test, names[d.tasks_test]) > reference.score(d.X_test, d.y_test,
                                                                                   d.tasks_test) - 0.2


def test_classifier_probabilities(classification_data):
    d = classification_data
    model = RMTGBClassifier(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    proba = model.predict_proba(d.X_test, d.tasks_test)
    assert model.classes_.tolist() == [-1, 1]
    assert proba.shape == (160, 2) and model.init_raw_.shape == (2,)  # binary uses K = 2 raw scores
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(d.X_test, d.tasks_test), model.classes_[proba.argmax(axis=1)])
    assert model.score(d.X_test, d.y_test, d.tasks_test) > 0.6


def test_multiclass_classifier():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(150, 2))
    tasks = rng.randint(0, 2, 150)
    y = np.digitize(X[:, 0], [-0.33, 0.33])
    model = RMTGBClassifier(**SMALL, random_state=0).fit(X, y, tasks)
    assert model.predict_proba(X, tasks).shape == (150, 3)
    assert model.score(X, y, tasks) > 0.8


def test_without_outlier_tasks_it_approaches_pooled_boosting():
    d = make_multitask_outlier(n_tasks=4, n_features=2, n_train_per_task=150, n_test_per_task=100, scenario=1,
                               random_state=1)
    rmtgb = RMTGBRegressor(n_iter_1st=50, n_iter_2nd=50, n_iter_3rd=20, random_state=0).fit(
        d.X_train, d.y_train, d.tasks_train)
    pooled = PooledGBRegressor(n_estimators=170, random_state=0).fit(d.X_train, d.y_train)

    def rmse(model):
        return np.sqrt(np.mean((model.predict(d.X_test, d.tasks_test) - d.y_test) ** 2))

    assert abs(rmse(rmtgb) - rmse(pooled)) < 0.15 * rmse(pooled)
    assert not d.is_outlier_task.any()


def test_unknown_task_at_predict(regression_data):
    d = regression_data
    model = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    with pytest.raises(ValueError, match="tasks contains ids unseen at fit: 9"):
        model.predict(d.X_test[:2], [0, 9])


def test_tasks_are_required_for_a_multi_task_model(regression_data):
    d = regression_data
    model = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    with pytest.raises(ValueError, match="tasks is required"):
        model.predict(d.X_test)


def test_task_column_missing(regression_data):
    d = regression_data
    frame = pd.DataFrame(d.X_train, columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="task_col='site' is not a column of X"):
        RMTGBRegressor(**SMALL, task_col="site").fit(frame, d.y_train)
    model = RMTGBRegressor(**SMALL, task_col="site").fit(frame.assign(site=d.tasks_train), d.y_train)
    with pytest.raises(ValueError, match="task_col='site' is not a column of X"):
        model.predict(frame)


def test_mismatched_lengths(regression_data):
    d = regression_data
    with pytest.raises(ValueError, match="tasks has 399 entries but X has 400 rows"):
        RMTGBRegressor(**SMALL).fit(d.X_train, d.y_train, d.tasks_train[:-1])
    model = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    with pytest.raises(ValueError, match="tasks has 3 entries but X has 2 rows"):
        model.predict(d.X_test[:2], [0, 1, 2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RMTGBRegressor(**SMALL).fit(d.X_train, d.y_train[:-1], d.tasks_train)


def test_wrong_number_of_features_at_predict(regression_data):
    d = regression_data
    model = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, d.y_train, d.tasks_train)
    with pytest.raises(ValueError, match="features"):
        model.predict(d.X_test[:, :2], d.tasks_test)


@pytest.mark.parametrize("params, error, match", [
    ({"n_iter_1st": -1}, ValueError, "n_iter_1st must be >= 0"),
    ({"n_iter_2nd": 1.5}, TypeError, "n_iter_2nd must be an int"),
    ({"n_iter_1st": 0, "n_iter_2nd": 0, "n_iter_3rd": 0}, ValueError, "at least one boosting iteration"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate must be in"),
    ({"learning_rate": "fast"}, TypeError, "learning_rate must be a real number"),
    ({"max_depth": 0}, ValueError, "max_depth must be >= 1"),
    ({"max_leaf_nodes": 1}, ValueError, "max_leaf_nodes must be >= 2"),
    ({"subsample": 1.5}, ValueError, "subsample must be in"),
    ({"theta_l2": -1.0}, ValueError, "theta_l2 must be in"),
    ({"theta_init_scale": -0.1}, ValueError, "theta_init_scale must be in"),
    ({"theta_step": "median"}, ValueError, "theta_step must be one of"),
    ({"init": "median"}, ValueError, "init must be one of"),
])
def test_bad_hyperparameters(regression_data, params, error, match):
    d = regression_data
    model = RMTGBRegressor(**{**SMALL, **params})
    with pytest.raises(error, match=match):
        model.fit(d.X_train, d.y_train, d.tasks_train)
    assert not hasattr(model, "estimators_")


def test_classifier_needs_two_classes():
    with pytest.raises(ValueError, match="only one class"):
        RMTGBClassifier(**SMALL).fit(np.zeros((4, 2)), [1, 1, 1, 1], [0, 0, 1, 1])


def test_mean_init_and_mean_theta_step(regression_data):
    d = regression_data
    shifted = d.y_train + 50.0
    zero = RMTGBRegressor(**SMALL, random_state=0).fit(d.X_train, shifted, d.tasks_train)
    mean = RMTGBRegressor(**SMALL, init="mean", theta_step="mean", random_state=0).fit(
        d.X_train, shifted, d.tasks_train)
    np.testing.assert_allclose(mean.init_raw_, [shifted.mean()])
    assert mean.train_loss_[-1] < zero.train_loss_[-1]  # the zero start is far from an offset target
    assert np.all(np.isfinite(mean.theta_))


def test_clone_keeps_hyperparameters():
    model = RMTGBClassifier(n_iter_2nd=7, theta_l2=0.3, task_col="site", random_state=1)
    assert clone(model).get_params() == model.get_params()
