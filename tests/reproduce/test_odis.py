import dataclasses

import numpy as np

from diversa.reproduce import odis
from diversa.reproduce.runner import single_threaded, summarize
from diversa.reproduce.testbeds.text_classifier import random_selection_fit

#: A shortened testbed: a pool of 600, budget 60, few steps; fast, not converged, enough for a broken arm.
TINY = odis.Sizes(pool=600, budget=60, n_steps=50, test_per_domain=30)


def test_every_arm_trains_long_enough_to_fit_its_selection(one_thread):
    # the convergence rule that fixed n_steps on the Random arm of seed 0; 10 epochs (~100 steps) missed it
    pool, budget = odis.SIZES.pool, odis.SIZES.budget
    ce, acc = random_selection_fit(pool, budget, odis.SIZES.n_steps)
    assert ce < 0.01 and acc == 1.0
    assert random_selection_fit(pool, budget, 100)[0] > 0.1


def test_a_selector_that_takes_junk_first_gets_a_contradicted_headline(one_thread, monkeypatch):
    real = odis.select_arms

    def junk_first(emb, Z, annotated, truth, seed, sizes=odis.SIZES):
        arms, selector = real(emb, Z, annotated, truth, seed, sizes)
        arms["ODiS"] = np.argsort(~truth["is_junk"].to_numpy(), kind="stable")[:sizes.budget]
        return arms, selector

    monkeypatch.setattr(odis, "select_arms", junk_first)
    with single_threaded():  # as the runner runs a trial
        trials = {seed: odis.run_trial(seed, True, TINY) for seed in range(6)}
    assert set(trials[0].pairs) == {c.name for c in odis.REPRODUCTION.checks}
    # the claims alone: on this tiny testbed the oracles need not show their headroom
    claims_only = dataclasses.replace(odis.REPRODUCTION, checks=odis.REPRODUCTION.checks_of_kind("claim"))
    result = summarize(claims_only, True, trials)
    assert result.headline.outcome == "contradicted"
    assert all(t.diagnostics["junk_share"]["ODiS"] == 1.0 for t in trials.values())


def test_headline_is_the_performance_claim_and_oracles_gate_every_claim():
    # the overlap check used to be the headline although raw dimensions already pass it
    rep = odis.REPRODUCTION
    assert rep.headline_check.metric == "macro test accuracy" and rep.headline_check.baseline == "Random"
    regimes = rep.checks_of_kind("regime")
    assert {c.name for c in regimes} == {"clean-random-headroom", "dedup-random-headroom", "balanced-random-headroom"}
    assert all(not c.applies_to for c in regimes)
