"""aware-net: a flat average cannot pass the claims about learned weights; the testbed is in regime."""

import numpy as np
import pytest

from diversa.combine.ensemble import TwoTierEnsemble
from diversa.reproduce import aware_net
from diversa.reproduce.runner import summarize

#: The fewest units the framework accepts in quick mode.
UNITS = 8


@pytest.fixture
def short(monkeypatch, one_thread):
    monkeypatch.setattr(aware_net, "EPOCHS", 8)
    monkeypatch.setattr(aware_net, "N_INSTANCES", 2)


def test_oracle_weighting_includes_the_flat_average_and_finds_a_perfect_family():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    perfect = np.eye(3)[y]
    noise = rng.dirichlet(np.ones(3), size=(2, 40))
    probs = np.concatenate([perfect[None], noise])
    assert aware_net.oracle_weighting_accuracy(probs, y) == 1.0
    flat = np.mean(probs.mean(axis=0).argmax(axis=1) == y)
    assert aware_net.oracle_weighting_accuracy(noise, y) >= np.mean(noise.mean(axis=0).argmax(axis=1) == y)
    assert aware_net.oracle_weighting_accuracy(probs, y, steps=1) >= flat


def test_weighting_has_headroom_on_a_short_testbed(short):
    # Fails if no weighting of the families could beat their flat average on the clean or the shifted
    # test set (families interchangeable, or the flat average at the ceiling).
    trials = {seed: aware_net.run_trial(seed, quick=True) for seed in range(6)}
    outcomes = {c.check.name: c.outcome for c in summarize(aware_net.REPRODUCTION, True, trials).checks}
    assert outcomes["weighting-headroom"] == outcomes["weighting-headroom-shift"] == "pass"


def test_a_flat_average_cannot_pass_the_learned_weight_claims(short, monkeypatch):
    # Tier-2 weights that never leave uniform ARE the flat average: the headline and the shift claim
    # must not credit them, whatever the regime (members barely trained: the verdict only needs pairs).
    monkeypatch.setattr(aware_net, "EPOCHS", 1)
    monkeypatch.setattr(aware_net, "make_aware", lambda families, seed: TwoTierEnsemble(families, n_steps=0))
    trials = {seed: aware_net.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(aware_net.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    for name in ("aware-vs-flat", "shift-aware-vs-flat", "stress-aware-vs-uniform"):
        check = next(c for c in result.checks if c.check.name == name)
        assert check.evidence.pvalue == 1.0 and outcomes[name] != "supported"
