"""merge-baselines: the experiment compares what it says, fairly, in the regime it claims."""

import pytest

from diversa.reproduce import merge_baselines
from diversa.reproduce.runner import summarize

#: Eight units: with three secondary claims, Holm needs 3/256 < 0.025 to call one contradicted.
UNITS = 8


@pytest.fixture
def short_grids(monkeypatch):
    monkeypatch.setattr(merge_baselines, "TIES_DENSITIES", (0.2, 0.5))
    monkeypatch.setattr(merge_baselines, "TIES_LAMBDAS", (0.5, 1.0))
    monkeypatch.setattr(merge_baselines, "LAMBDAS", (0.2, 0.3, 0.4, 0.5))


def test_every_method_gets_the_same_validation_budget_and_dare_runs_at_the_papers_rate():
    sizes = {name: len(grid) for name, grid in merge_baselines.grids().items()}
    assert sizes["ties"] == sizes["task_arithmetic"] == sizes["dare_ta"] == merge_baselines.N_EVALUATIONS
    assert merge_baselines.DARE_DROP_RATE == 0.9 and merge_baselines.DARE_DROP_RATE in merge_baselines.DARE_SWEEP
    dare = next(c for c in merge_baselines.REPRODUCTION.checks if c.name == "dare-keeps-ta")
    assert dare.margin == merge_baselines.DARE_MARGIN > 0  # the margin lives in the check, not in the baseline


def test_broken_ties_and_a_destructive_dare_are_contradicted_in_regime(trained_merge_testbed, short_grids,
                                                                       monkeypatch):
    # TIES replaced by "return the pre-trained body", DARE dropping 99.9% of every task vector: the headline
    # and the DARE non-inferiority claim must turn against them, and the testbed must be in regime.
    monkeypatch.setattr(merge_baselines, "ties_merging", lambda base, models, **kwargs: dict(base))
    monkeypatch.setattr(merge_baselines, "DARE_DROP_RATE", 0.999)
    monkeypatch.setattr(merge_baselines, "DARE_SWEEP", (0.5, 0.999))
    trials = {seed: merge_baselines.run_trial(seed, quick=True) for seed in range(UNITS)}
    for trial in trials.values():
        baseline, method = trial.pairs["dare-keeps-ta"]
        assert baseline == trial.diagnostics["task_arithmetic_test"]
        assert method == trial.diagnostics["dare_sweep_test"]["0.999"] != trial.diagnostics["dare_sweep_test"]["0.5"]
    result = summarize(merge_baselines.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["ta-off-floor"] == "pass" and outcomes["ta-below-experts"] == "pass"
    assert result.verdict == "contradicted"
    assert outcomes["dare-keeps-ta"] == "contradicted"
    assert outcomes["ta-vs-average"] != "contradicted"
