import numpy as np
import pytest
from sklearn.datasets import make_blobs

from diversa.learners.ncd import (
    HiddenClassSearchCV,
    NCDKMeans,
    NCDSpectralClustering,
    clustering_accuracy,
    hidden_class_cv,
    hidden_class_folds,
)


@pytest.fixture(scope="module")
def problem():
    """Eight blobs: 0-4 known, 5-7 novel."""
    X, y = make_blobs(n_samples=400, centers=8, cluster_std=0.5, random_state=7)
    known = y < 5
    return X[known], y[known], X[~known]


def test_folds_partition_the_known_classes():
    folds = hidden_class_folds([4, 1, 9, 7, 2], n_folds=3, random_state=0)
    assert sorted(len(f) for f in folds) == [1, 2, 2]
    assert sorted(np.concatenate(folds).tolist()) == [1, 2, 4, 7, 9]
    with pytest.raises(ValueError, match="at least 2 known classes"):
        hidden_class_folds([3])
    with pytest.raises(ValueError, match="n_folds"):
        hidden_class_folds([0, 1, 2], n_folds=4)
    with pytest.raises(ValueError, match="n_folds"):
        hidden_class_folds([0, 1, 2], n_folds=1)


def test_a_fold_score_is_the_accuracy_on_the_hidden_classes(problem):
    X_k, y_k, X_u = problem
    table = hidden_class_cv(NCDKMeans(n_init=2, random_state=0), {"max_iter": [50]}, X_k, y_k, X_u, n_folds=2,
                            random_state=3)
    hidden = table.attrs["hidden_classes"][0]
    is_hidden = np.isin(y_k, hidden)
    model = NCDKMeans(n_clusters=len(hidden), n_init=2, max_iter=50, random_state=0).fit(
        X_k[~is_hidden], y_k[~is_hidden], np.vstack([X_u, X_k[is_hidden]]))
    expected = clustering_accuracy(y_k[is_hidden], model.cluster_novel(X_k[is_hidden], len(hidden)))
    assert table["split0_score"][0] == pytest.approx(expected)
    assert table["mean_score"][0] == pytest.approx(table[["split0_score", "split1_score"]].to_numpy().mean())


def test_both_calling_conventions_give_the_same_table(problem):
    # the unlabelled rows carry no label in either form, so nothing about novel classes can be read
    X_k, y_k, X_u = problem
    grid = {"max_iter": [1, 100]}
    est = NCDKMeans(n_init=2, random_state=0)
    a = hidden_class_cv(est, grid, X_k, y_k, X_u, n_folds=2, random_state=1)
    b = hidden_class_cv(est, grid, np.vstack([X_k, X_u]), np.concatenate([y_k, np.full(len(X_u), -1)]),
                        n_folds=2, random_state=1)
    np.testing.assert_array_equal(a["mean_score"], b["mean_score"])
    assert list(a["param_max_iter"]) == [1, 100] and set(a["rank"]) <= {1, 2}


def test_search_refits_the_best_combination(problem):
    X_k, y_k, X_u = problem
    search = HiddenClassSearchCV(NCDKMeans(k_range=(2, 6), k_repeats=1, n_init=2, random_state=0),
                                 {"max_iter": [1, 100]}, n_folds=2, random_state=0).fit(X_k, y_k, X_u)
    best = int(np.argmax(search.cv_results_["mean_score"]))
    assert search.best_params_ == search.cv_results_["params"][best]
    assert search.best_estimator_.max_iter == search.best_params_["max_iter"]
    assert search.n_novel_classes_ == search.best_estimator_.n_novel_classes_     # estimated, not set per fold
    np.testing.assert_array_equal(search.predict(X_u), search.best_estimator_.predict(X_u))
    np.testing.assert_array_equal(search.labels_, search.best_estimator_.labels_)


def test_needs_an_estimator_that_clusters_new_rows(problem):
    X_k, y_k, X_u = problem
    with pytest.raises(TypeError, match="cluster_novel"):
        hidden_class_cv(NCDSpectralClustering(), {}, X_k, y_k, X_u)


def test_needs_two_known_classes(problem):
    X_k, y_k, X_u = problem
    with pytest.raises(ValueError, match="at least 2 known classes"):
        hidden_class_cv(NCDKMeans(), {}, X_k[y_k == 0], y_k[y_k == 0], X_u)
    with pytest.raises(ValueError, match="at least 2 known classes"):
        hidden_class_cv(NCDKMeans(), {}, X_u)
