"""The boosting machinery shared by R-MTGB's three training blocks.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025).

R-MTGB scores a row ``x`` of task ``r`` with ``K`` raw outputs

    F(x, r) = f_meta(x) + (1 - s_r) f_non(x) + s_r f_out(x) + h_r(x),   s_r = sigmoid(theta_r),

where every part is a sum of regression trees scaled by the learning rate.
This module holds what all blocks share:

* the two losses of the paper on raw scores of shape ``(n, K)``: squared
  error ``1/2 (y - F)^2`` (``K = 1``) and softmax cross-entropy (``K`` =
  number of classes, also ``K = 2`` for binary problems, as in the official
  code); their negative gradients are the targets the trees are fitted to;
* the base learner, scikit-learn's :class:`~sklearn.tree.DecisionTreeRegressor`
  with the official configuration (``criterion="squared_error"``,
  ``splitter="best"``, ``max_depth=3`` and ``max_leaf_nodes=2``, i.e.
  stumps). Leaves hold the mean gradient: there is no Newton leaf step for
  the cross-entropy, as in the official code; a multi-class gradient is
  fitted by one multi-output tree;
* :class:`EnsembleParts`, the four additive parts evaluated on a set of rows,
  and :func:`compose`, the model equation above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logsumexp, softmax
from sklearn.tree import DecisionTreeRegressor

#: theta is clipped to this interval after every step (spec resolution: the
#: official step is a sum over a task's rows and can be huge for large tasks).
THETA_CLIP = 20.0


class SquaredErrorLoss:
    """Squared error ``1/2 (y - F)^2`` on raw scores of shape ``(n, 1)``."""

    name = "squared_error"

    def initial_raw(self, Y: np.ndarray, init: str) -> np.ndarray:
        """Constant start ``(K,)``: 0 (official) or the target mean (``init="mean"``)."""
        return np.zeros(Y.shape[1]) if init == "zero" else Y.mean(axis=0)

    def row_loss(self, Y: np.ndarray, F: np.ndarray) -> np.ndarray:
        """Loss of every row, shape ``(n,)``."""
        return 0.5 * np.sum((Y - F) ** 2, axis=1)

    def negative_gradient(self, Y: np.ndarray, F: np.ndarray) -> np.ndarray:
        """``-dL/dF = y - F``, shape ``(n, K)``."""
        return Y - F


class SoftmaxCrossEntropyLoss:
    """Softmax cross-entropy on raw scores ``(n, K)`` against one-hot targets ``(n, K)``."""

    name = "log_loss"

    def initial_raw(self, Y: np.ndarray, init: str) -> np.ndarray:
        """Constant start ``(K,)``: 0 (official) or the log class priors (``init="mean"``)."""
        if init == "zero":
            return np.zeros(Y.shape[1])
        prior = np.clip(Y.mean(axis=0), np.finfo(float).eps, None)
        return np.log(prior)

    def row_loss(self, Y: np.ndarray, F: np.ndarray) -> np.ndarray:
        """``logsumexp(F) - <y, F>`` per row, shape ``(n,)``."""
        return logsumexp(F, axis=1) - np.sum(Y * F, axis=1)

    def negative_gradient(self, Y: np.ndarray, F: np.ndarray) -> np.ndarray:
        """``-dL/dF = onehot(y) - softmax(F)``, shape ``(n, K)``."""
        return Y - softmax(F, axis=1)


@dataclass
class TreeSettings:
    """How every base tree is grown (the estimator's hyper-parameters)."""

    max_depth: int | None = 3
    max_leaf_nodes: int | None = 2
    subsample: float = 1.0


def draw_rows(n_rows: int, subsample: float, rng: np.random.RandomState) -> np.ndarray | None:
    """In-bag rows of one boosting iteration, or ``None`` for all rows (``subsample == 1``).

    ``max(1, int(subsample * n_rows))`` rows drawn without replacement, as in
    Friedman's stochastic gradient boosting.
    """
    if subsample >= 1.0:
        return None
    return np.sort(rng.choice(n_rows, size=max(1, int(subsample * n_rows)), replace=False))


def fit_tree(X32: np.ndarray, target: np.ndarray, settings: TreeSettings, rng: np.random.RandomState | int,
             rows: np.ndarray | None = None) -> DecisionTreeRegressor:
    """Fit one base tree to ``target`` ``(n, K)`` on ``X32`` ``(n, d)`` (float32).

    ``rng`` (a RandomState, or an int seed) breaks ties between equally good
    splits; ``rows`` restricts the fit to the in-bag rows of :func:`draw_rows`.
    """
    if rows is not None:
        X32, target = X32[rows], target[rows]
    tree = DecisionTreeRegressor(criterion="squared_error", splitter="best", max_depth=settings.max_depth,
                                 max_leaf_nodes=settings.max_leaf_nodes, random_state=rng)
    # A single output is fitted as a 1-D target, exactly as scikit-learn's
    # GradientBoostingRegressor does, so block 1 reproduces it bit for bit.
    y = target[:, 0] if target.shape[1] == 1 else target
    return tree.fit(X32, y, check_input=False)


def tree_output(tree: DecisionTreeRegressor, X32: np.ndarray, n_outputs: int) -> np.ndarray:
    """A tree's prediction as an ``(n, K)`` array."""
    return tree.predict(X32, check_input=False).reshape(X32.shape[0], n_outputs)


def sum_trees(trees, X32: np.ndarray, learning_rate: float, n_outputs: int) -> np.ndarray:
    """``learning_rate * sum(tree(X))`` over ``trees``, shape ``(n, K)`` (zeros for no trees)."""
    total = np.zeros((X32.shape[0], n_outputs))
    for tree in trees:
        total += tree_output(tree, X32, n_outputs)
    return learning_rate * total


@dataclass
class EnsembleParts:
    """The four additive parts of the model evaluated on the same rows, each ``(n, K)``.

    ``meta`` includes the constant initial raw score.
    """

    meta: np.ndarray
    out: np.ndarray
    non: np.ndarray
    task: np.ndarray

    @classmethod
    def start(cls, n_rows: int, initial_raw: np.ndarray) -> EnsembleParts:
        """All parts zero except ``meta``, which starts at the constant ``initial_raw`` ``(K,)``."""
        zeros = np.zeros((n_rows, initial_raw.shape[0]))
        return cls(meta=zeros + initial_raw, out=zeros.copy(), non=zeros.copy(), task=zeros.copy())

    def raw(self, row_weight: np.ndarray) -> np.ndarray:
        """The raw scores ``F`` given each row's outlier weight ``s_{t_i}`` ``(n,)``."""
        return compose(self.meta, self.out, self.non, self.task, row_weight)


def compose(meta, out, non, task, row_weight) -> np.ndarray:
    """The R-MTGB model equation ``f_meta + (1 - s) f_non + s f_out + h``, shape ``(n, K)``.

    ``row_weight`` ``(n,)`` is ``sigmoid(theta)`` of each row's task.
    """
    s = np.asarray(row_weight, dtype=float)[:, None]
    return meta + (1.0 - s) * non + s * out + task


def outlier_weight(theta: np.ndarray) -> np.ndarray:
    """``sigmoid(theta)``: the weight of the outlier ensemble for each task."""
    return expit(theta)
