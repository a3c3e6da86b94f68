"""Tests of diversa.learners.rules.literals: FOLD-R++/FOLD-SE comparison semantics and rule coverage."""

import numpy as np
import pytest

from diversa.learners.rules import Literal, Rule, TableEncoder


@pytest.fixture
def mixed():
    """Column 0 numeric with a string and a missing cell; column 1 categorical."""
    columns = [np.array([1.0, 5.0, "NA", None, 3.0], dtype=object),
               np.array(["u", "v", "u", None, "w"], dtype=object)]
    encoder, table = TableEncoder.fit(columns, np.array([False, True]))
    return encoder, table


def test_numeric_literals_are_false_on_strings_and_missing_cells(mixed):
    encoder, table = mixed
    assert Literal(0, "<=", 3.0).holds(table, encoder).tolist() == [True, False, False, False, True]
    assert Literal(0, ">", 3.0).holds(table, encoder).tolist() == [False, True, False, False, False]


def test_string_literals_on_a_mixed_column_equal_false_on_numbers_and_unequal_true(mixed):
    encoder, table = mixed
    assert Literal(0, "==", "NA").holds(table, encoder).tolist() == [False, False, True, False, False]
    assert Literal(0, "!=", "NA").holds(table, encoder).tolist() == [True, True, False, True, True]


def test_missing_equals_only_the_empty_string(mixed):
    encoder, table = mixed
    assert Literal(1, "==", "").holds(table, encoder).tolist() == [False, False, False, True, False]
    assert Literal(0, "==", "").holds(table, encoder).tolist() == [False, False, False, True, False]


def test_complement_holds_exactly_where_the_literal_does_not(mixed):
    encoder, table = mixed
    for literal in (Literal(0, "<=", 3.0), Literal(0, ">", 1.0), Literal(1, "==", "u"), Literal(0, "!=", "NA")):
        complement = literal.complement()
        assert np.array_equal(complement.holds(table, encoder), ~literal.holds(table, encoder))
        assert complement.complement() == literal


def test_rule_covers_when_body_holds_and_no_exception_covers(mixed):
    encoder, table = mixed
    rule = Rule((Literal(1, "!=", "w"),), exceptions=(Rule((Literal(0, ">", 2.0),)),))
    assert rule.covers(table, encoder).tolist() == [True, False, True, True, False]
    assert rule.covers(table, encoder, np.array([1, 2])).tolist() == [False, True]
    assert rule.depth == 1 and rule.n_literals() == 2


def test_an_empty_rule_covers_nothing_as_in_fold_rpp(mixed):
    encoder, table = mixed
    assert not Rule(()).covers(table, encoder).any()


@pytest.mark.parametrize("args, message", [((0, "<", 1.0), "op"), ((0, "<=", "a"), "numeric value"),
                                           ((0, "==", 1.0), "string value")])
def test_malformed_literals_are_rejected(args, message):
    with pytest.raises(ValueError, match=message):
        Literal(*args)


def test_describe_is_readable():
    assert Literal(0, "<=", 13.5, "mean radius").describe() == "mean radius <= 13.5"
    assert Literal(2, "!=", "Dream", "island").describe() == "island != 'Dream'"
