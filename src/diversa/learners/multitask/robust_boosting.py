"""Robust multi-task gradient boosting: the R-MTGB estimators.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025; Expert Systems with Applications,
doi:10.1016/j.eswa.2025.130696). Official code: GAA-UAM/R-MTGB.

A row ``x`` of task ``r`` is scored by

    F(x, r) = f_meta(x) + (1 - s_r) f_non(x) + s_r f_out(x) + h_r(x),   s_r = sigmoid(theta_r),

trained in three sequential blocks: ``n_iter_1st`` iterations of boosting
shared by all tasks (:mod:`~diversa.learners.multitask.shared_boosting`),
``n_iter_2nd`` iterations of an outlier / non-outlier pair of shared ensembles
mixed per task by ``s_r``, with theta learned by gradient descent inside
boosting (:mod:`~diversa.learners.multitask.outlier_partition`), and
``n_iter_3rd`` iterations of per-task fine-tuning
(:mod:`~diversa.learners.multitask.task_finetuning`). The learned
``outlier_score_ = sigmoid(theta_)`` is an interpretable per-task outlier
score; the tasks on the minority side of 0.5 are ``outlier_tasks_``.

Choices (spec ``tabular.md#r-mtgb``): defaults follow the spec's API sketch
(``n_iter_2nd=100``, ``n_iter_3rd=50``; the official defaults 1 and 1 leave
theta at its random start, and ``n_iter_2nd == 1`` warns); the initial raw
score is 0 (official), ``init="mean"`` is optional; theta starts i.i.d.
``N(0, theta_init_scale^2)`` from the estimator's own RNG (the official code
uses the global numpy RNG); ``theta_l2`` adds an L2 penalty **[UNVERIFIED]**
(default 0 = official); ``theta_step="sum"`` is the official step,
``"mean"`` averages over a task's rows; theta is clipped to [-20, 20];
``predict_proba`` is ``softmax(F)`` (the official method is broken). Task ids
come from ``tasks=`` or from the ``task_col`` column of X; without either,
all rows form one task, so the estimators also work as task-free regressors
and classifiers (used by scikit-learn's estimator checks).
"""

from __future__ import annotations

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from diversa.learners.multitask.gradient_boosting import (
    EnsembleParts,
    SoftmaxCrossEntropyLoss,
    SquaredErrorLoss,
    TreeSettings,
    compose,
    outlier_weight,
    sum_trees,
)
from diversa.learners.multitask.outlier_partition import (
    fit_outlier_block,
    minority_outlier_mask,
)
from diversa.learners.multitask.shared_boosting import fit_shared_block
from diversa.learners.multitask.task_finetuning import fit_task_block, predict_task_part
from diversa.learners.multitask.task_ids import (
    check_tasks,
    encode_tasks,
    fit_task_encoding,
    resolve_tasks,
)


