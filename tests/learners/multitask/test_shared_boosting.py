"""Block 1 of R-MTGB (arXiv:2507.11411): shared boosting equals scikit-learn's gradient boosting."""

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor

from diversa.learners.multitask import PooledGBRegressor, RMTGBRegressor


def _data(n=200, d=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, d))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=n)
    return X, y, rng.randint(0, 3, n)


def _sklearn_gbr(n_estimators):
    return GradientBoostingRegressor(loss="squared_error", learning_rate=0.1, n_estimators=n_estimators,
                                     max_depth=3, max_leaf_nodes=2, init="zero", subsample=1.0, random_state=0)


def test_block_1_alone_reproduces_sklearn_gradient_boosting():
    X, y, tasks = _data()
    ours = RMTGBRegressor(n_iter_1st=50, n_iter_2nd=0, n_iter_3rd=0, random_state=0).fit(X, y, tasks)
    reference = _sklearn_gbr(50).fit(X, y)
    X_new = _data(seed=1)[0]
    np.testing.assert_allclose(ours.predict(X_new, tasks), reference.predict(X_new), rtol=0, atol=1e-8)
    pooled = PooledGBRegressor(n_estimators=50, random_state=0).fit(X, y)
    np.testing.assert_allclose(pooled.predict(X_new), reference.predict(X_new), rtol=0, atol=1e-8)


def test_block_1_training_loss_never_increases():
    X, y, tasks = _data(seed=2)
    model = RMTGBRegressor(n_iter_1st=60, n_iter_2nd=0, n_iter_3rd=0, random_state=0).fit(X, y, tasks)
    losses = model.train_loss_
    assert losses.shape == (60,)
    assert np.all(np.diff(losses) <= 1e-12)
    assert losses[-1] < 0.5 * np.mean(0.5 * y ** 2)  # it learned from the zero start
    np.testing.assert_allclose(losses[-1], np.mean(0.5 * (y - model.predict(X, tasks)) ** 2))


def test_shared_trees_ignore_the_task_ids():
    X, y, tasks = _data(seed=3)
    a = RMTGBRegressor(n_iter_1st=20, n_iter_2nd=0, n_iter_3rd=0, random_state=0).fit(X, y, tasks)
    b = RMTGBRegressor(n_iter_1st=20, n_iter_2nd=0, n_iter_3rd=0, random_state=0).fit(X, y, (tasks + 1) % 3)
    np.testing.assert_array_equal(a.predict(X, tasks), b.predict(X, tasks))
