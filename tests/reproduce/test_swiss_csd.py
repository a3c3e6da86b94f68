"""The swiss-csd reproduction: fresh leaderboards, its regime and mechanisms on short units, the verdict path."""

from types import SimpleNamespace

import numpy as np
import pytest

from diversa.reproduce import registry, swiss_csd
from diversa.reproduce.runner import summarize


@pytest.fixture
def short(monkeypatch):
    """Fewer tournaments and a small stand-in for the classifier leaderboard of trial 0's diagnostics."""
    rng = np.random.default_rng(0)
    stand_in = (rng.uniform(0.5, 1.0, (10, 13)), tuple(f"clf{i}" for i in range(10)),
                tuple(f"data{k}" for k in range(13)))
    monkeypatch.setattr(swiss_csd, "real_leaderboard", lambda: stand_in)
    monkeypatch.setitem(swiss_csd.N_SIMS, True, 3_000)
    monkeypatch.setitem(swiss_csd.BOOTSTRAP_REPS, True, 4)
    monkeypatch.setattr(swiss_csd, "BOOTSTRAP_SIMS", 300)


def test_each_unit_draws_a_fresh_leaderboard_and_only_its_twin_is_planted():
    plain, planted = swiss_csd.synthetic_leaderboard(3, planted=False), swiss_csd.synthetic_leaderboard(3)
    assert plain.shape == (29, 38)
    assert not np.allclose(plain, swiss_csd.synthetic_leaderboard(4, planted=False))
    np.testing.assert_array_equal(plain[6:], planted[6:])  # the same stream; only the planted rows differ
    assert not np.allclose(plain[:6], planted[:6])
    early, late = slice(0, 20), slice(20, 38)
    specialists, generalists = list(swiss_csd.SPECIALISTS), list(swiss_csd.GENERALISTS)
    assert planted[specialists, late].mean() > planted[specialists, early].mean() + 0.3
    assert abs(planted[generalists, late].mean() - planted[generalists, early].mean()) < 0.15


def test_short_units_are_in_regime_and_show_the_mechanisms(short):
    # Each could fail: a zeroing that leaves the average unmoved, specialists that keep their wins under
    # elimination, Monte Carlo rankings no more stable than single tournaments.
    for seed in (1, 2):
        pairs = swiss_csd.run_trial(seed, quick=True).pairs
        assert pairs["outlier-moves-average"][1] > 0
        generalists, specialists = pairs["failure-sensitivity"]
        assert specialists < generalists
        single, many = pairs["mc-stability"]
        assert single < many


def test_real_leaderboard_diagnostics_on_trial_zero(short):
    real = swiss_csd.run_trial(0, quick=True).diagnostics["real_data"]
    low, high = real["float"]["rank_90ci"]
    assert all(a <= b for a, b in zip(low, high))
    assert len(real["outlier"]["cases"]) == swiss_csd.OUTLIER_CASES


def test_a_ranking_that_is_the_average_is_not_called_robust(short, monkeypatch):
    """Replace CSD by the mean score itself: the same drops, so the headline must not be supported."""
    def average_as_csd(scores, pairing, quick, seed, **kwargs):
        return SimpleNamespace(expected_win_score_=np.asarray(scores).mean(axis=1),
                               mc_se_=np.zeros(len(scores)))

    monkeypatch.setattr(swiss_csd, "_csd", average_as_csd)
    trials = {seed: swiss_csd.run_trial(seed, quick=True) for seed in range(1, 9)}
    result = summarize(swiss_csd.REPRODUCTION, True, trials)
    assert result.verdict == "inconclusive"
    assert result.headline.evidence.mean_diff == 0.0
    regime = next(c for c in result.checks if c.check.name == "outlier-moves-average")
    assert regime.outcome == "pass"


def test_outlier_drops_on_a_hand_computed_leaderboard():
    scores = np.linspace(1.0, 0.1, 8)[:, None] + np.zeros((8, 6))
    zeroed = swiss_csd.zero_out(scores, 2, [0, 3])
    assert zeroed[2, 0] == zeroed[2, 3] == 0.0 and scores[2, 0] > 0
    drops = swiss_csd.outlier_drops(scores, 2, [0, 3], quick=True, seed=0)
    # mean 0.743 -> 0.495 passes model 3 (0.614) but stays above model 4 (0.486): one place down
    assert drops["mean_score"] == 1.0
    assert set(drops) == {"within_group", "float", "mean_score", "mean_rank"}


def test_failed_fit_scores_zero():
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    X = np.random.default_rng(0).random((8, 20))
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    idx = np.arange(8)
    assert swiss_csd._fold_accuracy(QuadraticDiscriminantAnalysis(), X, y, idx, idx) == 0.0


def test_registered_with_one_headline_and_independent_units():
    reproduction = registry.get("swiss-csd")
    assert reproduction is swiss_csd.REPRODUCTION and reproduction.unit.kind == "independent"
    assert reproduction.headline == "outlier-robustness"
    assert {c.name for c in reproduction.checks_of_kind("claim")} == {"outlier-robustness"}
