import numpy as np
import pytest

from diversa.datasets import synthtext as st
from diversa.reproduce.testbeds.selection_oracles import ORACLES, oracle_random, oracle_selections


@pytest.fixture(scope="module")
def truth():
    return st.ground_truth(st.make_multidomain_text(1200, seed=3))


def test_each_oracle_cures_its_defect_and_only_draws_distinct_rows(truth):
    junk = truth["is_junk"].to_numpy()
    groups = truth["dup_group"].to_numpy()
    domains = truth["domain"].to_numpy()
    picks = oracle_selections(truth, 240, random_state=0)
    assert set(picks) == set(ORACLES)
    for idx in picks.values():
        assert idx.size == 240 and np.unique(idx).size == 240
    assert not junk[picks["clean-random"]].any() and junk.mean() > 0.05
    assert np.unique(groups[picks["dedup-random"]]).size == 240
    # the pool is skewed (30% vs 8%); the balanced oracle takes 40 from every domain
    np.testing.assert_array_equal(np.bincount(domains[picks["balanced-random"]], minlength=6), np.full(6, 40))


def test_cures_combine_and_draws_are_seeded(truth):
    idx = oracle_random(truth, 120, clean=True, dedup=True, balanced=True, random_state=5)
    assert not truth["is_junk"].to_numpy()[idx].any()
    assert np.unique(truth["dup_group"].to_numpy()[idx]).size == 120
    assert set(np.bincount(truth["domain"].to_numpy()[idx], minlength=6)) == {20}
    np.testing.assert_array_equal(idx, oracle_random(truth, 120, clean=True, dedup=True, balanced=True,
                                                     random_state=5))
    assert not np.array_equal(idx, oracle_random(truth, 120, clean=True, dedup=True, balanced=True,
                                                 random_state=6))


def test_dedup_draws_a_random_member_not_always_the_first(truth):
    groups = truth["dup_group"].to_numpy()
    big = np.bincount(groups).argmax()
    members = {int(i) for s in range(30) for i in oracle_random(truth, 800, dedup=True, random_state=s)
               if groups[i] == big}
    assert len(members) > 1


def test_budget_beyond_the_cured_pool_is_refused(truth):
    n_clean = int((~truth["is_junk"]).sum())
    with pytest.raises(ValueError, match="budget"):
        oracle_random(truth, n_clean + 1, clean=True)
    with pytest.raises(ValueError, match="budget"):
        oracle_random(truth, 0)


def _oracle_gains(n_pool, budget, n_steps, n_seeds, oracles):
    from diversa.reproduce.testbeds.text_classifier import macro_accuracy, train_tiny_classifier

    gains = {name: [] for name in oracles}
    for seed in range(n_seeds):
        pool = st.make_multidomain_text(n_pool, seed=seed)
        test = st.make_eval_set(100, seed=10_000 + seed)
        truth = st.ground_truth(pool)
        ids, y = st.token_ids(pool), truth["y"].to_numpy()
        test_ids, test_y = st.token_ids(test), np.array([d.y for d in test])
        test_dom = np.array([d.domain for d in test])

        def accuracy(idx):
            return macro_accuracy(train_tiny_classifier(ids[idx], y[idx], seed=seed, n_steps=n_steps)(test_ids),
                                  test_y, test_dom)

        base = accuracy(np.random.default_rng(seed).choice(n_pool, budget, replace=False))
        for name, cure in oracles.items():
            gains[name].append(accuracy(oracle_random(truth, budget, random_state=seed + 1, **cure)) - base)
    return gains


def test_oracle_regime_checks_pass_on_a_shortened_testbed(one_thread):
    # The regime checks of the kMQ/ODiS/QuaDMix reproductions, through the real pass rule, on a pool of
    # 1500 and a budget of 150 trained to convergence (400 steps). Junk removal and domain balance
    # show their headroom over Random here (the duplicate oracle is weaker at this scale).
    from diversa.reproduce.kmq import oracle_checks
    from diversa.reproduce.registry import Units
    from diversa.reproduce.verdict import ALPHA, weigh

    oracles = {"clean-random": ORACLES["clean-random"], "balanced-random": ORACLES["balanced-random"]}
    gains = _oracle_gains(1500, 150, 400, 6, oracles)
    checks = {c.name: c for c in oracle_checks("")}
    for name, d in gains.items():
        evidence = weigh(np.array(d), checks[f"{name}-headroom"], Units())
        assert evidence.mean_diff > 0.01 and evidence.pvalue < ALPHA, (name, d)
