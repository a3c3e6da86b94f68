import dataclasses

import numpy as np
import pytest

from diversa.datasets import synthtext as st
from diversa.reproduce import quadmix
from diversa.reproduce.runner import single_threaded, summarize
from diversa.reproduce.testbeds.text_classifier import random_selection_fit, train_tiny_classifier

#: A shortened testbed: pool 600, quota 30 (5%), a small search and few steps.
TINY = quadmix.Sizes(pool=600, quota=30, proxies=(60, 60), candidates=(300, 300), n_steps=50, eval_per_domain=30)


@pytest.fixture(scope="module")
def junk_first_trials():
    """Six tiny units in which QuaDMix-OH is replaced by the junk documents (repeated to the quota)."""
    pytest.importorskip("torch")  # imported first, so that single_threaded() also pins torch to one thread
    real = quadmix.select_arms

    def junk_first(tb, oh, bmk, seed, sizes=quadmix.SIZES):
        arms = real(tb, oh, bmk, seed, sizes)
        junk = np.flatnonzero(tb.st.ground_truth(tb.pool)["is_junk"].to_numpy())
        arms["QuaDMix-OH"] = np.resize(junk, sizes.quota)
        return arms

    with pytest.MonkeyPatch.context() as mp, single_threaded():  # as the runner runs a trial
        mp.setattr(quadmix, "select_arms", junk_first)
        return {seed: quadmix.run_trial(seed, True, TINY) for seed in range(6)}


def test_every_arm_trains_long_enough_to_fit_its_selection(one_thread):
    # the convergence rule that fixed n_steps on the Random arm (150 documents) of seed 0
    pool, budget = quadmix.SIZES.pool, quadmix.SIZES.quota
    ce, acc = random_selection_fit(pool, budget, quadmix.SIZES.n_steps)
    assert ce < 0.01 and acc == 1.0
    assert random_selection_fit(pool, budget, 50)[0] > 0.1


def test_quota_lies_inside_the_range_the_prior_can_fill():
    # omega <= 0.1 keeps at most the top 10% of each domain; a larger quota is met only by repeating documents
    assert quadmix.SIZES.quota <= 0.1 * quadmix.SIZES.pool


def test_a_sampler_that_takes_junk_gets_a_contradicted_headline(junk_first_trials):
    assert set(junk_first_trials[0].pairs) == {c.name for c in quadmix.REPRODUCTION.checks}
    claims_only = dataclasses.replace(quadmix.REPRODUCTION, checks=quadmix.REPRODUCTION.checks_of_kind("claim"))
    result = summarize(claims_only, True, junk_first_trials)
    assert result.headline.outcome == "contradicted"


def test_every_unit_runs_its_own_search(junk_first_trials):
    # the first version searched once on the seed-0 pool: every unit reported the same regressor Spearman
    spearman = [t.pairs["regressor-spearman"][1] for t in junk_first_trials.values()]
    omegas = [tuple(t.diagnostics["theta_star_oh_omega"]) for t in junk_first_trials.values()]
    assert len(set(spearman)) == len(spearman) and len(set(omegas)) == len(omegas)
    for t in junk_first_trials.values():
        unique = t.diagnostics["unique_docs"]
        assert unique["Random"] == TINY.quota and 0 < unique["QuaDMix-BMK"] <= TINY.quota


def test_clean_balanced_oracle_regime_check_passes_on_a_shortened_testbed(one_thread):
    # the regime check through the real pass rule: pool 1500, quota 75 (5%), trained to convergence
    from diversa.reproduce.registry import Units
    from diversa.reproduce.testbeds.selection_oracles import oracle_random
    from diversa.reproduce.testbeds.text_classifier import macro_accuracy
    from diversa.reproduce.verdict import ALPHA, weigh

    gains = []
    for seed in range(6):
        pool = st.make_multidomain_text(1500, seed=seed)
        test = st.make_eval_set(100, seed=10_000 + seed)
        truth = st.ground_truth(pool)
        ids, y = st.token_ids(pool), truth["y"].to_numpy()
        test_ids, test_y = st.token_ids(test), np.array([d.y for d in test])
        test_dom = np.array([d.domain for d in test])

        def accuracy(idx):
            proba = train_tiny_classifier(ids[idx], y[idx], seed=seed, n_steps=quadmix.SIZES.n_steps)(test_ids)
            return macro_accuracy(proba, test_y, test_dom)

        oracle = oracle_random(truth, 75, clean=True, balanced=True, random_state=seed + 1)
        gains.append(accuracy(oracle) - accuracy(np.random.default_rng(seed).choice(1500, 75, replace=False)))
    check = next(c for c in quadmix.REPRODUCTION.checks if c.name == "oracle-headroom")
    evidence = weigh(np.array(gains), check, Units())
    assert evidence.mean_diff > 0.01 and evidence.pvalue < ALPHA, gains
