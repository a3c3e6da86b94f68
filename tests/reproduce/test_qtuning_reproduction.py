"""The Q-Tuning reproduction on a shortened testbed (small pools, short base pre-training, few SFT steps)."""

import dataclasses

import pytest

from diversa.data.online import QTuning
from diversa.reproduce import qtuning
from diversa.reproduce.runner import single_threaded, summarize

#: fast, far from converged, enough to see whether the name token is trained at all
TINY = qtuning.Sizes(pool=400, steps=120, base_pool=400, base_steps=40, test_per_domain=20)


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setenv("DIVERSA_CACHE", "0")


def test_trial_measures_every_check_and_counts_compute(one_thread, no_cache):
    result = qtuning.run_trial(0, True, TINY)
    assert set(result.pairs) == {c.name for c in qtuning.REPRODUCTION.checks}
    compute = result.diagnostics["compute"]
    b, k = TINY.batch, int(TINY.r_sample * TINY.batch)
    # equal back-propagated samples for every pruned arm, 4x for full data; scoring passes counted
    assert compute["Full"]["backprop_samples"] == TINY.steps * b
    for arm in qtuning.ARMS[1:]:
        assert compute[arm]["backprop_samples"] == TINY.steps * k
    for arm in ("PPL-only", "Entropy-only", "Q-Tuning"):
        assert compute[arm]["scored_samples"] == TINY.steps * b
    for arm in ("Random-Random", "Token-only", "Clean-Random", "Full"):
        assert compute[arm]["scored_samples"] == 0
    # every token-pruned arm keeps 4 of 7 answer tokens; Q-Tuning keeps Q4 samples whole
    assert compute["Random-Random"]["loss_tokens"] == TINY.steps * k * 4
    assert compute["Q-Tuning"]["loss_tokens"] > compute["Random-Random"]["loss_tokens"]
    counts = result.diagnostics["mechanism_counts"]
    assert counts["cand"] == TINY.steps * b and counts["corr"] > 0


@pytest.mark.slow  # 40-80 s: trains 8 shortened units; runs in `make test-all`
def test_a_pruner_that_never_trains_the_answer_is_contradicted(one_thread, no_cache, monkeypatch):
    # keep one token per sample (the lowest-PPL one: a format token), so the subtopic name is never trained
    real = qtuning.make_pruner

    def broken(arm, sizes, seed):
        if arm == "Q-Tuning":
            return QTuning(sizes.r_sample, 0.1, prune_q4_tokens=True)
        return real(arm, sizes, seed)

    monkeypatch.setattr(qtuning, "make_pruner", broken)
    with single_threaded():
        trials = {seed: qtuning.run_trial(seed, True, TINY) for seed in range(6)}
    claims_only = dataclasses.replace(qtuning.REPRODUCTION, checks=qtuning.REPRODUCTION.checks_of_kind("claim"))
    result = summarize(claims_only, True, trials)
    assert result.headline.outcome == "contradicted"


def test_headline_is_the_equal_budget_claim_and_the_regime_is_gated():
    rep = qtuning.REPRODUCTION
    head = rep.headline_check
    assert (head.baseline, head.method, head.direction) == ("Random-Random", "Q-Tuning", "greater")
    assert {c.name for c in rep.checks_of_kind("regime")} == {"clean-oracle-headroom", "full-off-ceiling",
                                                              "random-off-floor"}
    assert {c.name for c in rep.checks_of_kind("claim")} == {
        "qtuning-vs-random-random", "qtuning-vs-full", "qtuning-vs-ppl-only", "qtuning-vs-entropy-only",
        "qtuning-vs-token-only"}
    assert rep.quick_trials >= 8 and rep.full_trials >= 20
