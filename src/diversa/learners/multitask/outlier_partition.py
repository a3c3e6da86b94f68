"""Block 2 of R-MTGB: a soft partition of the tasks into outliers and non-outliers.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025).

Two shared ensembles are grown side by side, ``f_out`` and ``f_non``; task
``r`` sees the mixture ``s_r f_out + (1 - s_r) f_non`` with
``s_r = sigmoid(theta_r)``. Each iteration (official ``Ensemble/_base.py``):

1. ``g`` = negative gradient at the current raw scores ``F``;
2. a tree is fitted to ``g * s_{t_i}`` (chain rule for ``f_out``) and one to
   ``g * (1 - s_{t_i})`` (for ``f_non``), both on all rows and on the same
   in-bag rows (and, unlike the official code, with the same tie-breaking
   seed, so that equal targets give bit-identical trees);
3. ``f_out`` and ``f_non`` take their step ``nu * tree``;
4. every ``theta_r`` takes one gradient step of size ``nu`` on the training
   loss, with the derivative taken at the ensemble *before* this iteration's
   trees and at the current theta:

       dL/dtheta_r = - sum_{i in task r} < g_i, s_r (1 - s_r) (f_out_old(x_i) - f_non_old(x_i)) >

   (a sum over the task's rows and the K outputs; ``theta_step="mean"``
   divides by the task's row count instead).

Consequences kept from the official code: at the first iteration
``f_out_old = f_non_old = 0``, so theta cannot move, and with the official
default ``M2 = 1`` theta stays at its random start. If every theta starts at
0, the two trees get identical targets, ``f_out == f_non`` and theta stays 0.

Resolutions of the spec (``tabular.md#r-mtgb``): the abstract's "regularised
parameters" have no penalty in the official code **[UNVERIFIED]**; we expose
``theta_l2`` (adds ``theta_l2 * theta_r`` to the gradient, default 0 = the
code). theta is clipped to ``[-20, 20]`` after each step. The outlier and
non-outlier ensembles are symmetric (label switching), so the tasks on the
minority side of ``s = 0.5`` are called the outliers
(:func:`minority_outlier_mask`, :func:`oriented_outlier_scores`).
"""

from __future__ import annotations

import numpy as np

from diversa.learners.multitask.gradient_boosting import (
    THETA_CLIP,
    EnsembleParts,
    TreeSettings,
    draw_rows,
    fit_tree,
    outlier_weight,
    tree_output,
)


def theta_gradient(negative_gradient: np.ndarray, out_minus_non: np.ndarray, theta: np.ndarray,
                   task_index: np.ndarray, *, theta_l2: float = 0.0, theta_step: str = "sum") -> np.ndarray:
    """Derivative of the training loss with respect to every ``theta_r``.

    Parameters
    ----------
    negative_gradient : ndarray (n, K) — ``-dL/dF`` of every training row at
        the ensemble being differentiated.
    out_minus_non : ndarray (n, K) — ``f_out(x_i) - f_non(x_i)`` of that ensemble.
    theta : ndarray (T,) — current task parameters.
    task_index : ndarray (n,) of int in ``[0, T)`` — each row's task.
    theta_l2 : adds ``theta_l2 * theta`` (an L2 penalty ``theta_l2/2 * theta^2``).
    theta_step : ``"sum"`` (official) sums over a task's rows, ``"mean"`` averages.

    Returns
    -------
    gradient : ndarray (T,)
    """
    n_tasks = theta.shape[0]
    s = outlier_weight(theta)
    per_row = -np.sum(negative_gradient * out_minus_non, axis=1)
    gradient = s * (1.0 - s) * np.bincount(task_index, weights=per_row, minlength=n_tasks)
    if theta_step == "mean":
        gradient = gradient / np.maximum(np.bincount(task_index, minlength=n_tasks), 1)
    return gradient + theta_l2 * theta


