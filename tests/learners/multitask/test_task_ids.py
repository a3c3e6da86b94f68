"""Task ids for the multi-task estimators (arXiv:2507.11411): arguments, columns, encodings."""

import numpy as np
import pandas as pd
import pytest

from diversa.learners.multitask.task_ids import (
    check_tasks,
    encode_tasks,
    fit_task_encoding,
    resolve_tasks,
    split_task_column,
)


def test_split_task_column_from_an_array():
    X = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]])
    features, tasks = split_task_column(X, -1)
    np.testing.assert_array_equal(features, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(tasks, [0.0, 1.0])
    features, tasks = split_task_column(X, 0)
    np.testing.assert_array_equal(tasks, [1.0, 3.0])
    assert split_task_column(X, None)[1] is None


def test_split_task_column_from_a_dataframe():
    frame = pd.DataFrame({"a": [1.0, 2.0], "site": ["x", "y"], "b": [3.0, 4.0]})
    features, tasks = split_task_column(frame, "site")
    assert list(features.columns) == ["a", "b"]
    assert tasks.tolist() == ["x", "y"]
    features, tasks = split_task_column(frame, 1)
    assert list(features.columns) == ["a", "b"] and tasks.tolist() == ["x", "y"]


@pytest.mark.parametrize("X, task_col, error, match", [
    (pd.DataFrame({"a": [1.0]}), "site", ValueError, "task_col='site' is not a column"),
    (pd.DataFrame({"a": [1.0]}), 3, ValueError, "task_col=3 is out of range"),
    (np.zeros((2, 2)), "site", TypeError, "task_col='site' is a column name"),
    (np.zeros((2, 2)), 2, ValueError, "task_col=2 is out of range"),
    (np.zeros(3), 0, ValueError, "X must be 2-D"),
    (np.zeros((2, 2)), 1.5, TypeError, "task_col must be"),
    (np.zeros((2, 2)), True, TypeError, "task_col must be"),
])
def test_split_task_column_errors(X, task_col, error, match):
    with pytest.raises(error, match=match):
        split_task_column(X, task_col)


def test_check_tasks_errors():
    with pytest.raises(ValueError, match="tasks has 2 entries but X has 3 rows"):
        check_tasks([0, 1], 3)
    with pytest.raises(ValueError, match="tasks must be 1-D"):
        check_tasks([[0, 1]], 1)
    with pytest.raises(ValueError, match="tasks contains NaN"):
        check_tasks([0.0, np.nan], 2)
    with pytest.raises(ValueError, match="tasks contains None"):
        check_tasks(np.array(["a", None], dtype=object), 2)


def test_resolve_tasks_refuses_two_sources():
    with pytest.raises(ValueError, match="tasks was passed although task_col is set"):
        resolve_tasks(np.zeros((2, 3)), [0, 1], -1)
    features, tasks = resolve_tasks(np.zeros((2, 3)), [0, 1], None)
    assert features.shape == (2, 3) and list(tasks) == [0, 1]


def test_encoding_keeps_the_training_mapping():
    known, index = fit_task_encoding(np.array(["b", "a", "c", "a"]))
    assert known.tolist() == ["a", "b", "c"] and index.tolist() == [1, 0, 2, 0]
    # A test set with fewer tasks keeps the training indices (not its own sorted order).
    assert encode_tasks(np.array(["c", "c", "b"]), known).tolist() == [2, 2, 1]
    with pytest.raises(ValueError, match="tasks contains ids unseen at fit: 'z'"):
        encode_tasks(np.array(["a", "z"]), known)
    assert encode_tasks(np.array([1.0, 0.0]), np.array([0, 1])).tolist() == [1, 0]


def test_incomparable_ids_are_a_type_error():
    with pytest.raises(TypeError, match="tasks must be mutually comparable"):
        fit_task_encoding(np.array([1, "a"], dtype=object))
