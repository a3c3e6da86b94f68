import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from diversa.evaluate.ranks import average_ranks, friedman_test, nemenyi_cd, nemenyi_pvalues


def test_average_ranks_with_ties():
    scores = np.array([[0.9, 0.8, 0.8], [0.7, 0.9, 0.6]])
    np.testing.assert_allclose(average_ranks(scores), [1.5, 1.75, 2.75])
    np.testing.assert_allclose(average_ranks(1 - scores, higher_is_better=False), [1.5, 1.75, 2.75])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [3, 5])
def test_friedman_matches_scipy_including_ties(seed, k):
    scores = np.round(np.random.default_rng(seed).uniform(size=(12, k)), 1)  # rounding creates ties
    expected = stats.friedmanchisquare(*scores.T)
    result = friedman_test(scores)
    assert tuple(result) == pytest.approx((expected.statistic, expected.pvalue), abs=1e-10)
    assert result.df == k - 1


def test_friedman_details_and_iman_davenport():
    scores = np.random.default_rng(0).uniform(size=(10, 4)) + np.array([0.0, 0.1, 0.2, 0.3])
    result = friedman_test(scores)
    chi2, n, k = result.statistic, 10, 4
    f = (n - 1) * chi2 / (n * (k - 1) - chi2)
    iman = result.details["iman_davenport"]
    assert iman.statistic == pytest.approx(f) and iman.df == (3, 27)
    assert iman.pvalue == pytest.approx(stats.f.sf(f, 3, 27))
    np.testing.assert_allclose(result.details["average_ranks"], average_ranks(scores))


def test_friedman_degenerate_cases():
    assert tuple(friedman_test(np.ones((5, 3)))) == (0.0, 1.0)
    perfect = friedman_test(np.tile([3.0, 2.0, 1.0], (6, 1)))
    assert perfect.details["iman_davenport"].pvalue == 0.0 and perfect.pvalue < 0.01


@pytest.mark.parametrize("k, q", [(2, 1.960), (3, 2.344), (4, 2.569), (5, 2.728), (6, 2.850), (10, 3.164)])
def test_nemenyi_cd_uses_demsar_table(k, q):
    assert nemenyi_cd(k, 1) / np.sqrt(k * (k + 1) / 6) == pytest.approx(q, abs=1e-3)


def test_nemenyi_cd_decreases_with_more_datasets():
    cds = [nemenyi_cd(4, n) for n in (5, 10, 20, 40)]
    assert all(a > b for a, b in zip(cds, cds[1:]))


def test_nemenyi_pvalues_agree_with_the_critical_difference():
    scores = np.random.default_rng(3).uniform(size=(15, 5)) + np.linspace(0, 0.6, 5)
    p = nemenyi_pvalues(scores)
    ranks = average_ranks(scores)
    gaps = np.abs(ranks[:, None] - ranks[None, :])
    cd = nemenyi_cd(5, 15)
    off_diagonal = ~np.eye(5, dtype=bool)
    np.testing.assert_array_equal((p < 0.05)[off_diagonal], (gaps > cd)[off_diagonal])
    np.testing.assert_allclose(p, p.T)
    assert np.all(np.diag(p) == 1.0)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: friedman_test(np.ones(4)), "score_matrix"),
        (lambda: friedman_test(np.ones((1, 3))), "datasets"),
        (lambda: friedman_test(np.ones((4, 1))), "algorithms"),
        (lambda: average_ranks([[0.1, np.nan], [0.2, 0.3]]), "score_matrix"),
        (lambda: nemenyi_cd(1, 10), "k"),
        (lambda: nemenyi_cd(3, 0), "n_datasets"),
        (lambda: nemenyi_cd(3, 10, alpha=0), "alpha"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.integers(2, 6), st.integers(0, 10_000))
def test_friedman_properties(n, k, seed):
    scores = np.round(np.random.default_rng(seed).uniform(size=(n, k)), 1)
    result = friedman_test(scores)
    assert 0.0 <= result.pvalue <= 1.0 and result.statistic >= 0
    ranks = result.details["average_ranks"]
    assert ranks.sum() == pytest.approx(k * (k + 1) / 2)
    # Reordering datasets or algorithms (with the ranks) leaves the test unchanged.
    rows, columns = np.random.default_rng(seed + 1).permutation(n), np.random.default_rng(seed + 2).permutation(k)
    reordered = friedman_test(scores[rows][:, columns])
    assert tuple(reordered) == pytest.approx(tuple(result))
    np.testing.assert_allclose(reordered.details["average_ranks"], ranks[columns])
    assert tuple(friedman_test(-scores, higher_is_better=False)) == pytest.approx(tuple(result))
