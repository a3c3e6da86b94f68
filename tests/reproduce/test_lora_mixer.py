"""The LoRA-Mixer reproduction on a shortened testbed (150-step base, short phases, 32 test prompts per task)."""

import pytest
import torch

from diversa.datasets.algotasks import AlgoTasks
from diversa.nn.lora import LoRAMixerLinear, adapter_layers
from diversa.reproduce import lora_mixer
from diversa.reproduce.runner import summarize
from diversa.reproduce.testbeds import moe_lm

SHORT_BASE_STEPS = 150


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("lora_mixer")


@pytest.fixture(autouse=True)
def short_testbed(monkeypatch, cache, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(cache))
    monkeypatch.setattr(lora_mixer, "base_dense", lambda seed: moe_lm.base_dense(seed, steps=SHORT_BASE_STEPS))
    monkeypatch.setattr(lora_mixer, "QUICK", {"phase1_steps": 12, "n_test_per_task": 32})
    monkeypatch.setattr(lora_mixer, "N_ROUTE", 64)
    monkeypatch.setattr(lora_mixer, "ROUTE_EPOCHS", 2)


def test_trial_measures_every_check_at_matched_parameters():
    result = lora_mixer.run_trial(0, quick=True)
    assert set(result.pairs) == {c.name for c in lora_mixer.REPRODUCTION.checks}
    d = result.diagnostics
    assert set(d["trainable_parameters"].values()) == {18_432}
    assert d["phase1_steps"] == 12 and d["phase2_steps"] == 2 * 64 // lora_mixer.PHASE2_BATCH
    stats = d["routing_mixer"]
    assert len(stats["per_linear"]) == 8
    for linear in stats["per_linear"].values():
        assert sum(linear["load"]) == pytest.approx(1.0, abs=1e-3)
        assert 0.0 <= linear["mi"] <= 1.0 + 1e-6
        assert 0.0 <= linear["entropy"] <= torch.log(torch.tensor(4.0)).item() + 1e-6
    # the SBL entropy term sharpens the routers relative to the balance term alone
    balance_only, sbl = result.pairs["sbl-sharpens-routing"]
    assert sbl < balance_only


def test_hard_routing_trains_only_each_examples_expert():
    base = moe_lm.base_dense(0, steps=SHORT_BASE_STEPS)
    experts = lora_mixer._mixer(base)
    lora_mixer._set_trainable(experts, routers=False, experts=True)
    batches = [AlgoTasks(("reverse",), seed=s).sample(16)._replace(task_id=torch.full((16,), 1)) for s in range(3)]
    routers = {n: m.router.weight.clone() for n, m in adapter_layers(experts, LoRAMixerLinear).items()}
    lora_mixer.fit(experts, batches, 3e-3, expert_ids=True)
    for name, layer in adapter_layers(experts, LoRAMixerLinear).items():
        assert torch.equal(layer.router.weight, routers[name])
        touched = [bool(layer.lora_B[e].weight.abs().sum() > 0) for e in range(lora_mixer.N_EXPERTS)]
        assert touched == [False, True, False, False]


@pytest.mark.slow  # 40-80 s: trains 8 shortened units; runs in `make test-all`
def test_a_broken_mixer_is_contradicted_by_the_verdict_rule(monkeypatch):
    # units share the short base (built once) but draw their own fine-tuning, routing and test data
    monkeypatch.setattr(lora_mixer, "base_dense", lambda seed: moe_lm.base_dense(0, steps=SHORT_BASE_STEPS))
    train_router = lora_mixer._router_arm

    def broken_router_arm(experts, phase2, lam, seed):
        model = train_router(experts, phase2, lam, seed)
        if lam == lora_mixer.SBL_LAMBDA:  # the method's arm: its expert updates flipped and amplified
            for layer in adapter_layers(model, LoRAMixerLinear).values():
                layer.scalings = [-8.0 * s for s in layer.scalings]
        return model

    monkeypatch.setattr(lora_mixer, "_router_arm", broken_router_arm)
    monkeypatch.setattr(lora_mixer, "FLOOR", 0.0)  # the 150-step base is weaker than the real one
    trials = {seed: lora_mixer.run_trial(seed, quick=True) for seed in range(8)}
    result = summarize(lora_mixer.REPRODUCTION, True, trials)
    assert result.headline.outcome == "contradicted"
