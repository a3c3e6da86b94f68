"""ibmsvs: the oracle-headroom regime holds on a short testbed; with both arms made the IRM / MSE CNN the
headline measures nothing; the arms differ only in target, loss and threshold."""

import dataclasses

import numpy as np
import pytest

from diversa.reproduce import ibmsvs
from diversa.reproduce.runner import single_threaded, summarize

ORIGINAL_SEPARATOR = ibmsvs.separator
#: Eight units, the fewest of a quick run (a regime check needs at least five to pass: 1/32 < 0.05).
UNITS = 8


@pytest.fixture(scope="module")
def identical_arm_trials():
    """Quick trials on a tiny network (1 epoch) where the IBM arm is the IRM arm: same target, loss, tau."""
    tiny = dataclasses.replace(ibmsvs.QUICK, n_train=2, n_test=2, channels=(4, 4, 4, 4), fc=(16, 16), epochs=1)
    mp = pytest.MonkeyPatch()
    mp.setattr(ibmsvs, "QUICK", tiny)
    mp.setattr(ibmsvs, "separator", lambda target, setting, seed: ORIGINAL_SEPARATOR("irm", setting, seed))
    try:
        with single_threaded():   # as the runner: one torch and one BLAS thread
            trials = {seed: ibmsvs.run_trial(seed, quick=True) for seed in range(UNITS)}
    finally:
        mp.undo()
    return trials


def test_oracle_headroom_regime_holds_on_a_short_testbed(identical_arm_trials):
    # Fails if perfect binary masks separated the generated songs by 3 dB or less (songs too easy or too hard).
    result = summarize(ibmsvs.REPRODUCTION, True, identical_arm_trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["oracle-headroom"] == "pass"


def test_with_identical_arms_the_headline_measures_nothing(identical_arm_trials):
    result = summarize(ibmsvs.REPRODUCTION, True, identical_arm_trials)
    assert np.array_equal(result.headline.baseline_values, result.headline.method_values)
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"


def test_the_arms_differ_only_in_target_and_threshold():
    params = {t: ORIGINAL_SEPARATOR(t, ibmsvs.QUICK, 3).get_params() for t in ("ibm", "irm")}
    assert params["ibm"].pop("target") == "ibm" and params["irm"].pop("target") == "irm"
    assert params["ibm"].pop("threshold") == ibmsvs.TAU and params["irm"].pop("threshold") == 0.0
    assert params["ibm"] == params["irm"]
