"""weaver: the testbed is in Weaver's regime, and a broken aggregator cannot pass the headline."""

import numpy as np
import pytest

from diversa.combine.verifiers import WeaverAggregator
from diversa.reproduce import weaver
from diversa.reproduce.runner import summarize

#: Five units: the fewest for which the exact sign-flip test passes a check (1/32 < 0.05); six for
#: the fewest that can contradict one (two-sided: 1/64 < 0.025).
PASS_UNITS, CONTRADICT_UNITS = 5, 6


@pytest.fixture
def short(monkeypatch):
    monkeypatch.setattr(weaver, "DISTILL_EPOCHS", 1)


class _Inverted(WeaverAggregator):
    """Weaver with its ranking turned upside down: picks the candidate it believes least."""

    def score_candidates(self, S, answers=None):
        return 1.0 - super().score_candidates(S, answers)


def test_regime_and_label_model_hold_on_a_short_testbed(short, monkeypatch):
    # Fails if the verifiers were strong enough that one alone closes the gap to pass@N, if the label
    # model misses the votes' TPR/TNR by 0.05 (250 queries: sampling error about 0.04), or if the
    # always-yes verifier survives the filter.
    monkeypatch.setattr(weaver, "N_QUERIES", 250)
    trials = {seed: weaver.run_trial(seed, quick=True) for seed in range(PASS_UNITS)}
    result = summarize(weaver.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["weak-verifiers-gap"] == "pass"
    assert outcomes["tpr-tnr-recovery"] == "pass"
    assert all(t.diagnostics["always_yes_filtered"] for t in trials.values())
    assert all(t.diagnostics["weaver"] <= t.diagnostics["oracle"] for t in trials.values())


def test_an_inverted_weaver_gets_a_contradicted_headline(short, monkeypatch):
    # The real verdict rule on a deliberately broken method: ranking by 1 - P(correct) must be
    # measured as worse than the naive average, not passed or called inconclusive.
    monkeypatch.setattr(weaver, "N_QUERIES", 100)
    monkeypatch.setattr(weaver, "make_weaver", lambda seed, **params: _Inverted(random_state=seed, **params))
    trials = {seed: weaver.run_trial(seed, quick=True) for seed in range(CONTRADICT_UNITS)}
    result = summarize(weaver.REPRODUCTION, True, trials)
    assert result.verdict == "contradicted"
    assert np.mean(result.headline.method_values) < np.mean(result.headline.baseline_values) - 0.2
