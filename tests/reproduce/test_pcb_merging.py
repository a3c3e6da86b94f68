"""pcb-merging: the experiment compares what it says, fairly, in the regime it claims."""

import pytest
import torch

from diversa.reproduce import pcb_merging
from diversa.reproduce.runner import summarize

#: Six units: the fewest for which the exact sign-flip test can reject at alpha / 2 (1/64 < 0.025).
UNITS = 6


@pytest.fixture
def short_grids(monkeypatch):
    """Two-point grids (equal sizes for the compared methods) and a small synthetic problem."""
    monkeypatch.setattr(pcb_merging, "PCB_RATIOS", (0.2, 0.5))
    monkeypatch.setattr(pcb_merging, "TIES_DENSITIES", (0.2, 0.5))
    monkeypatch.setattr(pcb_merging, "LAMBDAS", (0.5, 1.0))
    monkeypatch.setattr(pcb_merging, "TA_LAMBDAS", (0.2, 0.3, 0.4, 0.5))
    monkeypatch.setattr(pcb_merging, "DARE_DROP_RATES", (0.5,))
    monkeypatch.setattr(pcb_merging, "SYN_D", 200)
    monkeypatch.setattr(pcb_merging, "SYN_ROWS", 50)


def test_every_method_gets_the_same_validation_budget():
    sizes = {name: len(grid) for name, grid in pcb_merging.grids().items()}
    assert sizes["pcb"] == sizes["ties"] == sizes["task_arithmetic"] == pcb_merging.N_EVALUATIONS
    # PCB and TIES search the same sparsity ratios and lambdas
    assert ({(g["pcb_ratio"], g["scaling"]) for g in pcb_merging.grids()["pcb"]}
            == {(g["density"], g["scaling"]) for g in pcb_merging.grids()["ties"]})


def test_a_pcb_that_does_not_merge_is_contradicted_in_regime(trained_merge_testbed, short_grids, monkeypatch):
    # PCB replaced by "return the pre-trained body": the headline must turn against it, which fails if the
    # pair is oriented wrongly, if PCB's arm is not what is measured, or if TIES sits at the floor.
    monkeypatch.setattr(pcb_merging, "pcb_merging", lambda base, models, **kwargs: dict(base))
    trials = {seed: pcb_merging.run_trial(seed, quick=True) for seed in range(UNITS)}
    result = summarize(pcb_merging.REPRODUCTION, True, trials)
    outcomes = {c.check.name: c.outcome for c in result.checks}
    assert outcomes["ties-off-floor"] == "pass" and outcomes["ties-below-experts"] == "pass"
    assert result.verdict == "contradicted"
    assert outcomes["pcb-vs-ta"] == "contradicted"


def test_synthetic_losses_are_deterministic_and_ta_best_on_sign_conflict(monkeypatch, one_thread):
    monkeypatch.setattr(pcb_merging, "SYN_D", 500)
    monkeypatch.setattr(pcb_merging, "SYN_ROWS", 150)
    taus, _, X = pcb_merging._synthetic("sign-conflict", 3)
    again = pcb_merging._synthetic("sign-conflict", 3)
    assert torch.equal(taus, again[0]) and torch.equal(X, again[2]) and taus.shape == (4, 500)
    a = pcb_merging.synthetic_losses("sign-conflict", 3)
    assert a["task_arithmetic"] < min(a["ties"], a["pcb"])  # the mean is optimal for an isotropic quadratic
