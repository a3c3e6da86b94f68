"""Block 2 of R-MTGB (arXiv:2507.11411): outlier/non-outlier ensembles and the learned theta."""

import numpy as np
import pytest
from scipy.special import expit

from diversa.datasets.multitask import make_multitask_outlier
from diversa.learners.multitask import (
    RMTGBClassifier,
    RMTGBRegressor,
    minority_outlier_mask,
    oriented_outlier_scores,
    theta_gradient,
)
from diversa.learners.multitask.gradient_boosting import (
    SoftmaxCrossEntropyLoss,
    SquaredErrorLoss,
    compose,
)


def _parts(n, k, seed):
    rng = np.random.RandomState(seed)
    return [rng.normal(size=(n, k)) for _ in range(4)], rng


@pytest.mark.parametrize("loss, k", [(SquaredErrorLoss(), 1), (SoftmaxCrossEntropyLoss(), 3)])
@pytest.mark.parametrize("theta_step", ["sum", "mean"])
def test_theta_gradient_matches_finite_differences(loss, k, theta_step):
    (meta, out, non, task), rng = _parts(40, k, seed=k)
    task_index = rng.randint(0, 4, 40)
    Y = rng.normal(size=(40, 1)) if k == 1 else np.eye(k)[rng.randint(0, k, 40)]
    theta = rng.normal(size=4)
    counts = np.bincount(task_index, minlength=4)

    def total_loss(th):
        per_row = loss.row_loss(Y, compose(meta, out, non, task, expit(th)[task_index]))
        per_task = np.bincount(task_index, weights=per_row, minlength=4)
        return (per_task / counts).sum() if theta_step == "mean" else per_task.sum()

    g = loss.negative_gradient(Y, compose(meta, out, non, task, expit(theta)[task_index]))
    analytic = theta_gradient(g, out - non, theta, task_index, theta_step=theta_step)
    numeric = np.array([(total_loss(theta + e) - total_loss(theta - e)) / 2e-6 for e in 1e-6 * np.eye(4)])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_theta_l2_adds_the_penalty_gradient():
    (_, out, non, _), rng = _parts(10, 1, seed=0)
    g, theta, index = rng.normal(size=(10, 1)), np.array([1.0, -2.0]), rng.randint(0, 2, 10)
    plain = theta_gradient(g, out - non, theta, index)
    np.testing.assert_allclose(theta_gradient(g, out - non, theta, index, theta_l2=0.5), plain + 0.5 * theta)


def _small_outlier_data(task_type="regression", seed=0):
    return make_multitask_outlier(n_tasks=6, n_outlier_tasks=2, n_features=2, n_train_per_task=150,
                                  n_test_per_task=10, task_type=task_type, random_state=seed)


def test_zero_start_keeps_theta_at_zero_and_the_two_ensembles_equal():
    data = _small_outlier_data()
    model = RMTGBRegressor(n_iter_1st=10, n_iter_2nd=15, n_iter_3rd=0, theta_init_scale=0.0,
                           random_state=0).fit(data.X_train, data.y_train, data.tasks_train)
    assert np.all(model.theta_ == 0) and np.all(model.theta_path_ == 0)
    np.testing.assert_array_equal(model.outlier_score_, 0.5)
    X32 = data.X_test.astype(np.float32)
    for out_tree, non_tree in zip(model.estimators_["out"], model.estimators_["non"]):
        np.testing.assert_array_equal(out_tree.predict(X32), non_tree.predict(X32))
    assert model.outlier_tasks_.size == 0
    # With every s_r = 0.5 and no block 3 the model is one pooled model: tasks do not matter.
    x = np.repeat(data.X_test[:1], 6, axis=0)
    assert np.ptp(model.predict(x, np.arange(6))) == 0


