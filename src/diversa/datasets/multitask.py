"""Synthetic multi-task data with planted outlier tasks (the R-MTGB benchmark).

Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025), synthetic study (official
``DataUtils/func_gen.py`` and ``gen_data.py``).

Every function is a random-Fourier-feature draw from a Gaussian-process-like
prior (:class:`RandomFourierFunction`). Inputs are uniform on ``[-1, 1]^d``,
drawn independently per task. Four scenarios:

1. all tasks share one function (pooling is optimal);
2. every task has its own function (single-task learning is optimal);
3. ``y = 0.9 f_common + 0.1 f_r``: related tasks, no outliers (multi-task
   learning is optimal);
4. as 3 for the regular tasks, while ``n_outlier_tasks`` outlier tasks use
   ``y = 0.9 f_common2 + 0.1 f_r`` with a second common function shared only
   among them (robust multi-task learning is optimal).

No noise is added. Classification labels are ``sign(y)`` in ``{-1, +1}``
(``y > 0`` gives +1); the whole data set is drawn again until every task has
both classes with proportion >= 0.1 over its train + test rows, as in the
official code. The official generator lists the outlier tasks last; here task
ids are shuffled so that an id reveals nothing (spec resolution).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

#: Class proportion every task must reach in the classification version.
MIN_CLASS_PROPORTION = 0.1
_MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class RandomFourierFunction:
    """``f(x) = sum_j a_j sqrt(2/N) cos(W_j . x / l + b_j)`` with ``N`` random features.

    ``W`` ``(N, d)`` ~ N(0, 1), ``b`` ``(N,)`` ~ U(0, 2 pi), ``a`` ``(N,)`` ~
    N(0, 1): a draw from (approximately) a Gaussian process with an RBF kernel
    of length scale ``l``.
    """

    weights: np.ndarray
    phases: np.ndarray
    amplitudes: np.ndarray
    length_scale: float

    @classmethod
    def draw(cls, n_features: int, rng: np.random.RandomState, n_components: int = 500,
             length_scale: float = 0.25) -> RandomFourierFunction:
        """A random function of ``n_features`` inputs; the length scale grows as ``length_scale * d``
        (official: smoother functions in higher dimension)."""
        weights = rng.standard_normal((n_components, n_features))
        phases = rng.uniform(0.0, 2.0 * np.pi, n_components)
        amplitudes = rng.standard_normal(n_components)
        return cls(weights, phases, amplitudes, length_scale * n_features)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Values ``(n,)`` at the rows of ``X`` ``(n, d)``."""
        features = np.cos(X @ self.weights.T / self.length_scale + self.phases)
        return np.sqrt(2.0 / self.amplitudes.shape[0]) * (features @ self.amplitudes)


