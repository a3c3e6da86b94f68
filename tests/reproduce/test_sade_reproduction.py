"""sade: the long-tail regime holds on a short testbed; with the arms made identical the headline measures nothing."""

import functools

import numpy as np
import pytest

from diversa.nn.aggregation import PredictionStabilityAggregator
from diversa.reproduce import sade
from diversa.reproduce.runner import summarize

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture
def one_model_per_unit(monkeypatch, one_thread):
    """Every arm is the unit's one softmax-CE model, trained ``epochs`` epochs (one training per unit)."""
    train = functools.lru_cache(maxsize=None)(lambda seed, epochs: sade.LongTailExpertsClassifier(
        loss="ce", epochs=epochs, augment="digits", random_state=seed))

    def shared(epochs):
        def fitted(loss, data, _epochs, seed):
            model = train(seed, epochs)
            return model if hasattr(model, "model_") else model.fit(data.X_train, data.y_train)
        monkeypatch.setattr(sade, "train", fitted)
    return shared


def test_regime_holds_on_a_short_testbed(one_model_per_unit, monkeypatch):
    # Fails if the CE model's few-shot accuracy came within 20 points of its many-shot accuracy
    # (digits too easy for a long-tail claim).
    one_model_per_unit(epochs=20)
    monkeypatch.setattr(sade, "aggregator", lambda seed: PredictionStabilityAggregator(min_steps=5, n_views=2))
    trials = {seed: sade.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(sade.REPRODUCTION, True, trials).checks}
    assert outcomes["ce-tail-below-head"] == "pass"


def test_with_identical_arms_the_headline_measures_nothing(one_model_per_unit, monkeypatch):
    # SADE's arm reuses the CE model and its aggregation never moves the weights from uniform: the
    # two arms are the same predictor, so any headline effect could only come from SADE itself.
    one_model_per_unit(epochs=3)
    monkeypatch.setattr(sade, "aggregator", lambda seed: PredictionStabilityAggregator(epochs=0, min_steps=0))
    trials = {seed: sade.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(sade.REPRODUCTION, True, trials)
    assert np.array_equal(result.headline.baseline_values, result.headline.method_values)
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"


def test_every_arm_shares_backbone_budget_and_seed():
    # The fairness of the comparison: only the loss differs between the trained arms.
    from diversa.datasets.longtail import make_longtail_digits

    data = make_longtail_digits(random_state=0)
    params = [sade.train(loss, data, 0, 0).get_params() for loss in sade.ARMS]
    for p in params:
        p.pop("loss")
    assert params[0] == params[1] == params[2]
