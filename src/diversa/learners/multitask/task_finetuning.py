"""Block 3 of R-MTGB: per-task ensembles that fine-tune each task.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025).

For ``m = 1..M3`` and every task ``r``: the negative gradient at the current
raw scores is computed on task ``r``'s rows only, one tree is fitted to those
rows, and ``h_r += nu * tree``. ``h_r`` is evaluated only on rows of task
``r``, so a task's fine-tuning never touches another task. Alone (no blocks 1
and 2) this is single-task gradient boosting, one independent model per task.

With ``subsample < 1`` the in-bag rows are drawn within each task (at least
one row per task); the official code draws one mask over all rows, which can
leave a small task without rows.
"""

from __future__ import annotations

import numpy as np

from diversa.learners.multitask.gradient_boosting import (
    EnsembleParts,
    TreeSettings,
    draw_rows,
    fit_tree,
    sum_trees,
    tree_output,
)


def task_rows(task_index: np.ndarray, n_tasks: int) -> list[np.ndarray]:
    """Row indices of each task, ``[rows of task 0, rows of task 1, ...]``."""
    order = np.argsort(task_index, kind="stable")
    bounds = np.searchsorted(task_index[order], np.arange(n_tasks + 1))
    return [order[bounds[r]:bounds[r + 1]] for r in range(n_tasks)]


def fit_task_block(X32: np.ndarray, Y: np.ndarray, task_index: np.ndarray, parts: EnsembleParts,
                   row_weight: np.ndarray, loss, *, n_tasks: int, n_iter: int, learning_rate: float,
                   settings: TreeSettings, rng: np.random.RandomState) -> tuple[list[list], list[float]]:
    """Boost one ensemble per task for ``n_iter`` iterations (updates ``parts.task`` in place).

    Parameters
    ----------
    X32 : ndarray (n, d), float32; Y : ndarray (n, K) encoded targets.
    task_index : ndarray (n,) — each row's task in ``[0, n_tasks)``.
    parts : the ensemble on the training rows; only ``parts.task`` changes.
    row_weight : ndarray (n,) — ``sigmoid(theta)`` of each row's task (fixed here).

    Returns
    -------
    trees : ``trees[r]`` is the list of task ``r``'s ``n_iter`` trees.
    losses : mean training loss (over all rows) after each iteration.
    """
    rows = task_rows(task_index, n_tasks)
    X_task = [X32[r] for r in rows]
    trees: list[list] = [[] for _ in range(n_tasks)]
    losses = []
    F = parts.raw(row_weight)
    for _ in range(n_iter):
        gradient = loss.negative_gradient(Y, F)
        for r in range(n_tasks):
            if rows[r].size == 0:
                continue
            tree = fit_tree(X_task[r], gradient[rows[r]], settings, rng,
                            draw_rows(rows[r].size, settings.subsample, rng))
            step = learning_rate * tree_output(tree, X_task[r], Y.shape[1])
            parts.task[rows[r]] += step
            F[rows[r]] += step
            trees[r].append(tree)
        losses.append(float(loss.row_loss(Y, F).mean()))
    return trees, losses


def predict_task_part(trees: list[list], X32: np.ndarray, task_index: np.ndarray, learning_rate: float,
                      n_outputs: int) -> np.ndarray:
    """``h_{t_i}(x_i)`` for every row, shape ``(n, K)``: each row uses only its own task's trees."""
    out = np.zeros((X32.shape[0], n_outputs))
    for r, rows in enumerate(task_rows(task_index, len(trees))):
        if rows.size:
            out[rows] = sum_trees(trees[r], X32[rows], learning_rate, n_outputs)
    return out
