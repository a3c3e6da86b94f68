import dataclasses

import numpy as np
import pytest

from diversa.reproduce import aioli
from diversa.reproduce.runner import single_threaded, summarize

#: A shortened testbed: small groups, 48 steps in 3 rounds of 16 (one sweep of 2 steps per group).
TINY = aioli.Sizes(train_per_group=200, small_group=30, val_per_group=30, eval_per_group=30, steps=36,
                   update_steps=12, lp_rounds=1, lp_steps=2, warmup=4)


def _trials(monkeypatch, n):
    monkeypatch.setattr(aioli, "BRANCH_STEPS", 2)
    with single_threaded():
        return {seed: aioli.run_trial(seed, True, TINY) for seed in range(n)}


@pytest.fixture(scope="module")
def broken_trials():
    """Six tiny units in which Aioli's update always puts 90% of the batch on the data-constrained group."""
    pytest.importorskip("torch")
    from diversa.data.mix import mixers

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mixers, "exponentiated_gradient_step", lambda p, A, eta, base=None: np.array([0.05, 0.05, 0.9]))
        return _trials(mp, 6)


def test_trial_measures_every_check_at_equal_backprop_budget(broken_trials):
    trial = broken_trials[0]
    assert set(trial.pairs) == {c.name for c in aioli.REPRODUCTION.checks}
    samples = trial.diagnostics["backprop_samples_per_arm"]
    assert set(samples.values()) == {TINY.steps * TINY.batch}
    assert trial.diagnostics["extra_forward_docs"]["Aioli"] > trial.diagnostics["extra_forward_docs"]["Aioli-static"] > 0
    for value in trial.diagnostics["test_nll_mean"].values():
        assert np.isfinite(value)


def test_a_method_that_feeds_the_small_group_is_not_supported(broken_trials):
    claims_only = dataclasses.replace(aioli.REPRODUCTION, checks=aioli.REPRODUCTION.checks_of_kind("claim"))
    result = summarize(claims_only, True, broken_trials)
    assert result.headline.outcome == "contradicted"


def test_real_aioli_moves_the_mixture(monkeypatch, one_thread):
    trial = _trials(monkeypatch, 1)[0]
    rounds = trial.diagnostics["aioli_proportions_per_round"]
    assert len(rounds) == TINY.steps // TINY.update_steps
    assert all(abs(sum(p) - 1) < 1e-3 for p in rounds)
    assert rounds[-1] != pytest.approx([1 / 3] * 3)


def test_entropy_floor_is_below_what_a_model_can_reach():
    floors = [aioli.entropy_floor(g) for g in range(3)]
    assert all(2.5 < f < 4.0 for f in floors)
    assert aioli.entropy_floor(0) < aioli.entropy_floor(1)   # sports (purity .90) is easier than computing (.65)


def test_testbed_groups_and_sizes():
    tb = aioli.testbed(0, TINY)
    assert np.bincount(tb.group).tolist() == [200, 200, 30]
    assert [len(ids) for ids, _ in tb.val] == [30] * 3 and [len(ids) for ids, _ in tb.test] == [30] * 3
    assert not np.array_equal(tb.val[0][0], tb.test[0][0])


def test_full_mode_adds_the_static_baselines_as_diagnostics(monkeypatch, one_thread):
    monkeypatch.setattr(aioli, "BRANCH_STEPS", 2)
    small = dataclasses.replace(TINY, train_per_group=100, small_group=20)
    trial = aioli.run_trial(0, False, small)
    assert set(trial.pairs) == {c.name for c in aioli.REPRODUCTION.checks}
    nll = trial.diagnostics["test_nll_mean"]
    assert {"GS", "DML", "DoReMi"} <= set(nll) and all(np.isfinite(v) for v in nll.values())
    for p in trial.diagnostics["full_mode_baselines"]["mixtures"].values():
        assert abs(sum(p) - 1) < 1e-3
    assert set(trial.diagnostics["backprop_samples_per_arm"].values()) == {small.steps * small.batch}
