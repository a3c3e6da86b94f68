"""Tests of diversa.learners.rules.split_search: prefix-sum literal counts and heuristics (FOLD-SE/FOLD-R++)."""

import math

import numpy as np
import pytest

from diversa.learners.rules import (
    Literal,
    LiteralSearch,
    TableEncoder,
    gini_score,
    info_gain,
    score_literals,
)
from diversa.learners.rules.split_search import _OPS


def mixed_columns(n=60, seed=0):
    """A numeric column with repeated values and strings mixed in, and a categorical column with missing."""
    rng = np.random.default_rng(seed)
    numeric = rng.integers(0, 8, n).astype(object)
    numeric[rng.random(n) < 0.2] = "NA"
    numeric[rng.random(n) < 0.1] = None
    categorical = rng.choice(np.array(["u", "v", "w"], dtype=object), n)
    categorical[rng.random(n) < 0.15] = None
    continuous = rng.normal(size=n)
    return [numeric, categorical, continuous], np.array([False, True, False])


def search_on(columns, categorical):
    encoder, table = TableEncoder.fit(columns, categorical)
    return LiteralSearch(table, encoder, ["a", "b", "c"]), encoder, table


def fold_rpp_info_gain(tp, fn, tn, fp):
    """FOLD-R++'s scalar heuristic, written out as in the authors' code."""
    if tp + tn < fp + fn:
        return float("-inf")
    tot_p, tot_n = float(tp + fp), float(tn + fn)
    tot = tot_p + tot_n
    ret = 0
    ret += tp / tot * math.log(tp / tot_p) if tp > 0 else 0
    ret += fp / tot * math.log(fp / tot_p) if fp > 0 else 0
    ret += tn / tot * math.log(tn / tot_n) if tn > 0 else 0
    ret += fn / tot * math.log(fn / tot_n) if fn > 0 else 0
    return ret


def test_prefix_sum_counts_equal_brute_force_for_every_candidate_literal():
    columns, categorical = mixed_columns()
    search, encoder, table = search_on(columns, categorical)
    rng = np.random.default_rng(1)
    rows = rng.permutation(60)
    pos, neg = np.sort(rows[:25]), np.sort(rows[25:50])  # 10 rows belong to neither
    counts = search.counts(pos, neg)
    assert counts.tp.size > 0
    for i in range(counts.tp.size):
        literal = search.literal(counts, i)
        assert counts.tp[i] == literal.holds(table, encoder, pos).sum(), literal
        assert counts.fp[i] == literal.holds(table, encoder, neg).sum(), literal


def test_candidates_are_exactly_the_values_seen_in_the_subset():
    columns, categorical = mixed_columns()
    search, _, _ = search_on(columns, categorical)
    subset = np.arange(10)
    counts = search.counts(subset[:5], subset[5:])
    seen_numbers = {float(v) for v in columns[0][:10] if isinstance(v, (int, np.integer))}
    numeric_a = {search.literal(counts, i).value for i in range(counts.tp.size)
                 if counts.feature[i] == 0 and _OPS[counts.op[i]] == "<="}
    assert numeric_a == seen_numbers
    strings_b = {search.literal(counts, i).value for i in range(counts.tp.size)
                 if counts.feature[i] == 1 and _OPS[counts.op[i]] == "=="}
    assert strings_b == {"" if v is None else v for v in columns[1][:10]}


def test_info_gain_matches_the_fold_rpp_formula_bit_for_bit():
    rng = np.random.default_rng(2)
    tp, fn, tn, fp = (rng.integers(0, 30, 200).astype(float) for _ in range(4))
    expected = [fold_rpp_info_gain(*args) for args in zip(tp, fn, tn, fp)]
    assert np.array_equal(info_gain(tp, fn, tn, fp), np.array(expected))


def test_gini_is_minus_the_weighted_impurity_with_zero_for_empty_sides():
    assert gini_score(3, 1, 5, 1)[()] == pytest.approx(-(2 / 10) * (3 * 1 / 4 + 5 * 1 / 6))
    assert gini_score(4, 0, 6, 0)[()] == 0.0  # a perfect split
    assert gini_score(0, 0, 6, 0)[()] == 0.0  # an empty covered side counts 0
    assert gini_score(1, 5, 1, 5)[()] == -np.inf  # worse than its negation


def test_score_is_minus_infinity_when_the_literal_is_worse_than_its_negation():
    scores = score_literals([1, 9], [9, 1], n_pos=10, n_neg=10, heuristic="info_gain")
    assert scores[0] == -np.inf and np.isfinite(scores[1])


def test_best_literal_finds_a_clean_threshold_and_breaks_ties_in_fold_rpp_order():
    x = np.arange(10.0)
    encoder, table = TableEncoder.fit([x, x.copy()], np.array([False, False]))
    search = LiteralSearch(table, encoder, ["first", "second"])
    pos, neg = np.arange(4), np.arange(4, 10)
    best = search.best(pos, neg, heuristic="gini")
    assert best == Literal(0, "<=", 3.0, "first")  # the identical column 1 ties and comes later
    assert search.best(neg, pos, heuristic="info_gain") == Literal(0, ">", 3.0, "first")


def test_used_literal_excludes_itself_and_its_complement():
    x = np.arange(10.0)
    encoder, table = TableEncoder.fit([x], np.array([False]))
    search = LiteralSearch(table, encoder, ["x"])
    pos, neg = np.arange(4), np.arange(4, 10)
    used = (Literal(0, ">", 3.0, "x"),)
    best = search.best(pos, neg, used=used)
    assert best is not None and best.value != 3.0


def test_no_literal_when_nothing_is_admissible_or_no_rows():
    encoder, table = TableEncoder.fit([np.ones(6)], np.array([False]))
    search = LiteralSearch(table, encoder, ["x"])
    pos, neg = np.arange(2), np.arange(2, 6)
    assert search.best(pos, neg) == Literal(0, ">", 1.0, "x")  # x <= 1 is worse than its negation
    assert search.best(pos, neg, used=(Literal(0, "<=", 1.0, "x"),)) is None  # the only value is used
    assert search.best(np.array([], dtype=int), np.array([], dtype=int)) is None


def test_unknown_heuristic_is_rejected():
    with pytest.raises(ValueError, match="heuristic"):
        score_literals([1], [1], 2, 2, heuristic="entropy")
