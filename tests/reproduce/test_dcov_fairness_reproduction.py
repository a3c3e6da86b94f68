"""dcov-fairness: the regime holds on a short testbed, and identical arms give a null headline."""

import numpy as np
import pytest

from diversa.reproduce import dcov_fairness
from diversa.reproduce.runner import summarize

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture
def short(monkeypatch, one_thread):
    monkeypatch.setattr(dcov_fairness, "N_TRAIN", 300)
    monkeypatch.setattr(dcov_fairness, "N_VAL", 300)
    monkeypatch.setattr(dcov_fairness, "N_TEST", 600)
    monkeypatch.setattr(dcov_fairness, "EPOCHS", 20)
    monkeypatch.setattr(dcov_fairness, "BATCH", 150)
    monkeypatch.setattr(dcov_fairness, "EG_ITER", 1)
    monkeypatch.setattr(dcov_fairness, "LAMBDAS", (0.0, 100.0))


def test_expgrad_baseline_runs_on_the_intersections(short):
    splits = dcov_fairness._split(0, quick=True)
    scores = dcov_fairness.fit_expgrad(0.05, 0, splits["train"])
    p = scores.positive_probability(splits["test"].X)
    assert p.shape == (600,) and np.all((p >= 0) & (p <= 1))


def test_intersectional_groups_are_the_24_cells():
    data = dcov_fairness.make_gerrymandered(3000, random_state=0)
    assert len(set(dcov_fairness.groups_of(data.sensitive))) == 24


def test_regime_holds_on_a_short_testbed(short, monkeypatch):
    # Fails if the unpenalised model did not depend on the intersection, or if the sum-of-marginals penalty
    # (largest lambda) also removed the intersection or failed to make predictions marginally fair.
    monkeypatch.setattr(dcov_fairness, "EG_BOUNDS", ())  # not needed here: saves its trainings
    trials = {seed: dcov_fairness.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(dcov_fairness.REPRODUCTION, True, trials).checks}
    for name in ("unconstrained-unfair", "gerrymandering-present", "sum-lowers-marginal-dcor"):
        assert outcomes[name] == "pass", name


def test_without_the_penalties_the_headline_measures_nothing(short, monkeypatch):
    # Every arm returns the seed's unpenalised model: the lambda choices and the arms coincide, so any
    # headline effect could only come from the penalties (fails if the arms differed otherwise).
    fit, cache = dcov_fairness.fit_arm, {}

    def unpenalised(penalty, lam, seed, train):
        if seed not in cache:
            cache[seed] = fit("ccdcov", 0.0, seed, train)
        return cache[seed]

    monkeypatch.setattr(dcov_fairness, "fit_arm", unpenalised)
    monkeypatch.setattr(dcov_fairness, "fit_expgrad", lambda bound, seed, train: unpenalised("", 0.0, seed, train))
    trials = {seed: dcov_fairness.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(dcov_fairness.REPRODUCTION, True, trials)
    assert np.all(np.array(result.headline.baseline_values) == np.array(result.headline.method_values))
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"
