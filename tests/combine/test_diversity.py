import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy
from sklearn.metrics import log_loss

from diversa.combine.diversity import (
    ambiguity,
    diversity_report,
    dkl_avg,
    ensemble_decomposition,
    ensemble_improvement_rate,
    jensen_gap_ce,
    js_divergence_avg,
    js_divergence_uniform,
    ortega_variance,
    pairwise_disagreement,
)


def _probs(M, n=60, C=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(C), size=(M, n)), rng.integers(0, C, n)


@pytest.mark.parametrize("M", [1, 2, 5])
def test_exact_identities(M):
    P, y = _probs(M)
    for loss in ("ce", "brier", "zero_one"):
        d = ensemble_decomposition(P, y, loss)
        assert d.ensemble_loss == pytest.approx(d.mean_member_loss - d.diversity, abs=1e-12)
    ce = ensemble_decomposition(P, y, "ce")
    np.testing.assert_allclose(ce.per_sample_diversity, jensen_gap_ce(P, y), atol=1e-12)
    br = ensemble_decomposition(P, y, "brier")
    np.testing.assert_allclose(br.per_sample_diversity, ambiguity(P), atol=1e-12)
    # independent (per-sample) check of the Brier identity
    fbar, onehot = P.mean(0), np.eye(4)[y]
    lhs = ((fbar - onehot) ** 2).sum(1)
    rhs = ((P - onehot) ** 2).sum(2).mean(0) - ((P - fbar) ** 2).sum(2).mean(0)
    np.testing.assert_allclose(lhs, rhs, atol=1e-12)
    if M == 1:
        assert ce.diversity == 0 and br.diversity == 0 and pairwise_disagreement(P) == 0


def test_matches_sklearn_and_scipy():
    P, y = _probs(5, seed=1)
    fbar = P.mean(0)
    ce = ensemble_decomposition(P, y, "ce")
    assert ce.ensemble_loss == pytest.approx(log_loss(y, fbar, labels=range(4)), abs=1e-10)
    mean_member = np.mean([log_loss(y, p, labels=range(4)) for p in P])
    assert ce.diversity == pytest.approx(mean_member - log_loss(y, fbar, labels=range(4)), abs=1e-10)
    js = entropy(fbar.T) - np.mean([entropy(p.T) for p in P], axis=0)
    np.testing.assert_allclose(js_divergence_uniform(P), js, atol=1e-10)
    loo = [(P.sum(0) - P[m]) / 4 for m in range(5)]
    ref = np.mean([[jensenshannon(P[m, i], loo[m][i]) ** 2 for i in range(60)] for m in range(5)], axis=0)
    np.testing.assert_allclose(js_divergence_avg(P), ref, atol=1e-10)


def test_nonnegativity_bounds_and_identical_members():
    P, y = _probs(4, seed=2)
    for f in (jensen_gap_ce(P, y), ambiguity(P), js_divergence_uniform(P), js_divergence_avg(P), dkl_avg(P),
              ortega_variance(P, y)):
        assert np.all(f >= -1e-12)
    assert np.all(js_divergence_uniform(P) <= np.log(4) + 1e-12) and np.all(ambiguity(P) <= 2)
    same = np.repeat(P[:1], 3, axis=0)
    assert np.allclose(jensen_gap_ce(same, y), 0) and np.allclose(dkl_avg(same), 0)
    # DIV_CE unbounded while CE(fbar) <= log M
    Q = np.full((2, 1, 2), 0.0)
    Q[0, 0] = [0.0, 1.0]
    Q[1, 0] = [1.0, 0.0]
    assert jensen_gap_ce(Q, np.array([1]))[0] > 10


def test_zero_one_gap_can_be_negative_and_disagreement():
    # members each right on a different sample, ensemble average picks the wrong class everywhere
    P = np.array([[[0.6, 0.4, 0.0], [0.0, 0.0, 1.0]], [[0.0, 0.0, 1.0], [0.6, 0.4, 0.0]],
                  [[0.0, 0.55, 0.45], [0.0, 0.55, 0.45]]])
    y = np.array([0, 0])
    d = ensemble_decomposition(P, y, "zero_one")
    assert d.diversity < 0
    assert 0 <= pairwise_disagreement(P) <= 1
    assert pairwise_disagreement(P[::-1]) == pairwise_disagreement(P)
    rep = diversity_report(*_probs(3))
    assert set(rep) >= {"ce_diversity", "brier_diversity", "disagreement", "js_uniform"}
    assert np.isfinite(ensemble_improvement_rate(*_probs(3)))


def test_bad_input():
    P, y = _probs(2)
    with pytest.raises(ValueError, match="softmax"):
        ensemble_decomposition(P * 2, y)
    with pytest.raises(ValueError, match="y"):
        ensemble_decomposition(P, y + 10)
    with pytest.raises(ValueError, match="y"):
        ensemble_decomposition(P, y[:5])
    with pytest.raises(ValueError, match="probs"):
        ambiguity(P[0])
    with pytest.raises(ValueError, match="loss"):
        ensemble_decomposition(P, y, "hinge")
