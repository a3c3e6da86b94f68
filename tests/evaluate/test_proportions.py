import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from diversa.evaluate import paired
from diversa.evaluate.proportions import (
    cochrans_q,
    ftest,
    mcnemar,
    mcnemar_table,
    mcnemar_tables,
    proportion_difference,
)

mlxtend_evaluate = pytest.importorskip("mlxtend.evaluate")

DATASETS = ["iris", "breast_cancer", "wine", "synthetic"]


def _three_models_predictions(X, y, seed):
    """Predictions of three small models fitted on half the rows, on all rows."""
    train = np.random.default_rng(seed).permutation(len(y))[: len(y) // 2]
    models = [GaussianNB(), DecisionTreeClassifier(max_depth=1, random_state=seed),
              DecisionTreeClassifier(random_state=seed)]
    return [model.fit(X[train], y[train]).predict(X) for model in models]


# ----- fixed numbers from the article and mlxtend's user guide -----

def test_mcnemar_fixed_numbers():
    table = np.array([[101, 121], [59, 33]])
    assert mcnemar(table) == pytest.approx((20.672222, 5.4501e-6), rel=1e-4)
    assert mcnemar(table, corrected=False) == pytest.approx((21.355556, 3.8151e-6), rel=1e-4)
    assert mcnemar(table, exact=True).pvalue == pytest.approx(4.43445e-6, rel=1e-4)
    assert mcnemar(table, exact=True).statistic is None


def test_mcnemar_article_worked_examples():
    chi2, p = mcnemar(np.array([[9945, 25], [15, 15]]))
    assert chi2 == pytest.approx(2.025) and p == pytest.approx(0.154729, rel=1e-4)
    assert mcnemar(np.array([[9959, 11], [1, 29]]), exact=True).pvalue == pytest.approx(0.0063477, rel=1e-4)


def test_cochrans_q_fixed_pattern():
    patterns = [((1, 1, 1), 80), ((1, 1, 0), 2), ((1, 0, 0), 2), ((0, 1, 1), 9), ((0, 1, 0), 1),
                ((0, 0, 1), 3), ((0, 0, 0), 3)]
    right = np.array([row for row, count in patterns for _ in range(count)])
    y = np.ones(len(right), dtype=int)
    q, p = cochrans_q(y, *right.T)
    assert q == pytest.approx(7.5294, abs=1e-4) and p == pytest.approx(0.02317, abs=1e-5)
    assert cochrans_q(y, *right.T).df == 2


# ----- equivalence with mlxtend and scipy -----

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [0, 1])
def test_tables_and_omnibus_tests_match_mlxtend(datasets, name, seed):
    X, y = datasets[name]
    preds = _three_models_predictions(X, y, seed)
    np.testing.assert_array_equal(mcnemar_table(y, preds[0], preds[1]),
                                  mlxtend_evaluate.mcnemar_table(y, preds[0], preds[1]))
    ours, theirs = mcnemar_tables(y, *preds), mlxtend_evaluate.mcnemar_tables(y, *preds)
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key])
    for ours_result, theirs_result in [(cochrans_q(y, *preds), mlxtend_evaluate.cochrans_q(y, *preds)),
                                       (ftest(y, *preds), mlxtend_evaluate.ftest(y, *preds))]:
        np.testing.assert_allclose(ours_result, theirs_result, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("corrected", [True, False])
def test_mcnemar_matches_mlxtend_and_scipy(datasets, name, corrected):
    X, y = datasets[name]
    preds = _three_models_predictions(X, y, 0)
    table = mcnemar_table(y, preds[0], preds[2])
    np.testing.assert_allclose(mcnemar(table, corrected=corrected),
                               mlxtend_evaluate.mcnemar(table, corrected=corrected), rtol=0, atol=1e-10)
    exact = mcnemar(table, exact=True)
    assert exact.pvalue == pytest.approx(mlxtend_evaluate.mcnemar(table, exact=True)[1], abs=1e-10)
    b, c = table[0, 1], table[1, 0]
    assert exact.pvalue == pytest.approx(stats.binomtest(int(b), int(b + c)).pvalue, abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mcnemar_and_cochran_match_statsmodels(datasets, seed):
    tables = pytest.importorskip("statsmodels.stats.contingency_tables")
    X, y = datasets["synthetic"]
    preds = _three_models_predictions(X, y, seed)
    table = mcnemar_table(y, preds[0], preds[1])
    for exact, corrected in [(True, False), (False, True), (False, False)]:
        expected = tables.mcnemar(table, exact=exact, correction=corrected)
        ours = mcnemar(table, exact=exact, corrected=corrected)
        assert ours.pvalue == pytest.approx(expected.pvalue, abs=1e-10)
        if not exact:
            assert ours.statistic == pytest.approx(expected.statistic, abs=1e-10)
    right = np.column_stack([p == y for p in preds]).astype(int)
    expected_q = tables.cochrans_q(right)
    assert tuple(cochrans_q(y, *preds)) == pytest.approx((expected_q.statistic, expected_q.pvalue), abs=1e-10)


@pytest.mark.parametrize("acc1, acc2, n1, n2", [(0.84, 0.92, 100, None), (0.7, 0.65, 300, 250), (0.5, 0.5, 10, 40)])
def test_proportion_difference_matches_mlxtend_unpooled_one_sided(acc1, acc2, n1, n2):
    ours = proportion_difference(acc1, acc2, n1, n2, pooled=False, alternative="less")
    np.testing.assert_allclose(ours, mlxtend_evaluate.proportion_difference(acc1, acc2, n1, n2), atol=1e-10)


def test_proportion_difference_pooled_is_the_article_formula():
    acc1, acc2, n = 0.84, 0.92, 100
    average = (acc1 + acc2) / 2
    z = (acc1 - acc2) / np.sqrt(2 * average * (1 - average) / n)
    result = proportion_difference(acc1, acc2, n)
    assert result.statistic == pytest.approx(z)
    assert result.pvalue == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert proportion_difference(acc1, acc2, n, alternative="greater").pvalue == pytest.approx(stats.norm.sf(z))


def test_cochrans_q_with_two_models_is_uncorrected_mcnemar(datasets):
    X, y = datasets["wine"]
    preds = _three_models_predictions(X, y, 3)
    q = cochrans_q(y, preds[0], preds[1])
    chi2 = mcnemar(mcnemar_table(y, preds[0], preds[1]), corrected=False)
    assert q.statistic == pytest.approx(chi2.statistic, abs=1e-12) and q.pvalue == pytest.approx(chi2.pvalue)


# ----- degenerate cases -----

def test_identical_predictions():
    y = np.array([0, 1, 1, 0, 1, 0])
    pred = np.array([0, 1, 0, 0, 1, 1])
    table = mcnemar_table(y, pred, pred)
    assert mcnemar(table, exact=True).pvalue == 1.0
    with pytest.raises(ValueError, match="discordant"):
        mcnemar(table)
    assert tuple(cochrans_q(y, pred, pred, pred)) == (0.0, 1.0)
    with pytest.warns(RuntimeWarning):
        assert tuple(ftest(y, pred, pred)) == (0.0, 1.0)


def test_equal_accuracies_with_zero_variance_give_z_zero():
    assert tuple(proportion_difference(1.0, 1.0, 50)) == (0.0, 1.0)
    assert proportion_difference(1.0, 0.0, 50, pooled=False).statistic == np.inf


def test_results_are_named_and_unpack():
    result = mcnemar(np.array([[10, 5], [2, 3]]))
    assert isinstance(result, paired.TestResult)
    stat, p = result
    assert (stat, p) == (result.statistic, result.pvalue) and result.df == 1 and result.details["b"] == 5


# ----- bad input -----

@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: mcnemar_table([0, 1, 1], [0, 1], [0, 1, 1]), "y_preds\\[0\\]"),
        (lambda: mcnemar_table([0, 1, 1], [0, 1, 1], [0, 1, np.nan]), "y_preds\\[1\\]"),
        (lambda: mcnemar_table(np.zeros((3, 2)), [0, 1, 1], [0, 1, 1]), "y_true"),
        (lambda: cochrans_q([0, 1, 1], [0, 1, 1]), "at least 2"),
        (lambda: mcnemar_tables([0, 1, 1], [0, 1, 1]), "at least 2"),
        (lambda: ftest([0, 1], [0, 1]), "at least 2"),
        (lambda: mcnemar(np.ones((3, 2))), "table"),
        (lambda: mcnemar(np.array([[1, -2], [3, 4]])), "table"),
        (lambda: mcnemar(np.array([[1, np.nan], [3, 4]])), "table"),
        (lambda: proportion_difference(1.2, 0.5, 10), "acc1"),
        (lambda: proportion_difference(0.5, np.nan, 10), "acc2"),
        (lambda: proportion_difference(0.5, 0.5, 0), "n1"),
        (lambda: proportion_difference(0.5, 0.5, 10, 2.5), "n2"),
        (lambda: proportion_difference(0.5, 0.5, 10, alternative="bigger"), "alternative"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# ----- properties -----

predictions = st.integers(min_value=5, max_value=60).flatmap(
    lambda n: st.tuples(*[st.lists(st.integers(0, 2), min_size=n, max_size=n) for _ in range(4)])
)


@settings(max_examples=60, deadline=None)
@given(predictions)
def test_properties_of_the_same_test_set_tests(arrays):
    y, p1, p2, p3 = (np.array(a) for a in arrays)
    table = mcnemar_table(y, p1, p2)
    swapped = mcnemar_table(y, p2, p1)
    assert table.sum() == len(y) and table[0, 1] == swapped[1, 0]
    exact = mcnemar(table, exact=True)
    assert 0.0 <= exact.pvalue <= 1.0
    assert exact.pvalue == pytest.approx(mcnemar(swapped, exact=True).pvalue)
    if table[0, 1] + table[1, 0] > 0:
        assert tuple(mcnemar(table)) == pytest.approx(tuple(mcnemar(swapped)))
        assert 0.0 <= mcnemar(table).pvalue <= 1.0
    q = cochrans_q(y, p1, p2, p3)
    assert 0.0 <= q.pvalue <= 1.0 and q.statistic >= -1e-12
    assert tuple(cochrans_q(y, p3, p1, p2)) == pytest.approx(tuple(q))
    order = np.random.default_rng(len(y)).permutation(len(y))
    assert tuple(cochrans_q(y[order], p1[order], p2[order], p3[order])) == pytest.approx(tuple(q))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical correctness: F = 0/0 is reported as 0
        assert 0.0 <= ftest(y, p1, p2, p3).pvalue <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.integers(1, 500), st.integers(1, 500), st.booleans())
def test_proportion_difference_properties(acc1, acc2, n1, n2, pooled):
    result = proportion_difference(acc1, acc2, n1, n2, pooled=pooled)
    swapped = proportion_difference(acc2, acc1, n2, n1, pooled=pooled)
    assert 0.0 <= result.pvalue <= 1.0
    assert result.pvalue == pytest.approx(swapped.pvalue)
    assert result.statistic == pytest.approx(-swapped.statistic)
