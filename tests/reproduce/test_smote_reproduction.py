"""smote reproduction: units are what they are declared to be, and an over-sampler that adds wrong
minority rows is contradicted by the verdict rule on a shortened testbed."""

import numpy as np
import pytest

from diversa.reproduce import get, smote
from diversa.reproduce.verdict import judge, oriented_differences


class _RelabelledMajority:
    """A broken over-sampler: instead of interpolating between minority rows it adds copies of
    majority rows labelled minority (as many as SMOTE would add)."""

    def __init__(self, *, percentage, minority_label, random_state):
        self.percentage, self.minority_label, self.random_state = percentage, minority_label, random_state

    def fit_resample(self, X, y):
        rng = np.random.default_rng(self.random_state)
        n_new = round(self.percentage / 100 * np.sum(y == self.minority_label))
        rows = rng.choice(np.flatnonzero(y != self.minority_label), n_new)
        return np.vstack([X, X[rows]]), np.concatenate([y, np.full(n_new, self.minority_label)])


@pytest.fixture
def shortened(monkeypatch):
    """One synthetic data set and four under-sampling levels: about a second per unit."""
    monkeypatch.setattr(smote, "DATASETS", ("synthetic_5pct",))
    monkeypatch.setattr(smote, "UNDER_LEVELS", (25, 100, 400, 1000))


def test_registered_with_a_pooled_headline_and_the_hull_rule_as_a_claim():
    reproduction = get("smote")
    assert reproduction.headline == "auc" and reproduction.unit.kind == "resampled"
    assert reproduction.unit.test_over_train == pytest.approx(1 / (smote.N_FOLDS - 1))
    assert {c.name for c in reproduction.checks_of_kind("claim")} == {"auc", "hull-majority"}


def test_units_draw_fresh_synthetic_data_and_reuse_the_fixed_sets():
    first, second = smote.load_dataset("synthetic_2pct", 0), smote.load_dataset("synthetic_2pct", 1)
    assert not np.array_equal(first[0], second[0])
    assert np.array_equal(smote.load_dataset("breast_cancer", 0)[0], smote.load_dataset("breast_cancer", 5)[0])
    # No synthetic sample is used twice: draws differ across the data sets of a unit and across units.
    draws = [draw for seed in range(20) for draw in smote.unit_draws(seed).values()]
    assert len(set(draws)) == len(draws)


def test_wrong_minority_rows_are_contradicted(shortened, monkeypatch):
    monkeypatch.setattr(smote, "SMOTE", _RelabelledMajority)
    trials = [smote.run_trial(seed, quick=True) for seed in range(6)]
    checks = [c for c in smote.REPRODUCTION.checks if c.kind == "claim"]
    differences = {c.name: oriented_differences(*np.array([t.pairs[c.name] for t in trials]).T, c.direction)
                   for c in checks}
    outcome = judge(checks, differences, headline="auc", unit=smote.REPRODUCTION.unit)
    assert outcome["auc"].outcome == "contradicted"
    assert outcome["hull-majority"].outcome != "supported"
    # Relabelled majority rows never make SMOTE+Under the hull majority.
    assert all(t.pairs["hull-majority"][1] == 0 for t in trials)
