"""The MC-SMoE reproduction on a shortened testbed (conftest.py: base MoE
trained 150 steps, 32 test prompts per task)."""

import pytest
import torch

from diversa.combine.moe import MSMoE
from diversa.reproduce import mc_smoe
from diversa.reproduce.runner import summarize

@pytest.fixture(autouse=True)
def short_testbed(monkeypatch, short_moe_compression):
    monkeypatch.setattr(mc_smoe, "QUICK", {"n_test_per_task": 32})
    return short_moe_compression


def test_trial_measures_every_check_and_its_mechanism():
    result = mc_smoe.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in mc_smoe.REPRODUCTION.checks}
    d = result.diagnostics
    # halving the experts by pruning costs accuracy even on the short model (the regime the claims need)
    assert result.pairs["pruning-costs-accuracy"][1] < result.pairs["pruning-costs-accuracy"][0]
    # weight matching makes the merged expert closer to its members' functions
    unaligned, aligned = result.pairs["alignment-lowers-merge-error"]
    assert aligned < unaligned
    assert d["expert_params_msmoe"] == d["expert_params_full"] // 2
    assert d["expert_params_mcsmoe"] <= d["expert_params_prune_matched"]


class Negated(MSMoE):
    """A broken merge whose merged experts output the opposite of the merge (keeping one member, for instance,
    is not broken enough: on this base it can rival averaging)."""

    def merged_experts(self, name, layer):
        experts = super().merged_experts(name, layer)
        with torch.no_grad():
            for p in experts.matrices()["down"].parameters():
                p.neg_()
        return experts


def test_a_broken_merge_is_contradicted_by_the_verdict_rule(monkeypatch, short_testbed):
    short_testbed(mc_smoe)  # units share one short model, each with its own calibration and test data

    def broken(n_groups, **kwargs):
        return Negated(n_groups, **kwargs) if not kwargs else MSMoE(n_groups, **kwargs)

    monkeypatch.setattr(mc_smoe, "MSMoE", broken)
    trials = {}
    for seed in range(8):
        trials[seed] = mc_smoe.run_trial(seed, quick=True)
    result = summarize(mc_smoe.REPRODUCTION, True, trials)
    assert [c.outcome for c in result.of_kind("regime")] == ["pass", "pass"]
    assert result.headline.outcome == "contradicted"