class MultitaskData(NamedTuple):
    """Train and test rows with their task ids, and which task ids are outliers.

    ``X_*`` ``(n, d)``, ``y_*`` ``(n,)``, ``tasks_*`` ``(n,)`` ints in
    ``[0, T)``, rows ordered by task id; ``is_outlier_task`` ``(T,)`` bool,
    indexed by task id.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    tasks_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    tasks_test: np.ndarray
    is_outlier_task: np.ndarray


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")


def _task_targets(scenario: int, n_tasks: int, n_outlier_tasks: int, X_tasks: list[np.ndarray],
                  n_features: int, rng) -> list[np.ndarray]:
    """Noise-free targets of each task (generation order: regular tasks, then outliers)."""
    common_weight = 0.9
    if scenario == 1:
        shared = RandomFourierFunction.draw(n_features, rng)
        return [shared(X) for X in X_tasks]
    if scenario == 2:
        return [RandomFourierFunction.draw(n_features, rng)(X) for X in X_tasks]
    commons = [RandomFourierFunction.draw(n_features, rng)]
    if scenario == 4:
        commons.append(RandomFourierFunction.draw(n_features, rng))
    n_regular = n_tasks - (n_outlier_tasks if scenario == 4 else 0)
    targets = []
    for j, X in enumerate(X_tasks):
        common = commons[0] if j < n_regular else commons[1]
        specific = RandomFourierFunction.draw(n_features, rng)
        targets.append(common_weight * common(X) + (1.0 - common_weight) * specific(X))
    return targets


def _balanced(labels: np.ndarray) -> bool:
    return min(np.mean(labels > 0), np.mean(labels < 0)) >= MIN_CLASS_PROPORTION


def make_multitask_outlier(n_tasks: int = 10, n_outlier_tasks: int = 2, n_features: int = 5,
                           n_train_per_task: int = 300, n_test_per_task: int = 1000, scenario: int = 4,
                           task_type: str = "regression", random_state=None) -> MultitaskData:
    """The R-MTGB synthetic benchmark: related tasks plus planted outlier tasks.

    Parameters
    ----------
    n_tasks : number of tasks T.
    n_outlier_tasks : outlier tasks in scenario 4 (``0 <= . < n_tasks``);
        ignored by scenarios 1-3, which have none.
    n_features : input dimension d.
    n_train_per_task, n_test_per_task : rows per task in each split.
    scenario : 1 identical, 2 unrelated, 3 related, 4 related + outliers
        (see the module docstring).
    task_type : ``"regression"`` (real targets) or ``"classification"``
        (labels in {-1, +1}, each class >= 10% of every task's rows).
    random_state : None, int or RandomState; the output is a pure function of it.

    Returns
    -------
    MultitaskData
        ``(X_train, y_train, tasks_train, X_test, y_test, tasks_test,
        is_outlier_task)``; ``T * n_train_per_task`` training and
        ``T * n_test_per_task`` test rows.

    Examples
    --------
    >>> data = make_multitask_outlier(n_tasks=4, n_outlier_tasks=1, n_train_per_task=5,
    ...                               n_test_per_task=3, random_state=0)
    >>> data.X_train.shape, data.X_test.shape, int(data.is_outlier_task.sum())
    ((20, 5), (12, 5), 1)
    """
    _check_count("n_tasks", n_tasks, 1)
    _check_count("n_outlier_tasks", n_outlier_tasks, 0)
    _check_count("n_features", n_features, 1)
    _check_count("n_train_per_task", n_train_per_task, 1)
    _check_count("n_test_per_task", n_test_per_task, 0)
    if scenario not in (1, 2, 3, 4) or isinstance(scenario, bool):
        raise ValueError(f"scenario must be 1, 2, 3 or 4, got {scenario!r}.")
    if task_type not in ("regression", "classification"):
        raise ValueError(f"task_type must be 'regression' or 'classification', got {task_type!r}.")
    if scenario == 4 and n_outlier_tasks >= n_tasks:
        raise ValueError(f"n_outlier_tasks must be < n_tasks={n_tasks} (at least one regular task), "
                         f"got {n_outlier_tasks}.")
    rng = check_random_state(random_state)
    n_rows = n_train_per_task + n_test_per_task
    for _ in range(_MAX_ATTEMPTS):
        X_tasks = [rng.uniform(-1.0, 1.0, size=(n_rows, n_features)) for _ in range(n_tasks)]
        targets = _task_targets(scenario, n_tasks, n_outlier_tasks, X_tasks, n_features, rng)
        if task_type == "regression":
            break
        targets = [np.where(y > 0, 1, -1).astype(np.int64) for y in targets]
        if all(_balanced(y) for y in targets):
            break
    else:
        raise ValueError(f"could not draw {n_tasks} tasks with both classes >= {MIN_CLASS_PROPORTION:.0%} of "
                         f"{n_rows} rows each in {_MAX_ATTEMPTS} attempts; use more rows per task.")
    n_planted = n_outlier_tasks if scenario == 4 else 0
    # Generated task j gets id order[j]: ids carry no information on outlyingness.
    order = rng.permutation(n_tasks)
    is_outlier_task = np.zeros(n_tasks, dtype=bool)
    is_outlier_task[order[n_tasks - n_planted:]] = True
    generated = np.argsort(order)  # generated[task_id] = generation index
    train, test = slice(0, n_train_per_task), slice(n_train_per_task, n_rows)
    ids = np.arange(n_tasks)
    return MultitaskData(
        X_train=np.vstack([X_tasks[j][train] for j in generated]),
        y_train=np.concatenate([targets[j][train] for j in generated]),
        tasks_train=np.repeat(ids, n_train_per_task),
        X_test=np.vstack([X_tasks[j][test] for j in generated]),
        y_test=np.concatenate([targets[j][test] for j in generated]),
        tasks_test=np.repeat(ids, n_test_per_task),
        is_outlier_task=is_outlier_task,
    )
