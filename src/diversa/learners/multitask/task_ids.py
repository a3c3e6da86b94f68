"""Which task each row belongs to: task ids from an argument or from a column of X.

Support for the multi-task estimators of
Emami, Martínez-Muñoz, Hernández-Lobato, "Robust-Multi-Task Gradient
Boosting", arXiv:2507.11411 (2025).

A row's task is given either by the ``tasks`` argument of ``fit``/``predict``
(any hashable, mutually comparable ids) or, when the estimator's ``task_col``
is set, read from that column of ``X`` (a position, or a name for a pandas
DataFrame; the official code uses the last column), which is then removed
from the features. The ids seen at fit are kept in sorted order; at predict
time ids are mapped through that training mapping, and an id unseen at fit is
an error (the official code re-indexes the test ids by their own sorted order,
which silently mismatches tasks when the test set lacks some).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np


def split_task_column(X, task_col):
    """Separate the task column from the features.

    Parameters
    ----------
    X : array-like (n, d) or pandas DataFrame.
    task_col : None, int (position, negative allowed) or str (DataFrame column name).

    Returns
    -------
    features : X without the task column (same container type), or X itself
        when ``task_col`` is None.
    tasks : ndarray (n,) of the column's values, or None.
    """
    if task_col is None:
        return X, None
    if isinstance(task_col, bool) or not isinstance(task_col, (Integral, str)):
        raise TypeError(f"task_col must be None, an int column position or a str column name, got {task_col!r}.")
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        columns = list(X.columns)
        if isinstance(task_col, str):
            if task_col not in columns:
                raise ValueError(f"task_col={task_col!r} is not a column of X (columns: {columns}).")
            name = task_col
        else:
            if not -len(columns) <= task_col < len(columns):
                raise ValueError(f"task_col={task_col} is out of range for X with {len(columns)} columns.")
            name = columns[task_col]
        return X.drop(columns=[name]), X[name].to_numpy()
    if isinstance(task_col, str):
        raise TypeError(f"task_col={task_col!r} is a column name, but X is not a DataFrame; "
                         "give task_col as an int column position.")
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be 2-D to read the task column task_col={task_col}, got shape {array.shape}.")
    if not -array.shape[1] <= task_col < array.shape[1]:
        raise ValueError(f"task_col={task_col} is out of range for X with {array.shape[1]} columns.")
    return np.delete(array, task_col, axis=1), array[:, task_col]


def check_tasks(tasks, n_samples: int) -> np.ndarray:
    """Validate task ids: 1-D, one per row, no missing values. Returns ndarray (n,)."""
    tasks = np.asarray(tasks)
    if tasks.ndim != 1:
        raise ValueError(f"tasks must be 1-D (one task id per row), got shape {tasks.shape}.")
    if tasks.shape[0] != n_samples:
        raise ValueError(f"tasks has {tasks.shape[0]} entries but X has {n_samples} rows.")
    if tasks.dtype.kind == "f" and np.isnan(tasks).any():
        raise ValueError("tasks contains NaN; every row needs a task id.")
    if tasks.dtype.kind == "O" and any(t is None for t in tasks):
        raise ValueError("tasks contains None; every row needs a task id.")
    return tasks


def resolve_tasks(X, tasks, task_col):
    """Features and task ids of a call to ``fit``/``predict``.

    Returns ``(features, tasks)`` where tasks is an ndarray (n,) or None when
    neither ``tasks`` nor ``task_col`` gives them.
    """
    features, from_column = split_task_column(X, task_col)
    if tasks is not None and from_column is not None:
        raise ValueError("tasks was passed although task_col is set; give the task ids one way only.")
    return features, (tasks if tasks is not None else from_column)


def fit_task_encoding(tasks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids ``(T,)`` and each row's index into them ``(n,)``."""
    try:
        known, index = np.unique(tasks, return_inverse=True)
    except TypeError as error:
        raise TypeError(f"tasks must be mutually comparable ids (e.g. all ints or all strings): {error}") from None
    return known, index.reshape(-1)


def encode_tasks(tasks: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each row's index into the training ids ``known``; unseen ids raise ValueError."""
    lookup = {task: i for i, task in enumerate(known.tolist())}
    values = tasks.tolist()
    unseen = sorted({repr(t) for t in values if t not in lookup})
    if unseen:
        raise ValueError(f"tasks contains ids unseen at fit: {', '.join(unseen[:10])}"
                         f"{' ...' if len(unseen) > 10 else ''}; known tasks: {known.tolist()}.")
    return np.fromiter((lookup[t] for t in values), dtype=np.intp, count=len(values))
