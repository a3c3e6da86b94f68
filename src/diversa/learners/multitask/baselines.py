"""The baselines R-MTGB is compared with: pooled, single-task and multi-task boosting.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025). Each baseline is R-MTGB with some blocks
switched off, so all share the same losses, stumps and initial score of 0:

* pooled boosting (``PooledGB*``): block 1 only, ``n_estimators`` trees on
  all tasks' rows; ignores tasks at predict time (the regressor equals
  ``GradientBoostingRegressor(init="zero", max_leaf_nodes=2)``);
* single-task boosting (``SingleTaskGB*``): block 3 only, an independent
  ensemble of ``n_estimators`` trees per task (the regressor equals one
  ``GradientBoostingRegressor(init="zero")`` per task);
* multi-task boosting (``MTGB*``, the authors' earlier model): blocks 1 and
  3, shared then per-task trees, without the outlier partition.

The spec names them ``PooledGB``, ``SingleTaskGB`` and ``MTGB``; scikit-learn
separates regressors from classifiers, hence a ``Regressor`` and a
``Classifier`` of each. Tasks are given as for
:class:`~diversa.learners.multitask.robust_boosting.RMTGBRegressor`.
"""

from __future__ import annotations

from diversa.learners.multitask.robust_boosting import (
    MultiTaskClassifierBase,
    MultiTaskRegressorBase,
    _check_int,
)


class _PerTaskCount:
    """Hyper-parameters of the baselines with one tree count (shared by regressor and classifier)."""

    def __init__(self, n_estimators=100, learning_rate=0.1, max_depth=3, max_leaf_nodes=2, subsample=1.0,
                 init="zero", task_col=None, random_state=None):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.subsample = subsample
        self.init = init
        self.task_col = task_col
        self.random_state = random_state


class _Pooled(_PerTaskCount):
    def _blocks(self):
        _check_int("n_estimators", self.n_estimators, 1)
        return self.n_estimators, 0, 0


class _SingleTask(_PerTaskCount):
    def _blocks(self):
        _check_int("n_estimators", self.n_estimators, 1)
        return 0, 0, self.n_estimators


class _MTGB:
    def __init__(self, n_iter_1st=100, n_iter_3rd=50, learning_rate=0.1, max_depth=3, max_leaf_nodes=2,
                 subsample=1.0, init="zero", task_col=None, random_state=None):
        self.n_iter_1st = n_iter_1st
        self.n_iter_3rd = n_iter_3rd
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.subsample = subsample
        self.init = init
        self.task_col = task_col
        self.random_state = random_state

    def _blocks(self):
        _check_int("n_iter_1st", self.n_iter_1st, 0)
        _check_int("n_iter_3rd", self.n_iter_3rd, 0)
        return self.n_iter_1st, 0, self.n_iter_3rd


class PooledGBRegressor(_Pooled, MultiTaskRegressorBase):
    """Pooled boosting: one ensemble of ``n_estimators`` trees fitted to all tasks' rows.

    arXiv:2507.11411's pooling baseline. Tasks (``tasks=`` or ``task_col``)
    are accepted and ignored: any task id, seen or not, gets the same model.
    Attributes: ``estimators_`` (``"meta"`` holds the trees), ``train_loss_``,
    ``tasks_``, ``init_raw_``. Other parameters as
    :class:`~diversa.learners.multitask.robust_boosting.RMTGBRegressor`.
    """


class PooledGBClassifier(_Pooled, MultiTaskClassifierBase):
    """Pooled boosting for classification (softmax cross-entropy, one raw score per class).

    See :class:`PooledGBRegressor`; adds ``predict_proba`` and ``classes_``.
    """


class SingleTaskGBRegressor(_SingleTask, MultiTaskRegressorBase):
    """Single-task boosting: an independent ensemble of ``n_estimators`` trees per task.

    arXiv:2507.11411's single-task baseline. A task's prediction uses only
    that task's trees (``estimators_["task"][r]``); an id unseen at fit is
    a ValueError. Other parameters as
    :class:`~diversa.learners.multitask.robust_boosting.RMTGBRegressor`.
    """


class SingleTaskGBClassifier(_SingleTask, MultiTaskClassifierBase):
    """Single-task boosting for classification; see :class:`SingleTaskGBRegressor`."""


class MTGBRegressor(_MTGB, MultiTaskRegressorBase):
    """Multi-task boosting without outlier handling: shared trees, then per-task trees.

    arXiv:2507.11411's MTGB baseline (R-MTGB without block 2):
    ``n_iter_1st`` trees on all rows, then ``n_iter_3rd`` trees per task.
    Other parameters as
    :class:`~diversa.learners.multitask.robust_boosting.RMTGBRegressor`.
    """


class MTGBClassifier(_MTGB, MultiTaskClassifierBase):
    """Multi-task boosting for classification; see :class:`MTGBRegressor`."""
