"""pcb-merging: one shortened trial, and the synthetic problems."""

import math

import pytest
import torch

from diversa.reproduce import pcb_merging


@pytest.fixture
def short(short_merge_testbed):
    """Shortened MergeDigits-8 training (see conftest)."""


def test_trial_pairs(short):
    result = pcb_merging.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in pcb_merging.REPRODUCTION.checks}
    for name, pair in result.pairs.items():
        assert all(math.isfinite(v) and v >= 0 for v in pair), name
    agree, conflict = result.pairs["drops-conflicts"]
    assert 0 <= agree <= 1 and 0 <= conflict <= 1
    assert 0 < result.pairs["pcb-vs-ties"][1] < 1.5


def test_synthetic_losses_are_deterministic_and_ta_best_on_sign_conflict():
    taus, _, X = pcb_merging._synthetic("sign-conflict", 3)
    again = pcb_merging._synthetic("sign-conflict", 3)
    assert torch.equal(taus, again[0]) and torch.equal(X, again[2]) and taus.shape == (4, 2000)
    a = pcb_merging.synthetic_losses("sign-conflict", 3)
    assert a["task_arithmetic"] < min(a["ties"], a["pcb"])  # the mean is optimal for an isotropic quadratic
