"""Block 3 of R-MTGB (arXiv:2507.11411): per-task fine-tuning touches only its own task."""

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor

from diversa.learners.multitask import RMTGBRegressor, SingleTaskGBRegressor
from diversa.learners.multitask.task_finetuning import task_rows


def _data(seed=0, n=240, n_tasks=3):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    tasks = rng.randint(0, n_tasks, n)
    y = np.sin(3 * X[:, 0]) * np.where(tasks == 0, -1.0, 1.0) + X[:, 1] * tasks
    return X, y, tasks


def test_task_rows_partition_the_rows():
    index = np.array([2, 0, 2, 1, 0, 2])
    rows = task_rows(index, 4)
    assert [r.tolist() for r in rows] == [[1, 4], [3], [0, 2, 5], []]


def test_single_task_boosting_equals_one_sklearn_model_per_task():
    X, y, tasks = _data()
    X_new, _, tasks_new = _data(seed=1)
    ours = SingleTaskGBRegressor(n_estimators=40, random_state=0).fit(X, y, tasks)
    prediction = ours.predict(X_new, tasks_new)
    for r in range(3):
        reference = GradientBoostingRegressor(n_estimators=40, learning_rate=0.1, max_depth=3, max_leaf_nodes=2,
                                              init="zero", random_state=0).fit(X[tasks == r], y[tasks == r])
        np.testing.assert_allclose(prediction[tasks_new == r], reference.predict(X_new[tasks_new == r]),
                                   rtol=0, atol=1e-8)


def test_a_tasks_fine_tuning_ignores_the_other_tasks_rows():
    X, y, tasks = _data()
    y_changed = y.copy()
    y_changed[tasks == 2] = 10.0 * np.cos(5 * X[tasks == 2, 2])
    a = SingleTaskGBRegressor(n_estimators=30, random_state=0).fit(X, y, tasks)
    b = SingleTaskGBRegressor(n_estimators=30, random_state=0).fit(X, y_changed, tasks)
    X_new = _data(seed=2)[0]
    for r in (0, 1):
        np.testing.assert_allclose(a.predict(X_new, np.full(len(X_new), r)), b.predict(X_new, np.full(len(X_new), r)),
                                   atol=1e-12)
    assert not np.allclose(a.predict(X_new, np.full(len(X_new), 2)), b.predict(X_new, np.full(len(X_new), 2)))


def test_per_task_predictions_use_only_that_tasks_parameters():
    X, y, tasks = _data(seed=3)
    model = RMTGBRegressor(n_iter_1st=10, n_iter_2nd=10, n_iter_3rd=10, random_state=0).fit(X, y, tasks)
    X_new, _, tasks_new = _data(seed=4)
    before = model.predict(X_new, tasks_new)
    # A row predicted alone equals the same row predicted within a mixed batch.
    np.testing.assert_allclose(model.predict(X_new[:1], tasks_new[:1]), before[:1], rtol=0, atol=1e-12)
    model.theta_[2] += 5.0
    model.estimators_["task"][2] = model.estimators_["task"][2][:1]
    after = model.predict(X_new, tasks_new)
    np.testing.assert_array_equal(after[tasks_new != 2], before[tasks_new != 2])
    assert not np.allclose(after[tasks_new == 2], before[tasks_new == 2])


def test_block_3_reduces_the_training_loss_and_keeps_a_tree_list_per_task():
    X, y, tasks = _data(seed=5)
    model = RMTGBRegressor(n_iter_1st=5, n_iter_2nd=0, n_iter_3rd=20, random_state=0).fit(X, y, tasks)
    assert [len(trees) for trees in model.estimators_["task"]] == [20, 20, 20]
    assert np.all(np.diff(model.train_loss_[5:]) <= 1e-12)


def test_a_task_with_a_single_row_is_fitted():
    X, y, tasks = _data(seed=6)
    tasks = tasks.copy()
    tasks[0] = 7
    model = RMTGBRegressor(n_iter_1st=5, n_iter_2nd=3, n_iter_3rd=5, random_state=0).fit(X, y, tasks)
    assert model.tasks_.tolist() == [0, 1, 2, 7]
    assert len(model.estimators_["task"][3]) == 5
    assert np.isfinite(model.predict(X[:1], [7])).all()
