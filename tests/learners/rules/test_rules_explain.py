"""Tests of diversa.learners.rules.explain: FOLD-R++ flattening, ASP printing and justifications."""

import re

import numpy as np

from diversa.learners.rules import (
    Literal,
    Rule,
    TableEncoder,
    flatten_rules,
    program_rules,
)
from diversa.learners.rules.explain import flat_rule_holds, justify_rows, merge_bounds

A, B = "a", "b"


def lit(feature, op, value, negated=False):
    return Literal(feature, op, value, [A, B][feature], negated)


def test_numeric_bounds_merge_to_the_tightest_after_string_literals():
    merged = merge_bounds([lit(0, "<=", 5.0), lit(1, "==", "x"), lit(0, ">", 1.0), lit(0, "<=", 3.0),
                           lit(0, ">", 2.0)])
    assert merged == (lit(1, "==", "x"), lit(0, ">", 2.0), lit(0, "<=", 3.0))


def test_one_literal_exception_folds_into_the_body_and_others_become_ab_predicates():
    nested = Rule((lit(1, "==", "y"),), exceptions=(Rule((lit(0, "<=", 0.0),)),))
    rule = Rule((lit(0, "<=", 9.0),), exceptions=(Rule((lit(1, "==", "x"),)), nested), label=1)
    flat = flatten_rules([rule])
    assert [r.head for r in flat] == ["label", "ab1"]
    assert flat[0].literals == (lit(1, "!=", "x"), lit(0, "<=", 9.0)) and flat[0].exceptions == ("ab1",)
    # the nested one-literal exception of the exception is folded too, as a negated numeric literal
    assert flat[1].literals == (lit(1, "==", "y"), lit(0, ">", 0.0, negated=True))
    assert program_rules(flat) == [
        "label(X,'1') :- not b(X,'x'), a(X,N1), N1=<9.0, not ab1(X,'True').",
        "ab1(X,'True') :- b(X,'y'), a(X,N1), N1>0.0.",
    ]


def test_identical_exceptions_share_one_predicate_numbered_depth_first():
    deep = Rule((lit(1, "==", "z"), lit(0, ">", 1.0)))
    exception = Rule((lit(1, "!=", "y"), lit(0, "<=", 4.0)), exceptions=(deep,))
    rules = [Rule((lit(0, "<=", 9.0),), (exception,), label="p"), Rule((lit(1, "==", "q"),), (exception,), label="p")]
    text = program_rules(flatten_rules(rules))
    assert len(text) == 4
    assert text[2].startswith("ab1(X,'True') :- b(X,'z')")  # the innermost finishes first
    assert text[3].endswith("not ab1(X,'True').") and text[0].endswith("not ab2(X,'True').")
    assert text[1].endswith("not ab2(X,'True').")


def test_program_strings_parse_and_every_referenced_predicate_is_defined():
    deep = Rule((lit(1, "==", "z"), lit(0, ">", 1.0)))
    rules = [Rule((lit(0, "<=", 9.0), lit(1, "!=", "w")), (Rule((lit(1, "!=", "y"), lit(0, "<=", 4.0)), (deep,)),),
                  label="p")]
    pattern = re.compile(r"^(\w+)\(X,'([^']*)'\) :- (.+)\.$")
    defined, referenced = set(), set()
    for line in program_rules(flatten_rules(rules)):
        match = pattern.match(line)
        assert match, line
        defined.add(match.group(1))
        referenced.update(re.findall(r"not (ab\d+)\(X,'True'\)", match.group(3)))
    assert referenced and referenced <= defined


def test_flattened_program_means_what_the_rules_mean_even_on_missing_numbers():
    columns = [np.array([1.0, 5.0, None, 3.0, "NA", 8.0], dtype=object),
               np.array(["x", "y", "x", None, "y", "x"], dtype=object)]
    encoder, table = TableEncoder.fit(columns, np.array([False, True]))
    rules = [Rule((lit(1, "!=", "q"),), exceptions=(Rule((lit(0, "<=", 2.0),)),), label=1),
             Rule((lit(0, ">", 4.0),), exceptions=(Rule((lit(1, "==", "y"), lit(0, "<=", 6.0))),), label=1)]
    structured = rules[0].covers(table, encoder) | rules[1].covers(table, encoder)
    flat = flatten_rules(rules)
    holds, _, _ = flat_rule_holds(flat, table, encoder)
    assert np.array_equal(holds[[k for k, r in enumerate(flat) if r.is_default]].any(axis=0), structured)
    assert structured[2]  # a missing number satisfies "not (a <= 2)"


def test_justification_marks_literals_and_names_the_rule_or_the_default():
    columns = [np.array([1.0, 5.0]), np.array(["x", "y"], dtype=object)]
    encoder, table = TableEncoder.fit(columns, np.array([False, True]))
    flat = flatten_rules([Rule((lit(0, "<=", 2.0), lit(1, "==", "x")), label="yes")])
    fired, default = justify_rows(flat, table, encoder, "yes", "no")
    assert fired.prediction == "yes" and fired.rule == 0 and not fired.default_applied
    assert fired.lines == ("[T]label(X,'yes') :- [T]b(X,'x'), a(X,N1), [T]N1=<2.0.",)
    assert default.prediction == "no" and default.default_applied
    assert default.lines == ("[F]label(X,'yes') :- [F]b(X,'x'), a(X,N1), [F]N1=<2.0.",)
    assert str(default).startswith("label(X,'no'): default")
