import dataclasses

import numpy as np

from diversa.reproduce import kmq
from diversa.reproduce.runner import single_threaded, summarize
from diversa.reproduce.testbeds.text_classifier import random_selection_fit

#: A shortened testbed: a pool of 600, budget 60, few steps; fast, not converged, enough for a broken arm.
TINY = kmq.Sizes(pool=600, budget=60, clusters=6, n_steps=50, test_per_domain=30)


def test_every_arm_trains_long_enough_to_fit_its_selection(one_thread):
    # the convergence rule that fixed n_steps on the Random arm of seed 0; 10 epochs (~50 steps) missed it
    pool, budget = kmq.SIZES.pool, kmq.SIZES.budget
    ce, acc = random_selection_fit(pool, budget, kmq.SIZES.n_steps)
    assert ce < 0.01 and acc == 1.0
    assert random_selection_fit(pool, budget, 50)[0] > 0.1


def test_a_selector_that_takes_junk_first_gets_a_contradicted_headline(one_thread, monkeypatch):
    real = kmq.select_arms

    def junk_first(tb, seed, sizes=kmq.SIZES):
        arms, iterative = real(tb, seed, sizes)
        arms["kMQ"] = np.argsort(~tb.truth["is_junk"].to_numpy(), kind="stable")[:sizes.budget]
        return arms, iterative

    monkeypatch.setattr(kmq, "select_arms", junk_first)
    with single_threaded():  # as the runner runs a trial
        trials = {seed: kmq.run_trial(seed, True, TINY) for seed in range(6)}
    assert set(trials[0].pairs) == {c.name for c in kmq.REPRODUCTION.checks}
    # the claims alone: on this tiny testbed the oracles need not show their headroom
    claims_only = dataclasses.replace(kmq.REPRODUCTION, checks=kmq.REPRODUCTION.checks_of_kind("claim"))
    result = summarize(claims_only, True, trials)
    assert result.headline.outcome == "contradicted"
    assert all(t.diagnostics["junk_share"]["kMQ"] == 1.0 for t in trials.values())
