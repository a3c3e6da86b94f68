"""flexsp: the regime holds on a shorter testbed, units are reproducible, identical arms measure nothing."""

import numpy as np
import pytest

from diversa.reproduce import flexsp
from diversa.reproduce.runner import summarize
from diversa.systems.seqpar import StaticSPPlanner

#: Units: five for a regime check to pass (1/32 < 0.05); eight, the fewest of a quick run.
PASS_UNITS, UNITS = 5, 8


@pytest.fixture
def short(monkeypatch):
    monkeypatch.setattr(flexsp, "BATCH", 64)
    monkeypatch.setattr(flexsp, "NODE_LIMIT", 2)


def test_the_testbed_is_the_spec_s():
    cost = flexsp.cost_model()
    assert cost.token_capacity == 8012
    assert cost.min_degree(flexsp.MAX_LEN["A"]) == 16 and cost.min_degree(flexsp.MAX_LEN["B"]) == 8


def test_regime_holds_on_a_short_testbed_and_units_are_reproducible(short):
    # Fails if the batches were not long-tailed (the longest needing more than 4x the median's GPUs),
    # or if a unit's numbers depended on anything but its seed.
    trials = {seed: flexsp.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    outcomes = {c.check.name: c.outcome for c in summarize(flexsp.REPRODUCTION, True, trials).checks}
    assert outcomes["long-tailed-batches"] == "pass"
    assert flexsp.run_trial(0, quick=True).pairs == trials[0].pairs
    for trial in trials.values():
        regime = trial.diagnostics["regime_A"]
        assert regime["flexsp"]["step_s"] == pytest.approx(trial.pairs["flexsp-vs-static"][1])
        assert regime["flexsp_with_step_fallback_s"] <= regime["adaptive"]["step_s"] + 1e-9


def test_identical_arms_measure_nothing(short, monkeypatch):
    # FlexSP replaced by the static plan of regime A: the headline pairs must be equal, p = 1.
    monkeypatch.setattr(flexsp, "FlexSPPlanner", lambda cost, degrees, **kwargs: StaticSPPlanner(cost, 16))
    trials = {seed: flexsp.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(flexsp.REPRODUCTION, True, trials)
    assert np.all(np.array(result.headline.baseline_values) == np.array(result.headline.method_values))
    assert result.headline.evidence.pvalue == 1.0 and result.verdict != "supported"
