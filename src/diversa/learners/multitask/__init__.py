"""Robust multi-task gradient boosting (R-MTGB) and its baselines.

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025). Tasks that follow a different function
("outlier" tasks) hurt models shared across tasks. R-MTGB boosts in three
blocks: trees shared by all tasks
(:mod:`~diversa.learners.multitask.shared_boosting`), an outlier and a
non-outlier shared ensemble mixed per task by a learned weight
``sigmoid(theta_r)`` (:mod:`~diversa.learners.multitask.outlier_partition`),
and per-task fine-tuning (:mod:`~diversa.learners.multitask.task_finetuning`).

Estimators take task ids through ``fit(X, y, tasks)`` / ``predict(X, tasks)``
or a ``task_col`` column of X (:mod:`~diversa.learners.multitask.task_ids`).
"""

from diversa.learners.multitask.baselines import (
    MTGBClassifier,
    MTGBRegressor,
    PooledGBClassifier,
    PooledGBRegressor,
    SingleTaskGBClassifier,
    SingleTaskGBRegressor,
)
from diversa.learners.multitask.outlier_partition import (
    minority_outlier_mask,
    oriented_outlier_scores,
    theta_gradient,
)
from diversa.learners.multitask.robust_boosting import RMTGBClassifier, RMTGBRegressor

__all__ = [
    "MTGBClassifier",
    "MTGBRegressor",
    "PooledGBClassifier",
    "PooledGBRegressor",
    "RMTGBClassifier",
    "RMTGBRegressor",
    "SingleTaskGBClassifier",
    "SingleTaskGBRegressor",
    "minority_outlier_mask",
    "oriented_outlier_scores",
    "theta_gradient",
]
