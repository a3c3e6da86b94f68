"""forward_kwargs / record_routing: reach routed layers inside a model, leaving nothing behind."""

import pytest
import torch
from torch import nn

from diversa.nn.lora import LoRAMixerLinear, SMoRALinear, apply_lora, forward_kwargs, record_routing

pytestmark = pytest.mark.usefixtures("one_thread")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = LoRAMixerLinear(nn.Linear(6, 6), num_experts=2, r=2)
        self.fc1 = SMoRALinear(nn.Linear(6, 6), r=4, k=2)

    def forward(self, x):
        return self.fc1(self.q_proj(x) + self.q_proj(x))


def _hooks(model):
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())


def test_every_call_of_every_routed_layer_is_recorded_in_order():
    model = Net()
    x = torch.randn(3, 6)
    with record_routing(model) as records:
        out = model(x)
    assert [r.name for r in records] == ["q_proj", "q_proj", "fc1"]
    assert records[2].routing.gates.shape == (3, 4) and records[0].routing.weights.shape == (3, 2)
    assert torch.equal(out, model(x)) and _hooks(model) == 0
    with record_routing(model, SMoRALinear) as only_smora:
        model(x)
    assert [r.name for r in only_smora] == ["fc1"]


def test_forward_kwargs_reach_the_layers_and_are_removed_even_on_error():
    model = Net()
    x = torch.randn(3, 6)
    with forward_kwargs(model, LoRAMixerLinear, expert_weights=torch.tensor(1)), record_routing(model) as records:
        model(x)
    assert torch.equal(records[0].routing.weights, torch.tensor([[0.0, 1.0]] * 3))
    with pytest.raises(ValueError, match="expert ids"):
        with forward_kwargs(model, LoRAMixerLinear, expert_weights=torch.tensor(7)):
            model(x)
    assert _hooks(model) == 0


def test_models_without_routed_layers_are_named():
    plain = apply_lora(nn.Sequential(nn.Linear(4, 4)), ["0"], r=2)
    with pytest.raises(ValueError, match="Sequential has no routed adapter layers"):
        with record_routing(plain):
            pass
    with pytest.raises(ValueError, match="Sequential has no LoRAMixerLinear layers"):
        with forward_kwargs(plain, LoRAMixerLinear, expert_weights=torch.tensor(0)):
            pass
