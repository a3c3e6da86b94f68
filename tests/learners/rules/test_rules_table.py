"""Tests of diversa.learners.rules.table: mixed-type columns, missing values and vocabularies (FOLD-SE)."""

import numpy as np
import pandas as pd
import pytest

from diversa.learners.rules.table import (
    MISSING,
    NUMBER_CODE,
    UNSEEN_CODE,
    TableEncoder,
    format_category,
    infer_categorical,
    split_column,
)


def test_categorical_values_become_strings_and_integral_floats_lose_their_point():
    assert [format_category(v) for v in (4.0, 2.5, 3, True, "x", None, np.nan)] == \
        ["4", "2.5", "3", "True", "x", MISSING, MISSING]


def test_numeric_column_keeps_numbers_parses_numeric_strings_and_keeps_other_strings():
    column = np.array([1, "2.5", "NA", None, np.nan, 7.0], dtype=object)
    numbers, strings = split_column(column, categorical=False)
    assert np.array_equal(numbers, [1.0, 2.5, np.nan, np.nan, np.nan, 7.0], equal_nan=True)
    assert strings.tolist() == [None, None, "NA", MISSING, MISSING, None]


def test_float_column_fast_path_marks_nan_as_missing():
    numbers, strings = split_column(np.array([1.0, np.nan]), categorical=False)
    assert np.isnan(numbers[1]) and strings.tolist() == [None, MISSING]


def test_encoder_vocabularies_and_codes_for_training_and_new_rows():
    columns = [np.array([3.0, 1.0, np.nan, 3.0]), np.array(["b", "a", None, "b"], dtype=object)]
    encoder, table = TableEncoder.fit(columns, np.array([False, True]))
    assert encoder.number_values[0].tolist() == [1.0, 3.0]
    assert encoder.string_values[0] == (MISSING,) and encoder.string_values[1] == (MISSING, "a", "b")
    assert table.number_codes[:, 0].tolist() == [1, 0, -1, 1]
    assert table.codes[:, 0].tolist() == [NUMBER_CODE, NUMBER_CODE, 0, NUMBER_CODE]
    assert table.codes[:, 1].tolist() == [2, 1, 0, 2]
    new = encoder.transform([np.array([2.0]), np.array(["zebra"], dtype=object)])
    assert new.numbers[0, 0] == 2.0 and new.codes[0, 1] == UNSEEN_CODE


def test_auto_detection_on_a_dataframe_with_every_kind_of_column():
    frame = pd.DataFrame({
        "num": [1.0, 2.0], "int": [1, 2], "text": pd.Series(["a", None], dtype="str"),
        "cat": pd.Categorical(["x", "y"]), "flag": [True, False],
        "object_numbers": pd.Series([1.5, None], dtype=object),
    })
    mask = infer_categorical(frame, frame.to_numpy(dtype=object), "auto")
    assert mask.tolist() == [False, False, True, True, True, False]


def test_explicit_categorical_features_by_name_index_and_mask():
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    array = frame.to_numpy()
    assert infer_categorical(frame, array, ["b"]).tolist() == [False, True]
    assert infer_categorical(frame, array, [0]).tolist() == [True, False]
    assert infer_categorical(frame, array, [True, False]).tolist() == [True, False]
    assert infer_categorical(frame, array, None).tolist() == [False, False]


@pytest.mark.parametrize("bad, message", [("all", "categorical_features"), (["zzz"], "zzz"), ([5], "5"),
                                          ([True], "boolean mask")])
def test_bad_categorical_features_name_the_argument(bad, message):
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    with pytest.raises(ValueError, match=message):
        infer_categorical(frame, frame.to_numpy(), bad)
