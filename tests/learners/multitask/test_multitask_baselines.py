"""The R-MTGB paper's baselines (arXiv:2507.11411): pooled, single-task and MTGB boosting."""

import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def data():
    return make_multitask_outlier(n_tasks=4, n_outlier_tasks=1, n_features=3, n_train_per_task=60,
                                  n_test_per_task=20, random_state=0)


def test_mtgb_is_rmtgb_without_block_2(data):
    mtgb = MTGBRegressor(n_iter_1st=15, n_iter_3rd=5, random_state=0).fit(data.X_train, data.y_train,
                                                                         data.tasks_train)
    rmtgb = RMTGBRegressor(n_iter_1st=15, n_iter_2nd=0, n_iter_3rd=5, random_state=0).fit(
        data.X_train, data.y_train, data.tasks_train)
    np.testing.assert_allclose(mtgb.predict(data.X_test, data.tasks_test),
                               rmtgb.predict(data.X_test, data.tasks_test), rtol=0, atol=1e-12)
    assert not hasattr(mtgb, "theta_")


def test_block_sizes(data):
    X, y, t = data.X_train, data.y_train, data.tasks_train
    pooled = PooledGBRegressor(n_estimators=12).fit(X, y, t)
    single = SingleTaskGBRegressor(n_estimators=7).fit(X, y, t)
    mtgb = MTGBRegressor(n_iter_1st=4, n_iter_3rd=3).fit(X, y, t)
    assert len(pooled.estimators_["meta"]) == 12 and not any(pooled.estimators_["task"])
    assert not single.estimators_["meta"] and [len(e) for e in single.estimators_["task"]] == [7] * 4
    assert len(mtgb.estimators_["meta"]) == 4 and [len(e) for e in mtgb.estimators_["task"]] == [3] * 4
    assert not pooled.estimators_["out"] and not single.estimators_["out"] and not mtgb.estimators_["out"]


def test_pooled_boosting_ignores_tasks(data):
    model = PooledGBRegressor(n_estimators=20, random_state=0).fit(data.X_train, data.y_train, data.tasks_train)
    expected = model.predict(data.X_test)
    np.testing.assert_array_equal(model.predict(data.X_test, np.full(len(data.X_test), 99)), expected)
    np.testing.assert_array_equal(model.predict(data.X_test, data.tasks_test), expected)


def test_single_task_boosting_rejects_unseen_tasks(data):
    model = SingleTaskGBRegressor(n_estimators=5).fit(data.X_train, data.y_train, data.tasks_train)
    with pytest.raises(ValueError, match="unseen at fit"):
        model.predict(data.X_test[:1], [99])


@pytest.mark.parametrize("estimator", [PooledGBClassifier(n_estimators=10), SingleTaskGBClassifier(n_estimators=10),
                                       MTGBClassifier(n_iter_1st=5, n_iter_3rd=5),
                                       RMTGBClassifier(n_iter_1st=5, n_iter_2nd=3, n_iter_3rd=2)])
def test_classifiers_share_the_interface(estimator):
    d = make_multitask_outlier(n_tasks=3, n_outlier_tasks=1, n_features=2, n_train_per_task=50,
                               n_test_per_task=10, task_type="classification", random_state=1)
    estimator.fit(d.X_train, d.y_train, d.tasks_train)
    proba = estimator.predict_proba(d.X_test, d.tasks_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(estimator.predict(d.X_test, d.tasks_test)) <= {-1, 1}


@pytest.mark.parametrize("estimator, match", [
    (PooledGBRegressor(n_estimators=0), "n_estimators must be >= 1"),
    (SingleTaskGBRegressor(n_estimators=2.0), "n_estimators must be an int"),
    (MTGBRegressor(n_iter_3rd=-2), "n_iter_3rd must be >= 0"),
])
def test_bad_block_sizes(data, estimator, match):
    with pytest.raises((ValueError, TypeError), match=match):
        estimator.fit(data.X_train, data.y_train, data.tasks_train)
