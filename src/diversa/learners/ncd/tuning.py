"""Hyper-parameter tuning for novel class discovery that hides known classes, never novel labels.

Troisemaine et al., "A Practical Approach to Novel Class Discovery in Tabular Data",
arXiv:2311.05440, Section 4, spec ``tabular.md#practical-ncd``. Novel labels are never
available, so a k-fold cross-validation runs over the KNOWN classes: shuffle them and split them
into ``n_folds`` groups; in a fold, the classes of one group are hidden (their rows join the
unlabelled rows, their labels are kept aside), the model is trained with the remaining known
classes and all unlabelled rows, the hidden rows are clustered in what it learnt with
k = number of hidden classes, and the fold's score is the Hungarian accuracy on them. The
combination with the best mean score wins, on the assumption that what rediscovers hidden known
classes also discovers novel ones. A group of one class scores 1 by construction (one cluster
cannot be wrong), so pick ``n_folds`` so that every group holds two classes or more.

An estimator takes part if it follows the conventions of :mod:`diversa.learners.ncd`:
``fit(X_known, y_known, X_unlabelled)``, an ``n_clusters`` parameter, and
``cluster_novel(X, n_clusters)`` after fitting.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.model_selection import ParameterGrid
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, check_random_state

from diversa.learners.ncd._data import split_known_unlabelled
from diversa.learners.ncd.matching import clustering_accuracy

__all__ = ["HiddenClassSearchCV", "hidden_class_cv", "hidden_class_folds"]


def hidden_class_folds(classes, n_folds: int = 3, random_state=None) -> list[np.ndarray]:
    """Groups of known classes to hide, one per fold: the shuffled classes split into ``n_folds`` near-equal groups."""
    classes = np.unique(np.asarray(classes))
    if classes.size < 2:
        raise ValueError(f"hidden-class cross-validation needs at least 2 known classes in y, "
                         f"got {classes.size} class(es).")
    if isinstance(n_folds, bool) or not isinstance(n_folds, numbers.Integral) or not 2 <= n_folds <= classes.size:
        raise ValueError(f"n_folds must be an int in [2, {classes.size}] (the number of known classes), "
                         f"got {n_folds!r}.")
    shuffled = check_random_state(random_state).permutation(classes)
    return [np.sort(group) for group in np.array_split(shuffled, n_folds)]


def _score_fold(estimator, params: dict, X_known, y_known, X_u, hidden):
    is_hidden = np.isin(y_known, hidden)
    model = clone(estimator).set_params(**params)
    if "n_clusters" in model.get_params():
        model.set_params(n_clusters=len(hidden))
    model.fit(X_known[~is_hidden], y_known[~is_hidden], np.vstack([X_u, X_known[is_hidden]]))
    found = model.cluster_novel(X_known[is_hidden], n_clusters=len(hidden))
    return clustering_accuracy(y_known[is_hidden], found), model


def hidden_class_cv(estimator, param_grid, X, y=None, X_unlabelled=None, *, n_folds: int = 3, unknown_label=None,
                    random_state=None, n_jobs=None, return_estimators: bool = False) -> pd.DataFrame:
    """Score every combination of ``param_grid`` by how well it rediscovers hidden known classes.

    ``X, y, X_unlabelled`` follow the estimators' conventions (``fit(X_known, y_known,
    X_unlabelled)`` or ``y == unknown_label`` on unlabelled rows; ``unknown_label`` defaults to the
    estimator's). The labels of unlabelled rows are never given, so never read. Returns one row
    per combination: ``params``, ``param_<name>``, ``split<i>_score``, ``mean_score``,
    ``std_score``, ``rank`` (1 = best), and with ``return_estimators`` ``estimators`` (the fitted
    model of every fold); ``attrs["hidden_classes"]`` lists each fold's hidden classes. Fits run
    through joblib with ``n_jobs`` workers.
    """
    if not hasattr(estimator, "cluster_novel"):
        raise TypeError(f"{type(estimator).__name__} has no cluster_novel(X, n_clusters): hidden-class "
                        "cross-validation clusters the hidden rows with the fitted model. Tune a transductive "
                        "method (e.g. NCDSpectralClustering) on the known rows' accuracy instead.")
    if unknown_label is None:
        unknown_label = getattr(estimator, "unknown_label", -1)
    X_known, y_known, X_u = split_known_unlabelled(clone(estimator), X, y, X_unlabelled, unknown_label=unknown_label,
                                                   cluster_all_if_none_unlabelled=False)
    folds = hidden_class_folds(y_known, n_folds, random_state)
    grid = list(ParameterGrid(param_grid))
    runs = Parallel(n_jobs=n_jobs)(delayed(_score_fold)(estimator, params, X_known, y_known, X_u, hidden)
                                   for params in grid for hidden in folds)
    scores = np.asarray([score for score, _ in runs], dtype=float).reshape(len(grid), len(folds))
    table = pd.DataFrame({"params": grid})
    for name in sorted({key for params in grid for key in params}):
        table[f"param_{name}"] = [params.get(name) for params in grid]
    for i in range(len(folds)):
        table[f"split{i}_score"] = scores[:, i]
    table["mean_score"] = scores.mean(axis=1)
    table["std_score"] = scores.std(axis=1)
    table["rank"] = table["mean_score"].rank(ascending=False, method="min").astype(int)
    if return_estimators:
        table["estimators"] = [[model for _, model in runs[i * len(folds):(i + 1) * len(folds)]]
                               for i in range(len(grid))]
    table.attrs["hidden_classes"] = [group.tolist() for group in folds]
    return table


def _best_has(name: str):
    def check(search) -> bool:
        return hasattr(search.best_estimator_ if hasattr(search, "best_estimator_") else search.estimator, name)
    return check


class HiddenClassSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Grid search of an NCD estimator by hidden-class cross-validation, then a refit on all rows.

    Parameters
    ----------
    estimator : an estimator of :mod:`diversa.learners.ncd` (``n_clusters`` is set per fold to
        the number of hidden classes; the refit keeps the estimator's own, e.g. "auto").
    param_grid : dict or list of dicts, as scikit-learn's ``GridSearchCV``.
    n_folds : groups of known classes, one hidden per fold.
    unknown_label : label of unlabelled rows in ``y`` (default: the estimator's).
    random_state : seeds the split of the known classes. n_jobs : joblib workers.

    Attributes
    ----------
    cv_results_ (DataFrame, see :func:`hidden_class_cv`), best_params_, best_score_, best_index_,
    best_estimator_ (refit on all rows), n_features_in_; ``predict``, ``transform``,
    ``cluster_novel``, ``labels_`` and ``n_novel_classes_`` come from the best estimator.
    """

    def __init__(self, estimator, param_grid, n_folds=3, unknown_label=None, random_state=None, n_jobs=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.n_folds = n_folds
        self.unknown_label = unknown_label
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        # a transformer when the tuned estimator is one; not declared a clusterer, since tuning
        # needs labelled known classes and a plain fit(X) has none
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.transformer_tags = inner.transformer_tags
        tags.input_tags = inner.input_tags
        return tags

    def fit(self, X, y=None, X_unlabelled=None):
        """Tune on ``X, y, X_unlabelled`` (the estimators' conventions) and refit the best combination."""
        self.cv_results_ = hidden_class_cv(self.estimator, self.param_grid, X, y, X_unlabelled, n_folds=self.n_folds,
                                           unknown_label=self.unknown_label, random_state=self.random_state,
                                           n_jobs=self.n_jobs)
        self.best_index_ = int(np.argmax(self.cv_results_["mean_score"].to_numpy()))
        self.best_params_ = dict(self.cv_results_["params"][self.best_index_])
        self.best_score_ = float(self.cv_results_["mean_score"][self.best_index_])
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y, X_unlabelled)
        self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    @property
    def labels_(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.labels_

    @property
    def n_novel_classes_(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.n_novel_classes_

    @available_if(_best_has("predict"))
    def predict(self, X):
        """Novel cluster of every row of ``X``, from the best estimator."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    @available_if(_best_has("transform"))
    def transform(self, X):
        """The best estimator's ``transform``."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.transform(X)

    @available_if(_best_has("transform"))
    def fit_transform(self, X, y=None, X_unlabelled=None):
        """Tune, refit and return the best estimator's ``transform`` of ``X``."""
        return self.fit(X, y, X_unlabelled).transform(X)

    @available_if(_best_has("cluster_novel"))
    def cluster_novel(self, X_novel, n_clusters=None):
        """The best estimator's transductive clustering of new rows."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.cluster_novel(X_novel, n_clusters)

    def fit_predict(self, X, y=None, X_unlabelled=None):
        """Tune, refit and return the novel cluster of every unlabelled row."""
        return self.fit(X, y, X_unlabelled).labels_
