"""pathologies: fair opportunity-cost baseline, the regime holds on a short testbed, the arms are paired."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from diversa.learners.diverse_ensemble import DiverseEnsembleClassifier

from diversa.reproduce import pathologies
from diversa.reproduce.runner import summarize

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture
def short(monkeypatch, one_thread):
    monkeypatch.setattr(pathologies, "EPOCHS", 60)
    monkeypatch.setattr(pathologies, "N_TRAIN", 100)
    monkeypatch.setattr(pathologies, "N_VAL", 100)
    monkeypatch.setattr(pathologies, "GAMMAS", (-1.0, 0.0, 1.0))


def test_homogeneous_baseline_has_no_more_parameters_than_the_heterogeneous_ensemble():
    # Counted on the trained models themselves: fails if the formula and the real ensembles disagree.
    X, y = load_digits(return_X_y=True)

    def count(width, members):
        clf = DiverseEnsembleClassifier(n_members=members, hidden=(width,), epochs=0, random_state=0).fit(X, y)
        return sum(p.numel() for p in clf.model_.parameters())

    assert all(count(w, 1) == pathologies.mlp_parameters(w) for w in pathologies.HETERO_WIDTHS)
    assert count(pathologies.matched_width(), pathologies.M) == 4240
    budget = sum(pathologies.mlp_parameters(w) for w in pathologies.HETERO_WIDTHS)
    width = pathologies.matched_width()
    assert budget == 4465 and width == 14
    total = pathologies.M * pathologies.mlp_parameters(width)
    assert total == 4240 <= budget < pathologies.M * pathologies.mlp_parameters(width + 1)


def test_regime_holds_on_a_short_testbed(short):
    # Fails if the wide members did not interpolate their training images, if the two widths did not
    # differ in capacity, or if the heterogeneous ensemble were not the more diverse one.
    trials = {seed: pathologies.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(pathologies.REPRODUCTION, True, trials).checks}
    for name in ("capacity-gap", "high-capacity-interpolates", "hetero-more-diverse"):
        assert outcomes[name] == "pass", name


def test_without_the_gamma_objective_the_headline_measures_nothing(short, monkeypatch):
    # Both arms share seed, data and training: an objective that ignores gamma must give identical
    # ensembles, so any headline effect can only come from gamma (fails if the arms differed otherwise).
    monkeypatch.setattr(pathologies, "EPOCHS", 20)
    train = pathologies.train_ensemble
    monkeypatch.setattr(pathologies, "train_ensemble", lambda X, y, w, m, gamma, seed: train(X, y, w, m, 0.0, seed))
    trials = {seed: pathologies.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(pathologies.REPRODUCTION, True, trials)
    assert np.all(np.array(result.headline.baseline_values) == np.array(result.headline.method_values))
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"
