"""The Sub-MoE reproduction on a shortened testbed (conftest.py: base MoE
trained 150 steps, 32 test prompts per task)."""

import pytest
import torch

from diversa.combine.moe import SubMoE
from diversa.reproduce import sub_moe
from diversa.reproduce.runner import summarize

@pytest.fixture(autouse=True)
def short_testbed(monkeypatch, short_moe_compression):
    monkeypatch.setattr(sub_moe, "QUICK", {"n_test_per_task": 32})
    return short_moe_compression


def test_trial_measures_every_check():
    result = sub_moe.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in sub_moe.REPRODUCTION.checks}
    d = result.diagnostics
    assert d["expert_params_submoe_compressed"] <= d["expert_params_mcsmoe"] < d["expert_params_submoe"]
    # k-means on outputs finds groups whose outputs agree more than the router-logit groups' do
    router, kmeans = result.pairs["clusters-functionally-closer"]
    assert kmeans > router
    assert 0 < result.pairs["union-basis-beats-per-expert-svd"][1] < 1  # a relative error, measured


class Silenced(SubMoE):
    """A broken merge whose merged experts output nothing."""

    def merged_experts(self, name, layer):
        experts = super().merged_experts(name, layer)
        with torch.no_grad():
            for matrices in experts.matrices().values():
                for p in matrices.parameters():
                    p.zero_()
        return experts


def test_a_broken_merge_is_contradicted_by_the_verdict_rule(monkeypatch, short_testbed):
    short_testbed(sub_moe)  # units share one short model, each with its own calibration and test data
    monkeypatch.setattr(sub_moe, "SubMoE", Silenced)
    trials = {seed: sub_moe.run_trial(seed, quick=True) for seed in range(8)}
    result = summarize(sub_moe.REPRODUCTION, True, trials)
    assert [c.outcome for c in result.of_kind("regime")] == ["pass", "pass"]
    assert result.headline.outcome == "contradicted"
