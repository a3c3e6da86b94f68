import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from diversa.data.select import (
    KCenterGreedySelector,
    KMQSelector,
    RandomSelector,
    StratifiedDomainSelector,
    TopQualitySelector,
    allocate_budget,
    resolve_budget,
)


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8))
    quality = rng.normal(size=400)
    domains = rng.choice(["a", "b", "c"], size=400, p=[0.6, 0.3, 0.1])
    return X, quality, domains


# TopQualitySelector and StratifiedDomainSelector need quality/domains, which the generic checks never pass
@parametrize_with_checks([RandomSelector(random_state=0),
                          KMQSelector(2, within="random", kmeans_n_init=1, random_state=0),
                          KCenterGreedySelector(random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_resolve_budget():
    assert resolve_budget(0.1, 1000) == 100 and resolve_budget(7, 10) == 7 and resolve_budget(1e-9, 10) == 1
    for bad in (0, 11, 0.0, 1.5, -3):
        with pytest.raises(ValueError, match="budget"):
            resolve_budget(bad, 10)
    with pytest.raises(TypeError, match="budget"):
        resolve_budget("10%", 10)


def test_allocate_budget_is_exact_and_capped():
    rng = np.random.default_rng(1)
    for _ in range(300):
        sizes = rng.integers(0, 30, size=rng.integers(1, 12))
        if sizes.sum() == 0:
            continue
        b = int(rng.integers(0, sizes.sum() + 1))
        for mode in ("equal", "proportional"):
            alloc = allocate_budget(sizes, b, mode)
            assert alloc.sum() == b and np.all(alloc <= sizes) and np.all(alloc >= 0)
    assert allocate_budget([10, 10, 10], 9).tolist() == [3, 3, 3]
    assert allocate_budget([1, 20, 20], 9).tolist() == [1, 4, 4]
    assert allocate_budget([10, 30, 60], 10, "proportional").tolist() == [1, 3, 6]
    with pytest.raises(ValueError, match="budget"):
        allocate_budget([1, 2], 4)
    with pytest.raises(ValueError, match="mode"):
        allocate_budget([1, 2], 1, "bogus")


@pytest.mark.parametrize("selector", [RandomSelector(random_state=3), TopQualitySelector(),
                                      StratifiedDomainSelector(random_state=3),
                                      StratifiedDomainSelector(allocation="equal", within="quality"),
                                      KCenterGreedySelector(random_state=3)])
def test_budget_no_duplicates_and_determinism(selector, pool):
    X, quality, domains = pool
    idx = selector.fit_select(X, 0.25, quality=quality, domains=domains)
    assert idx.dtype == np.int64 and len(idx) == 100 and len(np.unique(idx)) == 100
    assert idx.min() >= 0 and idx.max() < 400
    assert np.array_equal(idx, selector.select(100))


def test_top_quality_and_stratified_semantics(pool):
    X, quality, domains = pool
    top = TopQualitySelector().fit_select(X, 40, quality=quality)
    assert quality[top].min() >= np.sort(quality)[-40]
    strat = StratifiedDomainSelector(random_state=0).fit_select(X, 100, domains=domains)
    share = {d: np.mean(domains[strat] == d) for d in "abc"}
    pool_share = {d: np.mean(domains == d) for d in "abc"}
    assert all(abs(share[d] - pool_share[d]) <= 0.011 for d in "abc")
    equal = StratifiedDomainSelector(allocation="equal", random_state=0).fit_select(X, 60, domains=domains)
    assert [int(np.sum(domains[equal] == d)) for d in "abc"] == [20, 20, 20]
    a = RandomSelector(random_state=1).fit_select(X, 50)
    assert not np.array_equal(a, RandomSelector(random_state=2).fit_select(X, 50))


def test_kcenter_covers_far_points():
    X = np.vstack([np.zeros((50, 2)), [[100.0, 0.0]], [[0.0, 100.0]]])
    idx = KCenterGreedySelector(random_state=0).fit_select(X, 3)
    assert {50, 51} <= set(idx.tolist())


def test_bad_input_names_the_argument(pool):
    X, quality, domains = pool
    with pytest.raises(ValueError, match="quality"):
        TopQualitySelector().fit(X)
    with pytest.raises(ValueError, match="quality"):
        TopQualitySelector().fit(X, quality=quality[:10])
    bad = quality.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="quality"):
        TopQualitySelector().fit(X, quality=bad)
    with pytest.raises(ValueError, match="domains"):
        StratifiedDomainSelector().fit(X)
    with pytest.raises(ValueError, match="X"):
        RandomSelector().fit(np.ones(5))
    with pytest.raises(ValueError, match="budget"):
        RandomSelector().fit(X).select(401)
    with pytest.raises(ValueError, match="allocation"):
        StratifiedDomainSelector(allocation="x").fit(X, domains=domains)


def test_gumbel_top_k_draws_without_replacement_in_proportion():
    from diversa.data.select import gumbel_top_k

    w = np.array([0.5, 0.3, 0.15, 0.05])
    rng = np.random.RandomState(0)
    draws = np.array([gumbel_top_k(np.log(w), 4, rng) for _ in range(4000)])
    assert all(len(set(d.tolist())) == 4 for d in draws[:50])
    # the first draw follows p = w; the second, given the first was 0, follows w[1:] / 0.5
    np.testing.assert_allclose(np.bincount(draws[:, 0], minlength=4) / 4000, w, atol=0.025)
    second = draws[draws[:, 0] == 0, 1]
    np.testing.assert_allclose(np.bincount(second, minlength=4)[1:] / second.size, w[1:] / 0.5, atol=0.04)
    np.testing.assert_array_equal(gumbel_top_k(np.zeros(10), 3, 7), gumbel_top_k(np.zeros(10), 3, 7))
    with pytest.raises(ValueError, match="k must"):
        gumbel_top_k(np.zeros(3), 4)
    with pytest.raises(ValueError, match="log_weights"):
        gumbel_top_k(np.zeros((2, 2)), 1)