def _check_int(name: str, value, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int{' or None' if allow_none else ''}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")


def _check_real(name: str, value, low: float, high: float = np.inf, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    if not (low < value if low_open else low <= value) or not value <= high or not np.isfinite(value):
        interval = f"{'(' if low_open else '['}{low}, {high}{']' if np.isfinite(high) else ')'}"
        raise ValueError(f"{name} must be in {interval}, got {value}.")


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")


class MultiTaskBoostingBase(BaseEstimator, metaclass=ABCMeta):
    """Fitting and prediction shared by R-MTGB and its baselines.

    Subclasses define ``__init__`` (their hyper-parameters) and
    :meth:`_blocks`, the iteration counts ``(M1, M2, M3)`` of the three
    blocks; see :class:`RMTGBRegressor` for the model.
    """

    #: whether this estimator learns and exposes theta (block 2 may run).
    _learns_partition = False

    @abstractmethod
    def _blocks(self) -> tuple[int, int, int]:
        """The validated iteration counts ``(M1, M2, M3)`` of the three blocks."""

    def _initial_theta(self, rng: np.random.RandomState, n_tasks: int) -> np.ndarray:
        return np.zeros(n_tasks)

    def _block2_options(self) -> dict:
        return {"theta_l2": 0.0, "theta_step": "sum"}

    def _validate_hyperparameters(self) -> None:
        blocks = self._blocks()
        if sum(blocks) < 1:
            raise ValueError(f"{type(self).__name__} needs at least one boosting iteration, got blocks {blocks}.")
        _check_real("learning_rate", self.learning_rate, 0.0, low_open=True)
        _check_int("max_depth", self.max_depth, 1, allow_none=True)
        _check_int("max_leaf_nodes", self.max_leaf_nodes, 2, allow_none=True)
        _check_real("subsample", self.subsample, 0.0, 1.0, low_open=True)
        _check_choice("init", self.init, ("zero", "mean"))

    @abstractmethod
    def _encode_target(self, y) -> tuple[np.ndarray, object]:
        """Targets as an ``(n, K)`` array and the loss to boost (regression / classification bases)."""

    def _fit(self, X, y, tasks):
        self._validate_hyperparameters()
        n_iter_1st, n_iter_2nd, n_iter_3rd = self._blocks()
        if n_iter_2nd == 1 and self._learns_partition:
            warnings.warn("n_iter_2nd=1 (the official default) leaves theta at its initial value: its "
                          "gradient is zero in the first block-2 iteration. Use n_iter_2nd >= 2 (spec: >= 50) "
                          "to learn the outlier partition.", UserWarning, stacklevel=3)
        X, tasks = resolve_tasks(X, tasks, self.task_col)
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=not isinstance(self, ClassifierMixin))
        n_samples = X.shape[0]
        tasks = np.zeros(n_samples, dtype=np.intp) if tasks is None else check_tasks(tasks, n_samples)
        Y, loss = self._encode_target(y)
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        self.tasks_, task_index = fit_task_encoding(tasks)
        self.n_tasks_ = self.tasks_.shape[0]
        rng = check_random_state(self.random_state)
        settings = TreeSettings(self.max_depth, self.max_leaf_nodes, self.subsample)

        self.init_raw_ = loss.initial_raw(Y, self.init)
        parts = EnsembleParts.start(n_samples, self.init_raw_)
        # Thousands of small trees: their own per-fit parameter check would
        # dominate the cost; the settings were validated once above.
        with config_context(skip_parameter_validation=True):
            meta_trees, losses_1st = fit_shared_block(
                X32, Y, parts, np.full(n_samples, 0.5), loss, n_iter=n_iter_1st,
                learning_rate=self.learning_rate, settings=settings, rng=rng)
            theta = self._initial_theta(rng, self.n_tasks_)
            out_trees, non_trees, theta, theta_path, losses_2nd = fit_outlier_block(
                X32, Y, task_index, parts, theta, loss, n_iter=n_iter_2nd, learning_rate=self.learning_rate,
                settings=settings, rng=rng, **self._block2_options())
            task_trees, losses_3rd = fit_task_block(
                X32, Y, task_index, parts, outlier_weight(theta)[task_index], loss, n_tasks=self.n_tasks_,
                n_iter=n_iter_3rd, learning_rate=self.learning_rate, settings=settings, rng=rng)

        self.estimators_ = {"meta": meta_trees, "out": out_trees, "non": non_trees, "task": task_trees}
        self.train_loss_ = np.array(losses_1st + losses_2nd + losses_3rd, dtype=float)
        if self._learns_partition:
            self.theta_ = theta
            self.theta_path_ = theta_path
            self.outlier_score_ = outlier_weight(theta)
            detected = minority_outlier_mask(self.outlier_score_) if n_iter_2nd >= 2 else np.zeros(
                self.n_tasks_, dtype=bool)
            self.outlier_tasks_ = self.tasks_[detected]
        return self

    def _uses_tasks(self) -> bool:
        return bool(self.estimators_["out"]) or any(self.estimators_["task"])

    def _task_index(self, tasks, n_samples: int) -> np.ndarray:
        if tasks is not None:
            return encode_tasks(check_tasks(tasks, n_samples), self.tasks_)
        if self.n_tasks_ == 1:
            return np.zeros(n_samples, dtype=np.intp)
        raise ValueError(f"tasks is required: the model was fitted on {self.n_tasks_} tasks; pass "
                         "tasks= (one id per row) or set task_col.")

    def _raw_predict(self, X, tasks) -> np.ndarray:
        """Raw scores ``F`` ``(n, K)`` of the rows of ``X`` for their tasks."""
        check_is_fitted(self)
        X, tasks = resolve_tasks(X, tasks, self.task_col)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        n_samples, n_outputs = X32.shape[0], self.init_raw_.shape[0]
        meta = self.init_raw_ + sum_trees(self.estimators_["meta"], X32, self.learning_rate, n_outputs)
        if not self._uses_tasks():
            # A pooled model ignores tasks, so ids unseen at fit are fine.
            if tasks is not None:
                check_tasks(tasks, n_samples)
            return meta
        index = self._task_index(tasks, n_samples)
        out = sum_trees(self.estimators_["out"], X32, self.learning_rate, n_outputs)
        non = sum_trees(self.estimators_["non"], X32, self.learning_rate, n_outputs)
        task = predict_task_part(self.estimators_["task"], X32, index, self.learning_rate, n_outputs)
        theta = getattr(self, "theta_", np.zeros(self.n_tasks_))
        return compose(meta, out, non, task, outlier_weight(theta)[index])


class MultiTaskRegressorBase(RegressorMixin, MultiTaskBoostingBase):
    """Squared-error boosting on a 1-D numeric target (``K = 1`` raw output)."""

    def _encode_target(self, y):
        return np.asarray(y, dtype=np.float64).reshape(-1, 1), SquaredErrorLoss()

    def fit(self, X, y, tasks=None):
        """Fit on rows ``X`` ``(n, d)`` with targets ``y`` ``(n,)`` and task ids ``tasks`` ``(n,)``.

        ``tasks`` may be omitted when ``task_col`` names the task column of X;
        without either, all rows form one task. Returns self.
        """
        return self._fit(X, y, tasks)

    def predict(self, X, tasks=None) -> np.ndarray:
        """Predicted values ``(n,)``; each row uses its own task's parameters."""
        return self._raw_predict(X, tasks)[:, 0]

    def score(self, X, y, tasks=None, sample_weight=None) -> float:
        """Coefficient of determination R^2 of ``predict(X, tasks)``."""
        return float(r2_score(y, self.predict(X, tasks), sample_weight=sample_weight))


class MultiTaskClassifierBase(ClassifierMixin, MultiTaskBoostingBase):
    """Softmax cross-entropy boosting with one raw output per class (``K = 2`` for binary)."""

    def _encode_target(self, y):
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        self.n_classes_ = self.classes_.shape[0]
        if self.n_classes_ < 2:
            raise ValueError(f"y has only one class ({self.classes_[0]!r}); "
                             f"{type(self).__name__} needs at least 2 classes.")
        Y = np.zeros((len(y), self.n_classes_))
        Y[np.arange(len(y)), encoder.transform(y)] = 1.0
        return Y, SoftmaxCrossEntropyLoss()

    def fit(self, X, y, tasks=None):
        """Fit on rows ``X`` ``(n, d)`` with labels ``y`` ``(n,)`` and task ids ``tasks`` ``(n,)``.

        ``tasks`` may be omitted when ``task_col`` names the task column of X;
        without either, all rows form one task. Returns self.
        """
        return self._fit(X, y, tasks)

    def predict_proba(self, X, tasks=None) -> np.ndarray:
        """Class probabilities ``softmax(F)``, shape ``(n, n_classes)``, columns in ``classes_`` order."""
        return softmax(self._raw_predict(X, tasks), axis=1)

    def predict(self, X, tasks=None) -> np.ndarray:
        """Labels ``(n,)``: the class with the largest raw score."""
        raw = self._raw_predict(X, tasks)
        return self.classes_[np.argmax(raw, axis=1)]

    def score(self, X, y, tasks=None, sample_weight=None) -> float:
        """Accuracy of ``predict(X, tasks)``."""
        return float(accuracy_score(y, self.predict(X, tasks), sample_weight=sample_weight))


class _RMTGBParameters:
    """Hyper-parameter handling shared by the two R-MTGB estimators."""

    _learns_partition = True

    def __init__(self, n_iter_1st=100, n_iter_2nd=100, n_iter_3rd=50, learning_rate=0.1, max_depth=3,
                 max_leaf_nodes=2, subsample=1.0, theta_l2=0.0, theta_init_scale=0.1, theta_step="sum",
                 init="zero", task_col=None, random_state=None):
        self.n_iter_1st = n_iter_1st
        self.n_iter_2nd = n_iter_2nd
        self.n_iter_3rd = n_iter_3rd
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.subsample = subsample
        self.theta_l2 = theta_l2
        self.theta_init_scale = theta_init_scale
        self.theta_step = theta_step
        self.init = init
        self.task_col = task_col
        self.random_state = random_state

    def _blocks(self):
        for name in ("n_iter_1st", "n_iter_2nd", "n_iter_3rd"):
            _check_int(name, getattr(self, name), 0)
        return self.n_iter_1st, self.n_iter_2nd, self.n_iter_3rd

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        _check_real("theta_l2", self.theta_l2, 0.0)
        _check_real("theta_init_scale", self.theta_init_scale, 0.0)
        _check_choice("theta_step", self.theta_step, ("sum", "mean"))

    def _initial_theta(self, rng, n_tasks):
        return self.theta_init_scale * rng.standard_normal(n_tasks)

    def _block2_options(self):
        return {"theta_l2": self.theta_l2, "theta_step": self.theta_step}


class RMTGBRegressor(_RMTGBParameters, MultiTaskRegressorBase):
    """Robust multi-task gradient boosting for regression (squared error).

    Emami et al., arXiv:2507.11411. Model and training: see the module
    docstring of :mod:`diversa.learners.multitask.robust_boosting`.

    Parameters
    ----------
    n_iter_1st : iterations of block 1 (one tree shared by all tasks each).
    n_iter_2nd : iterations of block 2 (one outlier and one non-outlier tree
        each, plus one theta step); < 2 leaves theta at its start.
    n_iter_3rd : iterations of block 3 (one tree per task each).
    learning_rate : shrinkage nu of every tree, also theta's step size.
    max_depth, max_leaf_nodes : base tree size; the official code grows
        stumps (``max_leaf_nodes=2``) although ``max_depth=3``.
    subsample : fraction of rows each tree is fitted on (stochastic boosting).
    theta_l2 : L2 penalty on theta **[UNVERIFIED]**; 0 is the official code.
    theta_init_scale : standard deviation of theta's normal start; 0 starts
        every task at ``s = 0.5``.
    theta_step : ``"sum"`` (official) or ``"mean"`` of the per-row theta
        gradients of a task.
    init : initial raw score, ``"zero"`` (official) or ``"mean"`` (target
        mean / log class priors).
    task_col : None, or the position (int) or DataFrame name (str) of the
        column of X holding the task ids; it is removed from the features.
    random_state : seeds theta's start and the trees' tie-breaking and subsampling.

    Attributes
    ----------
    tasks_ : ndarray (T,) — sorted task ids seen at fit.
    n_tasks_ : int — T.
    theta_ : ndarray (T,) — learned task parameters.
    outlier_score_ : ndarray (T,) — ``sigmoid(theta_)``, each task's weight on
        the outlier ensemble.
    outlier_tasks_ : ndarray — ids of the detected outlier tasks: those on
        the minority side of ``s = 0.5`` (empty if block 2 ran < 2 iterations).
    theta_path_ : ndarray (n_iter_2nd + 1, T) — theta during block 2.
    estimators_ : dict — trees of ``"meta"``, ``"out"``, ``"non"`` (lists) and
        ``"task"`` (one list per task, aligned with ``tasks_``).
    train_loss_ : ndarray (n_iter_1st + n_iter_2nd + n_iter_3rd,) — mean
        training loss after every iteration.
    init_raw_ : ndarray (K,) — the constant initial raw score.
    n_features_in_, feature_names_in_ : as in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(120, 2)); tasks = np.repeat([0, 1, 2], 40)
    >>> y = np.where(tasks == 2, -X[:, 0], X[:, 0])
    >>> model = RMTGBRegressor(n_iter_1st=20, n_iter_2nd=20, n_iter_3rd=5, random_state=0).fit(X, y, tasks)
    >>> model.predict(X[:3], tasks[:3]).shape
    (3,)
    >>> model.theta_.shape
    (3,)
    """



class RMTGBClassifier(_RMTGBParameters, MultiTaskClassifierBase):
    """Robust multi-task gradient boosting for classification (softmax cross-entropy).

    Emami et al., arXiv:2507.11411. One raw score per class (also two for a
    binary problem), trees are multi-output regression trees on the
    ``(n, K)`` gradient ``onehot(y) - softmax(F)``, leaves hold mean
    gradients; ``predict_proba = softmax(F)``. Model and training: see the
    module docstring of :mod:`diversa.learners.multitask.robust_boosting`.

    Parameters and attributes are those of :class:`RMTGBRegressor`, plus
    ``classes_`` (ndarray (K,), the class labels) and ``n_classes_`` (K).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(120, 2)); tasks = np.repeat(["a", "b", "c"], 40)
    >>> y = np.where(tasks == "c", X[:, 0] < 0, X[:, 0] > 0).astype(int)
    >>> model = RMTGBClassifier(n_iter_1st=20, n_iter_2nd=20, n_iter_3rd=5, random_state=0).fit(X, y, tasks)
    >>> model.predict_proba(X[:2], tasks[:2]).shape
    (2, 2)
    """