def test_one_block_2_iteration_leaves_theta_at_its_start_and_warns():
    data = _small_outlier_data()
    with pytest.warns(UserWarning, match="n_iter_2nd=1"):
        model = RMTGBRegressor(n_iter_1st=5, n_iter_2nd=1, n_iter_3rd=1, random_state=3).fit(
            data.X_train, data.y_train, data.tasks_train)
    np.testing.assert_array_equal(model.theta_, model.theta_path_[0])
    assert model.theta_path_.shape == (2, 6)
    assert 0 < np.std(model.theta_) < 0.5  # the random N(0, 0.1^2) start
    assert model.outlier_tasks_.size == 0  # no partition is claimed from an unlearned theta


def test_theta_step_uses_the_ensemble_before_the_iterations_trees():
    data = _small_outlier_data(seed=1)
    X, y, tasks = data.X_train, data.y_train, data.tasks_train
    model = RMTGBRegressor(n_iter_1st=5, n_iter_2nd=2, n_iter_3rd=0, random_state=0).fit(X, y, tasks)
    X32, nu = X.astype(np.float32), 0.1
    meta = nu * sum(t.predict(X32) for t in model.estimators_["meta"])[:, None]
    out1 = nu * model.estimators_["out"][0].predict(X32)[:, None]
    non1 = nu * model.estimators_["non"][0].predict(X32)[:, None]
    theta1 = model.theta_path_[1]
    np.testing.assert_array_equal(theta1, model.theta_path_[0])  # zero gradient at f_out = f_non = 0
    g = y[:, None] - compose(meta, out1, non1, 0.0, expit(theta1)[tasks])
    expected = theta1 - nu * theta_gradient(g, out1 - non1, theta1, tasks)
    np.testing.assert_allclose(model.theta_, expected, rtol=1e-10)


def test_theta_is_clipped():
    data = _small_outlier_data()
    model = RMTGBRegressor(n_iter_1st=0, n_iter_2nd=30, n_iter_3rd=0, learning_rate=1.0, theta_init_scale=3.0,
                           random_state=0).fit(data.X_train, 100 * data.y_train, data.tasks_train)
    assert np.all(np.abs(model.theta_path_) <= 20.0)


def test_theta_l2_pulls_theta_towards_zero():
    data = _small_outlier_data()
    fit = {"n_iter_1st": 10, "n_iter_2nd": 40, "n_iter_3rd": 0, "random_state": 0}
    free = RMTGBRegressor(**fit).fit(data.X_train, data.y_train, data.tasks_train)
    shrunk = RMTGBRegressor(theta_l2=5.0, **fit).fit(data.X_train, data.y_train, data.tasks_train)
    assert np.abs(shrunk.theta_).sum() < np.abs(free.theta_).sum()


@pytest.mark.parametrize("task_type, estimator", [("regression", RMTGBRegressor),
                                                   ("classification", RMTGBClassifier)])
def test_planted_outlier_tasks_get_the_outlier_weights(task_type, estimator):
    data = _small_outlier_data(task_type, seed=2)
    model = estimator(n_iter_1st=20, n_iter_2nd=60, n_iter_3rd=0, random_state=0).fit(
        data.X_train, data.y_train, data.tasks_train)
    planted = np.flatnonzero(data.is_outlier_task)
    np.testing.assert_array_equal(np.sort(model.outlier_tasks_), planted)
    score = oriented_outlier_scores(model.outlier_score_)
    assert score[data.is_outlier_task].min() > score[~data.is_outlier_task].max()


def test_minority_side_rules():
    np.testing.assert_array_equal(minority_outlier_mask([0.9, 0.8, 0.1, 0.7]), [False, False, True, False])
    np.testing.assert_array_equal(minority_outlier_mask([0.1, 0.2, 0.9, 0.3]), [False, False, True, False])
    np.testing.assert_array_equal(minority_outlier_mask([0.9, 0.1]), [True, False])  # tie: the f_out side
    assert not minority_outlier_mask([0.6, 0.7, 0.9]).any()  # all on one side
    assert not minority_outlier_mask([0.5, 0.5]).any()
    np.testing.assert_allclose(oriented_outlier_scores([0.9, 0.8, 0.1]), [0.1, 0.2, 0.9])