def fit_outlier_block(X32: np.ndarray, Y: np.ndarray, task_index: np.ndarray, parts: EnsembleParts,
                      theta: np.ndarray, loss, *, n_iter: int, learning_rate: float, settings: TreeSettings,
                      rng: np.random.RandomState, theta_l2: float = 0.0, theta_step: str = "sum"):
    """Grow ``f_out``/``f_non`` and learn theta for ``n_iter`` iterations (``parts`` updated in place).

    Parameters
    ----------
    X32 : ndarray (n, d), float32; Y : ndarray (n, K) encoded targets.
    task_index : ndarray (n,) — each row's task in ``[0, T)``.
    parts : the ensemble on the training rows.
    theta : ndarray (T,) — the starting task parameters (not modified).

    Returns
    -------
    out_trees, non_trees : lists of the ``n_iter`` trees of each ensemble.
    theta : ndarray (T,) — the learned parameters.
    theta_path : ndarray (n_iter + 1, T) — theta before the first and after every iteration.
    losses : mean training loss after each iteration.
    """
    theta = np.array(theta, dtype=float)
    out_trees, non_trees, losses, path = [], [], [], [theta.copy()]
    n_outputs = Y.shape[1]
    for _ in range(n_iter):
        s_rows = outlier_weight(theta)[task_index]
        gradient = loss.negative_gradient(Y, parts.raw(s_rows))
        rows = draw_rows(X32.shape[0], settings.subsample, rng)
        # One seed for both trees: they differ only by their targets, so with
        # equal weights (s = 0.5) they are identical to the last bit.
        seed = rng.randint(np.iinfo(np.int32).max)
        out_tree = fit_tree(X32, gradient * s_rows[:, None], settings, seed, rows)
        non_tree = fit_tree(X32, gradient * (1.0 - s_rows)[:, None], settings, seed, rows)
        # theta's derivative is taken at the ensemble before this iteration's
        # trees (official f_out_old / f_non_old), where ``gradient`` was computed.
        d_theta = theta_gradient(gradient, parts.out - parts.non, theta, task_index,
                                 theta_l2=theta_l2, theta_step=theta_step)
        parts.out += learning_rate * tree_output(out_tree, X32, n_outputs)
        parts.non += learning_rate * tree_output(non_tree, X32, n_outputs)
        theta = np.clip(theta - learning_rate * d_theta, -THETA_CLIP, THETA_CLIP)
        out_trees.append(out_tree)
        non_trees.append(non_tree)
        path.append(theta.copy())
        losses.append(float(loss.row_loss(Y, parts.raw(outlier_weight(theta)[task_index])).mean()))
    return out_trees, non_trees, theta, np.array(path).reshape(n_iter + 1, theta.shape[0]), losses


def minority_outlier_mask(outlier_score: np.ndarray) -> np.ndarray:
    """Tasks on the minority side of ``s = 0.5``: the detected outlier tasks.

    The outlier/non-outlier ensembles are interchangeable, so which side of
    0.5 holds the outliers depends on the initialisation; outliers are by
    definition the smaller group. Tasks with ``s`` exactly 0.5 are on neither
    side; with equally many tasks on both sides the ``s > 0.5`` side (the
    ``f_out`` side) is returned; with all tasks on one side none is returned.

    Returns
    -------
    mask : ndarray (T,) of bool
    """
    score = np.asarray(outlier_score, dtype=float)
    above, below = score > 0.5, score < 0.5
    if not above.any() or not below.any():
        return np.zeros(score.shape, dtype=bool)
    return above if above.sum() <= below.sum() else below


def oriented_outlier_scores(outlier_score: np.ndarray) -> np.ndarray:
    """``s`` or ``1 - s``, oriented so that the minority side of 0.5 scores above 0.5.

    Makes ``sigmoid(theta)`` usable as an outlier score (e.g. for AUROC)
    whatever side of 0.5 the outliers landed on; see :func:`minority_outlier_mask`.

    >>> oriented_outlier_scores([0.2, 0.3, 0.9, 0.25]).tolist()
    [0.2, 0.3, 0.9, 0.25]
    >>> oriented_outlier_scores([0.8, 0.7, 0.1, 0.75]).round(2).tolist()
    [0.2, 0.3, 0.9, 0.25]
    """
    score = np.asarray(outlier_score, dtype=float)
    return 1.0 - score if (score > 0.5).sum() > (score < 0.5).sum() else score
