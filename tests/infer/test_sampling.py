import numpy as np
import pytest
from scipy.stats import chisquare

from diversa.infer.sampling import (
    hedged_pool,
    hope_and_risk,
    min_p_filter,
    mixture_temperatures,
    temperature_sample,
)


def test_temperature_zero_is_argmax_and_one_is_softmax():
    logits = np.array([[0.1, 2.0, -1.0, 0.5]])
    np.testing.assert_array_equal(temperature_sample(logits, 0.0, 4), [[1, 1, 1, 1]])
    ids = temperature_sample(logits[0], 1.0, 10000, generator=0)
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    counts = np.bincount(ids, minlength=4)
    assert chisquare(counts, p * 10000).pvalue > 0.001
    assert ids.shape == (10000,)


def test_min_p_keeps_argmax_and_renormalises():
    P = np.array([[0.5, 0.3, 0.04, 0.16], [0.97, 0.01, 0.01, 0.01]])
    F = min_p_filter(P, 0.1)
    np.testing.assert_allclose(F.sum(1), 1.0)
    assert F[0, 2] == 0 and F[0, 0] > 0.5 and F[1, 0] == 1.0
    ids = temperature_sample(np.log(P[1]), 1.0, 200, min_p=0.1, generator=1)
    assert np.all(ids == 0)


def test_hedged_pool_and_mixture():
    def sample_fn(tau, k):
        return ["greedy"] * k if tau == 0 else [f"s{tau}"] * k
    pool = hedged_pool(sample_fn, n=5, temperature=0.7)
    assert pool[0] == "greedy" and len(pool) == 5 and pool[1] == "s0.7"
    assert hedged_pool(sample_fn, n=1) == ["greedy"]
    assert "greedy" not in hedged_pool(sample_fn, n=3, include_greedy=False)
    np.testing.assert_allclose(mixture_temperatures((0.3, 0.7, 1.0), 5), [0.3, 0.7, 1.0, 0.3, 0.7])


def test_hope_and_risk_signs():
    rng = np.random.default_rng(0)
    q = rng.random((30, 5))
    hr = hope_and_risk(q, q[:, 0])
    assert hr.hope >= 0 >= hr.risk
    assert hr.rel_hope == pytest.approx(hr.hope / q[:, 0].mean())


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        temperature_sample(np.zeros(3), -0.5, 2)
    with pytest.raises(ValueError, match="n"):
        temperature_sample(np.zeros(3), 1.0, 0)
    with pytest.raises(ValueError, match="min_p"):
        min_p_filter(np.ones(3) / 3, 1.5)
    with pytest.raises(ValueError, match="quality"):
        hope_and_risk(np.zeros(3), np.zeros(3))
