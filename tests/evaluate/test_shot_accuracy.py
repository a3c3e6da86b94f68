import numpy as np
import pytest

from diversa.evaluate import shot_accuracy


def test_groups_average_per_class_accuracy():
    counts = [100, 50, 10, 2]                  # many, many, medium, few (n_max = 100: > 20 many, < 4 few)
    y_true = np.array([0, 0, 1, 2, 2, 3, 3, 3, 3])
    y_pred = np.array([0, 0, 0, 2, 1, 0, 3, 0, 0])
    result = shot_accuracy(y_true, y_pred, counts)
    assert result.per_class.tolist() == [1.0, 0.0, 0.5, 0.25]
    assert (result.many, result.medium, result.few) == (0.5, 0.5, 0.25)
    assert result.overall == pytest.approx(4 / 9)
    many, medium, few, *_ = shot_accuracy(y_true, y_pred, counts)
    assert many == 0.5


def test_a_group_without_test_classes_is_nan_not_zero():
    result = shot_accuracy([0, 1, 1], [0, 1, 0], [124, 96, 74])
    assert np.isnan(result.few) and np.isnan(result.medium) and result.many == 0.75


def test_bad_input():
    with pytest.raises(ValueError, match=r"y_true holds labels \[5\]"):
        shot_accuracy([0, 5], [0, 1], [10, 5, 1])
    with pytest.raises(ValueError, match="y_pred holds labels"):
        shot_accuracy([0, 1], [0, -1], [10, 5, 1])
    with pytest.raises(ValueError, match="equal length"):
        shot_accuracy([0, 1], [0], [10, 5])
    with pytest.raises(ValueError, match="integer"):
        shot_accuracy([0.5, 1], [0, 1], [10, 5])
    with pytest.raises(ValueError, match="class_counts"):
        shot_accuracy([0, 1], [0, 1], [10])
    with pytest.raises(ValueError, match="empty"):
        shot_accuracy(np.array([], dtype=int), np.array([], dtype=int), [3, 2])
