"""mccd: the prior-exploitation regime holds on a short testbed; with identical arms the headline measures nothing."""

import numpy as np
import pytest
import torch

from diversa.reproduce import mccd
from diversa.reproduce.runner import summarize

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture(scope="module")
def identical_arm_trials():
    """Eight short units (600 items, 3 epochs) in which the MCCD arm is the unit's plain model."""
    real_train, cache = mccd.train, {}

    def plain_only(method, data, epochs, seed):
        if seed not in cache:
            cache[seed] = real_train("plain", data, epochs, seed)
        return cache[seed]

    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mccd, "N_TRAIN", {True: 600, False: 600})
        mp.setattr(mccd, "N_TEST", 600)
        mp.setattr(mccd, "EPOCHS", {True: 3, False: 3})
        mp.setattr(mccd, "train", plain_only)
        trials = {seed: mccd.run_trial(seed, quick=True) for seed in range(UNITS)}
    torch.set_num_threads(threads)
    return trials


def test_regime_holds_on_a_short_testbed(identical_arm_trials):
    # Fails if the plain model's head accuracy came within 15 points of its tail accuracy (no
    # reliance on the planted prior).
    trials = {seed: identical_arm_trials[seed] for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(mccd.REPRODUCTION, True, trials).checks}
    assert outcomes["plain-exploits-prior"] == "pass"


def test_with_identical_arms_the_headline_measures_nothing(identical_arm_trials):
    # The MCCD arm is replaced by the plain model: both arms are the same predictor, so any
    # headline effect could only have come from MCCD itself.
    result = summarize(mccd.REPRODUCTION, True, identical_arm_trials)
    assert np.array_equal(result.headline.baseline_values, result.headline.method_values)
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"
    outcomes = {c.check.name: c.outcome for c in result.checks if c.check.kind == "mechanism"}
    assert outcomes == {"cycle-kl-falls": "fail", "fusion-moves-away": "fail"}


def test_arms_differ_only_in_the_objective(one_thread):
    # The fairness of the comparison: the same network, seed, batches and epochs.
    from diversa.datasets.avqa import make_biased_avqa

    data = make_biased_avqa(64, n_frames=1, random_state=0)
    params = [mccd.train(method, data, 0, 0).get_params() for method in mccd.ARMS]
    assert [p.pop("method") for p in params] == ["plain", "mccd"]
    assert params[0] == params[1]
