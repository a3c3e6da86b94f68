import numpy as np
import pytest
from scipy.stats import rankdata

from diversa.data.select import (
    QuaDMixParams,
    QuaDMixSearch,
    QuaDMixSelector,
    quadmix_sampling_values,
    realize_counts,
    sample_quadmix_params,
    sampling_function,
)
from diversa.data.select.quadmix import merged_rank


def test_sampling_function_identities():
    r = np.linspace(0, 0.2, 41)
    S = sampling_function(r, 50.0, 0.1, 0.7, 1e-4)
    assert np.all(np.diff(S) <= 1e-12)
    assert np.allclose(S[r > 0.1], 1e-4)
    assert np.isclose(sampling_function(0.1, 50.0, 0.1, 0.7, 1e-4), 1 + 1e-4)
    assert np.isclose(sampling_function(0.0, 1e6, 0.1, 0.7, 1e-4), 2 ** 0.7 + 1e-4)


def test_merged_rank_is_token_weighted_with_max_ties():
    q = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    d = np.zeros(5, dtype=int)
    assert np.allclose(merged_rank(q, d), rankdata(q, method="max") / 5)
    tokens = np.array([1, 1, 1, 1, 96.0])
    assert np.isclose(merged_rank(q, d, tokens)[4], 1.0) and np.isclose(merged_rank(q, d, tokens)[1], 0.01)


def test_prior_ranges_and_vector_round_trip():
    draws = sample_quadmix_params(3, 4, 200, random_state=0)
    for th in draws:
        assert np.allclose(th.alpha.sum(axis=1), 1) and np.all(th.alpha >= 0)
        assert np.all((0 <= th.omega) & (th.omega <= 0.1)) and np.all((0 <= th.eps) & (th.eps <= 1e-3))
        assert np.all((0 <= th.lam) & (th.lam <= 1000))
        back = QuaDMixParams.from_vector(th.to_vector(), 3, 4)
        assert np.array_equal(back.to_vector(), th.to_vector())
    logs = sample_quadmix_params(3, 4, 50, lambda_scale="log", random_state=0)
    assert all(np.all((1 <= th.lam) & (th.lam <= 1000)) for th in logs)


def test_realize_counts_mean():
    S = np.array([0.3, 1.5, 2.9, 0.0])
    mean = np.mean([realize_counts(S, seed) for seed in range(3000)], axis=0)
    assert np.allclose(mean, S, atol=0.03)


def test_orientation_best_documents_are_kept():
    rng = np.random.default_rng(0)
    quality = rng.normal(size=(500, 2))
    domains = rng.integers(0, 2, size=500)
    th = QuaDMixParams(np.full((2, 2), 0.5), np.full(2, 100.0), np.full(2, 0.1), np.full(2, 1.0), np.zeros(2))
    sel = QuaDMixSelector(th, random_state=0).fit(quality=quality, domains=domains)
    kept = sel.sampling_values_ > 0
    merged = quality.mean(axis=1)
    assert merged[kept].min() > np.quantile(merged, 0.75)  # only the top ~10% per domain survive
    idx = sel.select(100)
    assert len(idx) == 100 and sel.counts_.sum() == 100 and np.all(kept[idx])
    assert np.array_equal(idx, sel.select(100))
    S = quadmix_sampling_values(-quality, domains, th)
    assert np.allclose(S, sel.sampling_values_)


def test_search_finds_low_loss_parameters():
    rng = np.random.default_rng(0)
    quality = rng.normal(size=(300, 2))
    domains = rng.integers(0, 2, size=300)

    def proxy(counts):  # loss falls with the share of domain-0 documents of high first criterion
        good = (domains == 0) & (quality[:, 0] > 0)
        return 1.0 - counts[good].sum() / max(counts.sum(), 1)

    search = QuaDMixSearch(n_proxies=150, n_candidates=2000, top_k=5, random_state=0).run(
        quality, domains, proxy, quota=60)
    assert search.losses_.shape == (150,) and search.thetas_.shape == (150, 12)
    assert search.regressor_spearman_ > 0.3
    assert search.predicted_best_loss_ < np.median(search.losses_)
    assert np.allclose(search.theta_star_.alpha.sum(axis=1), 1)
    assert len(search.selector(random_state=0).fit(quality=quality, domains=domains).select(60)) == 60


def test_bad_input_names_the_argument():
    th = sample_quadmix_params(2, 2, random_state=0)[0]
    q = np.zeros((10, 2))
    with pytest.raises(ValueError, match="domains"):
        quadmix_sampling_values(q, np.full(10, 5), th)
    with pytest.raises(ValueError, match="criteria"):
        quadmix_sampling_values(np.zeros((10, 3)), np.zeros(10, dtype=int), th)
    with pytest.raises(ValueError, match="tokens"):
        quadmix_sampling_values(q, np.zeros(10, dtype=int), th, tokens=-np.ones(10))
    with pytest.raises(ValueError, match="quality"):
        QuaDMixSelector(th).fit(domains=np.zeros(10))
    with pytest.raises(ValueError, match="n_proxies"):
        QuaDMixSearch(n_proxies=2).run(q, np.zeros(10, dtype=int), lambda c: 0.0)
    with pytest.raises(ValueError, match="v must"):
        QuaDMixParams.from_vector(np.zeros(5), 2, 2)
