"""Validation-based selection and normalized accuracy."""

import pytest

from diversa.combine.merge import normalized_accuracy, select_by_validation


def test_normalized_accuracy():
    assert normalized_accuracy({"a": 0.5, "b": 0.9}, {"a": 1.0, "b": 0.9}) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="individual"):
        normalized_accuracy({"a": 0.5}, {})
    with pytest.raises(ValueError, match="merged"):
        normalized_accuracy({}, {"a": 1.0})


def test_select_by_validation_picks_max_first_on_ties():
    grid = [{"x": 1}, {"x": 3}, {"x": 2}, {"x": 3}]
    best, table = select_by_validation(lambda x: x, grid, lambda v: -abs(v - 3))
    assert best == {"x": 3}
    assert [row["score"] for row in table] == [-2, 0, -1, 0]
    with pytest.raises(ValueError, match="grid"):
        select_by_validation(lambda x: x, [], lambda v: v)
