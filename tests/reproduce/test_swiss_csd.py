"""The swiss-csd reproduction: one reduced trial returns a sane pair for every check."""

import math

import numpy as np
import pytest

from diversa.reproduce import registry, swiss_csd


@pytest.fixture
def reduced(monkeypatch):
    """Fewer tournaments and a small stand-in for the 26-second classifier leaderboard."""
    rng = np.random.default_rng(0)
    stand_in = (rng.uniform(0.5, 1.0, (10, 13)), tuple(f"clf{i}" for i in range(10)),
                tuple(f"data{k}" for k in range(13)))
    monkeypatch.setattr(swiss_csd, "real_leaderboard", lambda: stand_in)
    monkeypatch.setitem(swiss_csd.N_SIMS, True, 2_000)
    monkeypatch.setitem(swiss_csd.BOOTSTRAP_REPS, True, 4)
    monkeypatch.setattr(swiss_csd, "BOOTSTRAP_SIMS", 300)


def test_trial_returns_a_finite_pair_for_every_check(reduced):
    result = swiss_csd.run_trial(0, quick=True)
    names = {check.name for check in swiss_csd.REPRODUCTION.checks}
    assert set(result.pairs) == names
    assert all(len(pair) == 2 and all(math.isfinite(v) for v in pair) for pair in result.pairs.values())
    m = swiss_csd.N_MODELS
    for name in ("outlier-robustness", "outlier-robustness-real"):
        assert all(-m <= drop <= m for drop in result.pairs[name])
    assert all(0 <= rho <= 2 for rho in result.pairs["failure-sensitivity"])
    assert all(1 <= rank <= m for rank in result.pairs["path-dependence"])
    assert all(-1 <= tau <= 1 for tau in result.pairs["mc-stability"] + result.pairs["distinct-from-mean"])
    assert result.pairs["mc-precision"][0] == swiss_csd.MC_SE_TARGET[True]
    assert 0 < result.pairs["mc-precision"][1] < 1
    real = result.diagnostics["real_data"]
    assert len(real["within_group"]["rank"]) == 10
    low, high = real["float"]["rank_90ci"]
    assert all(a <= b for a, b in zip(low, high))


def test_synthetic_leaderboard_plants_generalists_and_specialists():
    scores = swiss_csd.synthetic_leaderboard(3)
    assert scores.shape == (29, 38) and np.all((scores > 0) & (scores < 1))
    early, late = slice(0, 20), slice(20, 38)
    specialists, generalists = list(swiss_csd.SPECIALISTS), list(swiss_csd.GENERALISTS)
    assert scores[specialists, late].mean() > scores[specialists, early].mean() + 0.3
    assert abs(scores[generalists, late].mean() - scores[generalists, early].mean()) < 0.15
    np.testing.assert_array_equal(scores, swiss_csd.synthetic_leaderboard(3))


def test_outlier_drops_and_zero_out():
    scores = np.linspace(1.0, 0.1, 8)[:, None] + np.zeros((8, 6))
    zeroed = swiss_csd.zero_out(scores, 2, [0, 3])
    assert zeroed[2, 0] == zeroed[2, 3] == 0.0 and scores[2, 0] > 0
    drops = swiss_csd.outlier_drops(scores, 2, [0, 3], quick=True, seed=0)
    assert set(drops) == {"within_group", "float", "mean_score", "mean_rank"}
    assert drops["mean_score"] > 0


def test_failed_fit_scores_zero():
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    X = np.random.default_rng(0).random((8, 20))
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    idx = np.arange(8)
    assert swiss_csd._fold_accuracy(QuadraticDiscriminantAnalysis(), X, y, idx, idx) == 0.0


def test_registered_and_discoverable():
    reproduction = registry.get("swiss-csd")
    assert reproduction is swiss_csd.REPRODUCTION
    assert reproduction.arxiv == "2512.21010" and reproduction.quick_trials >= 5
