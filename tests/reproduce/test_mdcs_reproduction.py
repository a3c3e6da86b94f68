"""mdcs: the long-tail regime holds on a short testbed; with the arms made identical the headline measures nothing."""

import numpy as np
import pytest

from diversa.reproduce import mdcs
from diversa.reproduce.runner import summarize

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture
def sade_arm_only(monkeypatch, one_thread):
    """Every arm is the unit's one SADE model, trained ``epochs`` epochs (one training per unit)."""
    train = mdcs.train

    def shared(epochs):
        models = {}

        def fitted(arm, data, _epochs, seed):
            if seed not in models:
                models[seed] = train(mdcs.ARMS["sade"], data, epochs, seed)
            return models[seed]
        monkeypatch.setattr(mdcs, "train", fitted)
    return shared


def test_regime_holds_on_a_short_testbed(sade_arm_only):
    # Fails if SADE's softmax expert came within 20 points of its many-shot accuracy on the tail.
    sade_arm_only(epochs=20)
    trials = {seed: mdcs.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(mdcs.REPRODUCTION, True, trials).checks}
    assert outcomes["softmax-tail-below-head"] == "pass"


def test_with_identical_arms_the_headline_measures_nothing(sade_arm_only):
    # MDCS's arm is SADE's model: any headline effect could only come from MDCS's training itself.
    sade_arm_only(epochs=3)
    trials = {seed: mdcs.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(mdcs.REPRODUCTION, True, trials)
    assert np.array_equal(result.headline.baseline_values, result.headline.method_values)
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"


def test_arms_differ_only_in_their_loss_options():
    from diversa.datasets.longtail import make_longtail_digits

    data = make_longtail_digits(random_state=0)
    params = {name: mdcs.train(arm, data, 0, 0).get_params() for name, arm in mdcs.ARMS.items()}
    for name in params:
        for key in ("loss", "kd_weight", "ce_on_strong"):
            params[name].pop(key)
    assert params["sade"] == params["dl"] == params["mdcs"]
    assert params["mdcs"]["warmup_epochs"] == 1 and mdcs.train(mdcs.ARMS["mdcs"], data, 0, 0).epochs == 0
