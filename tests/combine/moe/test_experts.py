import pytest
import torch
from torch import nn

from diversa.combine.moe import ExpertWeights, find_moe_layers, read_experts
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig

KINDS = ["gelu", "mixtral", "swiglu"]



@pytest.mark.parametrize("kind", KINDS)
def test_experts_and_routing_reproduce_the_layer(kind, make_layer, layer_output):
    # the layer's output is the gate-weighted sum of the read experts over the read routing: a wrong
    # gate/up order, a transposed matrix or a wrong activation would break this
    layer = make_layer(kind)
    x = torch.randn(40, 16)
    ex = read_experts(layer)
    logits, idx = ex.route(x)
    probs = logits.softmax(-1)
    w = probs.gather(1, idx)
    w = w / w.sum(1, keepdim=True)
    expected = sum(w[:, j:j + 1] * torch.stack([ex.expert_forward(int(e), x[t:t + 1])[0]
                                                for t, e in enumerate(idx[:, j])]) for j in range(idx.shape[1]))
    torch.testing.assert_close(layer_output(layer, x), expected, atol=1e-5, rtol=1e-5)


def test_matrices_split_gate_and_up_rows(make_layer):
    ex = read_experts(make_layer("swiglu"))
    m = ex.matrices()
    assert set(m) == {"gate", "up", "down"}
    torch.testing.assert_close(torch.cat([m["gate"], m["up"]], dim=1), ex.w_in)
    assert set(read_experts(make_layer("gelu")).matrices()) == {"up", "down"}


def test_experts_of_different_shapes_are_rejected():
    w_in = [torch.randn(8, 4), torch.randn(8, 4), torch.randn(6, 4)]
    w_out = [torch.randn(4, 8)] * 3
    with pytest.raises(ValueError, match="experts differ in shape.*expert 2"):
        ExpertWeights.from_matrices(w_in, w_out, gated=False, activation=nn.GELU())


def test_unsupported_module_is_a_type_error():
    with pytest.raises(TypeError, match="not a supported MoE layer"):
        read_experts(nn.Linear(4, 4))


def test_find_moe_layers_in_a_model():
    model = TinyLM(TinyLMConfig(n_layers=3, moe=MoEConfig(num_experts=4, top_k=2, d_expert=8), moe_layers=(0, 2)))
    assert find_moe_layers(model) == ["blocks.0.ffn", "blocks.2.ffn"]
    assert find_moe_layers(nn.Linear(3, 3)) == []
