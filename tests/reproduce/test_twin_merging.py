"""twin-merging: the headline isolates the shared expert; the testbed is in regime."""

import pytest

from diversa.reproduce import twin_merging
from diversa.reproduce.runner import summarize

#: Five units: the fewest for which the exact sign-flip test passes a check at alpha (1/32 < 0.05).
UNITS = 5


@pytest.fixture
def short(trained_merge_testbed, monkeypatch):
    """Shortened testbed, router and baseline grids."""
    monkeypatch.setattr(twin_merging, "ROUTER_EPOCHS", 8)
    monkeypatch.setattr(twin_merging, "TA_LAMBDAS", (0.2, 0.3, 0.5))
    monkeypatch.setattr(twin_merging, "TIES_GRID", [{"density": 0.2, "scaling": 1.0}])
    monkeypatch.setattr(twin_merging, "DARE_GRID", [{"drop_rate": 0.5, "scaling": 0.3}])


def test_without_a_shared_expert_twin_is_exactly_the_headline_baseline(short, monkeypatch):
    # The baseline is Twin-Merging minus its shared expert under the same router: with a shared expert of
    # lambda 0 the two arms must coincide, so the headline cannot credit anything but the shared expert.
    monkeypatch.setattr(twin_merging, "SHARED_SCALING", 0.0)
    trial = twin_merging.run_trial(0, quick=True)
    baseline, method = trial.pairs["twin-vs-routed-svd"]
    assert baseline == method
    assert trial.diagnostics["routed_svd_oracle"] == trial.diagnostics["twin_oracle"]


def test_regime_and_routing_hold_on_a_short_testbed(short):
    # A router that learned the tasks, static merges with headroom and routed experts far above them: fails
    # if router features, routing weights, the factored forward or the static baselines are computed wrongly.
    trials = {seed: twin_merging.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(twin_merging.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["ta-below-experts"] == "pass"
    assert outcomes["routing-matters"] == "pass"
    assert all(t.diagnostics["router_test_accuracy"] > 0.5 for t in trials.values())
    twin_vs_ta = next(c for c in result.checks if c.check.name == "twin-vs-ta")
    assert twin_vs_ta.evidence.pvalue < 0.05  # routed experts far above one static merge, even when gated
