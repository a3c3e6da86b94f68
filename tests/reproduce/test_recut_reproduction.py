"""The ReCUT reproduction on a shortened testbed (M0 after 300 SFT steps, fewer problems)."""

import pytest

from diversa.combine.recut import ReCUT
from diversa.reproduce import recut
from diversa.reproduce.runner import summarize


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("recut")


@pytest.fixture(autouse=True)
def short_testbed(monkeypatch, cache, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(cache))
    monkeypatch.setattr(recut, "BASE_STEPS", 300)
    monkeypatch.setattr(recut, "N_TRAIN", 120)
    monkeypatch.setattr(recut, "N_VAL", 60)
    monkeypatch.setattr(recut, "QUICK", {"n_test": 150})


def test_trial_regime_and_mechanisms_on_a_short_testbed():
    result = recut.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in recut.REPRODUCTION.checks}
    d = result.diagnostics
    assert d["merge_alpha"] in recut.MERGE_ALPHAS and d["sft_lr"] in recut.SFT_LRS
    # the plain prompt reasons longer than the short one, and the trials find shorter correct reasoning
    short_plus_gap, neutral = result.pairs["neutral-prompt-overthinks"]
    assert neutral > short_plus_gap
    own, optimal = result.pairs["trials-find-shorter-correct"]
    assert optimal < own
    assert d["pairs_accuracy"] > 0 and d["pairs_length"] > 0


def test_a_merge_that_does_nothing_cannot_win_the_headline(monkeypatch):
    # if the "merged" model is M0 itself, it lies on or under the prompt envelope: the headline is not supported
    monkeypatch.setattr(ReCUT, "merge", lambda self, method="linear", alpha=0.5: self.base_)
    trials = {seed: recut.run_trial(seed, quick=True) for seed in range(2)}
    for trial in trials.values():
        frontier, merged = trial.pairs["recut-beats-prompting-at-same-length"]
        assert merged <= frontier + 1e-12
    assert summarize(recut.REPRODUCTION, True, trials).headline.outcome != "supported"
