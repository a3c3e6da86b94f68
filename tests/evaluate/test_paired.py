import numpy as np
import pytest
from scipy import stats

from diversa.evaluate.paired import (
    bootstrap_mean_ci,
    corrected_t_test,
    minimum_detectable_effect,
    sign_flip_test,
    t_mean_ci,
    wilcoxon_signed_rank,
)


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


def _brute_force_sign_flip(d, alternative):
    import itertools

    sums = np.array([np.dot(signs, d) for signs in itertools.product((-1, 1), repeat=len(d))])
    observed = d.sum()
    if alternative == "greater":
        return np.mean(sums >= observed - 1e-12)
    if alternative == "less":
        return np.mean(sums <= observed + 1e-12)
    return np.mean(np.abs(sums) >= abs(observed) - 1e-12)


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize("seed", range(4))
def test_sign_flip_equals_full_enumeration(alternative, seed):
    rng = np.random.default_rng(seed)
    d = rng.normal(0.2, 1.0, size=9 + seed)
    if seed % 2:
        d = np.round(d * 4) / 4  # ties and exact zeros
    assert sign_flip_test(d, alternative).pvalue == pytest.approx(_brute_force_sign_flip(d, alternative))


def test_sign_flip_is_exact_under_ties_on_every_scipy():
    # Four identical positive differences: exactly 1/16, where old scipy's Wilcoxon said 0.023.
    assert sign_flip_test([0.5, 0.5, 0.5, 0.5]).pvalue == pytest.approx(1 / 16)
    assert sign_flip_test(np.zeros(6)).pvalue == 1.0
    assert sign_flip_test([0.25, 0.0, 0.25, 0.5], "two-sided").pvalue == pytest.approx(4 / 16)


def test_sign_flip_monte_carlo_beyond_twenty_units_agrees_with_the_t_test():
    d = np.random.default_rng(9).normal(0.3, 1.0, size=60)
    mc = sign_flip_test(d, n_resamples=50_000, random_state=1).pvalue
    t = stats.ttest_1samp(d, 0.0, alternative="greater").pvalue
    assert mc == pytest.approx(t, abs=0.01)
    assert sign_flip_test(d, random_state=1) == sign_flip_test(d, random_state=1)


@pytest.mark.parametrize("n", [5, 8, 10])
def test_t_interval_covers_at_the_nominal_rate_where_the_bootstrap_does_not(n):
    rng = np.random.default_rng(n)
    samples = rng.normal(0.3, 1.0, size=(2000, n))
    t_cover = np.mean([lo <= 0.3 <= hi for _, lo, hi in (t_mean_ci(s) for s in samples)])
    assert abs(t_cover - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / 2000)
    if n == 5:
        boot = [bootstrap_mean_ci(s, n_resamples=400, random_state=0) for s in samples[:500]]
        assert np.mean([b.low <= 0.3 <= b.high for b in boot]) < 0.92


def test_corrected_t_test_reduces_to_scipy_and_widens_with_overlap():
    d = np.random.default_rng(2).normal(0.2, 1.0, size=12)
    plain = corrected_t_test(d, "two-sided")
    expected = stats.ttest_1samp(d, 0.0)
    assert plain.statistic == pytest.approx(expected.statistic) and plain.pvalue == pytest.approx(expected.pvalue)
    corrected = corrected_t_test(d, "greater", test_over_train=0.25)
    assert corrected.pvalue > corrected_t_test(d, "greater").pvalue
    assert corrected_t_test(np.full(5, 0.1), "greater").pvalue == 0.0
    assert corrected_t_test(np.zeros(5), "greater").pvalue == 1.0


def test_minimum_detectable_effect_gives_the_stated_power():
    n, sd = 12, 2.0
    mde = minimum_detectable_effect(sd, n)
    critical = stats.t.ppf(0.95, n - 1)
    assert stats.nct.sf(critical, n - 1, mde / (sd / np.sqrt(n))) == pytest.approx(0.8, abs=1e-6)
    assert minimum_detectable_effect(sd, n, test_over_train=0.25) > mde
    assert minimum_detectable_effect(sd, 4) == float("inf")  # 2^-4 > 0.05: never significant
    assert minimum_detectable_effect(0.0, 8) == 0.0
