"""Block 1 of R-MTGB: one boosted ensemble shared by all tasks.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025).

For ``m = 1..M1`` the negative gradient of the loss at the current raw
scores is computed on every row of every task (the task id is never a tree
feature), one base tree is fitted to it and ``f_meta += nu * tree``. This is
plain gradient boosting on the pooled data: with squared error, stumps and an
initial score of 0 it is exactly scikit-learn's
``GradientBoostingRegressor(init="zero", max_leaf_nodes=2)``, and it is the
whole of the pooled baseline.
"""

from __future__ import annotations

import numpy as np

from diversa.learners.multitask.gradient_boosting import (
    EnsembleParts,
    TreeSettings,
    draw_rows,
    fit_tree,
    tree_output,
)


def fit_shared_block(X32: np.ndarray, Y: np.ndarray, parts: EnsembleParts, row_weight: np.ndarray, loss, *,
                     n_iter: int, learning_rate: float, settings: TreeSettings,
                     rng: np.random.RandomState) -> tuple[list, list[float]]:
    """Boost ``parts.meta`` for ``n_iter`` iterations on all rows (updates ``parts`` in place).

    Parameters
    ----------
    X32 : ndarray (n, d), float32 — features of all training rows.
    Y : ndarray (n, K) — encoded targets (value or one-hot).
    parts : the ensemble on the training rows; only ``parts.meta`` changes.
    row_weight : ndarray (n,) — ``sigmoid(theta)`` of each row's task (only
        matters if the outlier parts are non-zero).
    loss : a loss of :mod:`~diversa.learners.multitask.gradient_boosting`.

    Returns
    -------
    trees : the ``n_iter`` fitted trees, in order.
    losses : mean training loss after each iteration.
    """
    trees, losses = [], []
    F = parts.raw(row_weight)
    for _ in range(n_iter):
        gradient = loss.negative_gradient(Y, F)
        tree = fit_tree(X32, gradient, settings, rng, draw_rows(X32.shape[0], settings.subsample, rng))
        step = learning_rate * tree_output(tree, X32, Y.shape[1])
        parts.meta += step
        F += step
        trees.append(tree)
        losses.append(float(loss.row_loss(Y, F).mean()))
    return trees, losses
