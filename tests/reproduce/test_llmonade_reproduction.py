"""llmonade: the compute-matched headline credits only the evidence language; the testbed is in regime."""

import numpy as np
import pytest

from diversa.reproduce import llmonade
from diversa.reproduce.runner import summarize

#: The fewest units the framework accepts in quick mode.
UNITS = 8


@pytest.fixture
def short(monkeypatch):
    monkeypatch.setattr(llmonade, "N_QUERIES", 80)


def test_regime_holds_and_both_mbr_arms_spend_the_same_judge_calls(short):
    # Fails if the evidence language were not the stronger generator, if the pools left no room above
    # MBR, or if the compute-matched arm made a different number of judge calls than X-MBR.
    trials = {seed: llmonade.run_trial(seed, quick=True) for seed in range(5)}
    result = summarize(llmonade.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["evidence-language-stronger"] == "pass"
    assert outcomes["selection-headroom"] == "pass"
    for trial in trials.values():
        calls = trial.diagnostics["judge_calls_per_query"]
        n, m = llmonade.N_CANDIDATES, llmonade.N_EVIDENCE
        assert calls["x_mbr"] == calls["mbr_matched"] == n * (n - 1 + m) > calls["mbr"] == n * (n - 1)


def test_same_language_evidence_cannot_pass_the_headline(short, monkeypatch):
    # X-MBR with evidence in the prompt's own language is the compute-matched baseline in
    # distribution: the headline must not credit it. It would, if the baseline spent fewer calls or
    # heard the utility fewer times per candidate (the flaw of comparing with 20-call MBR).
    monkeypatch.setattr(llmonade, "EVIDENCE", {"xx": "xx", "en": "en"})
    trials = {seed: llmonade.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(llmonade.REPRODUCTION, True, trials)
    assert result.verdict == "inconclusive"
    gains_over_20_calls = [t.diagnostics["xmbr_minus_mbr_20_calls"] for t in trials.values()]
    assert np.mean(gains_over_20_calls) > 0  # more calls alone help: why the headline matches them
