import numpy as np
import pytest
from scipy import stats

from diversa.evaluate.paired import bootstrap_mean_ci, wilcoxon_signed_rank


def test_wilcoxon_matches_scipy_and_unpacks():
    d = np.array([0.3, -0.1, 0.5, 0.8, 0.2, 0.05, -0.02, 0.4])
    stat, p = wilcoxon_signed_rank(d, alternative="greater")
    expected = stats.wilcoxon(d, alternative="greater")
    assert stat == pytest.approx(expected.statistic) and p == pytest.approx(expected.pvalue)


def test_wilcoxon_all_zero_differences_has_p_one():
    assert wilcoxon_signed_rank(np.zeros(6), alternative="greater").pvalue == 1.0


def test_wilcoxon_smallest_exact_p_is_two_to_minus_n():
    assert wilcoxon_signed_rank(np.arange(1, 9) * 0.1, alternative="greater").pvalue == pytest.approx(1 / 256)


def test_bootstrap_ci_contains_mean_and_is_reproducible():
    d = np.random.default_rng(0).normal(1.0, 1.0, size=30)
    ci = bootstrap_mean_ci(d, random_state=4)
    assert ci.low < ci.mean < ci.high
    assert ci == bootstrap_mean_ci(d, random_state=4)
    assert ci.mean == pytest.approx(d.mean())
    wide = bootstrap_mean_ci(d, confidence=0.99, random_state=4)
    assert wide.low <= ci.low and wide.high >= ci.high


@pytest.mark.parametrize("bad,argument", [([], "differences"), ([1.0, np.nan], "differences")])
def test_bad_differences(bad, argument):
    with pytest.raises(ValueError, match=argument):
        bootstrap_mean_ci(bad)
    with pytest.raises(ValueError, match=argument):
        wilcoxon_signed_rank(bad)


def test_bad_options():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_mean_ci([1.0, 2.0], confidence=1.5)
    with pytest.raises(ValueError, match="alternative"):
        wilcoxon_signed_rank([1.0, 2.0], alternative="bigger")


def test_bootstrap_mean_ci_agrees_with_the_generic_bootstrap():
    from diversa.evaluate.bootstrap_intervals import bootstrap_statistic

    d = np.random.default_rng(1).normal(0.2, 1.0, size=25)
    fast = bootstrap_mean_ci(d, n_resamples=500, random_state=3)
    generic = bootstrap_statistic(d, np.mean, n_rounds=500, alpha=0.05, random_state=3)
    assert fast.mean == pytest.approx(generic.original)
    assert (fast.low, fast.high) == pytest.approx(tuple(generic.ci), abs=1e-12)
