"""SMoRA: rank-wise routing, its reductions to plain LoRA, gradients, and the balancing bias."""

import pytest
import torch
from torch import nn

from diversa.nn.lora import LoRALinear, SMoRALinear, apply_smora, rank_gates

pytestmark = pytest.mark.usefixtures("one_thread")
D_IN, D_OUT = 12, 10


def _smora(r=8, k=3, alpha=6.0, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = SMoRALinear(nn.Linear(D_IN, D_OUT), r=r, k=k, alpha=alpha, **kwargs)
    with torch.no_grad():
        layer.lora_B.weight.normal_()
    return layer


def _plain_lora(layer, alpha):
    lora = LoRALinear(layer.base_layer, r=layer.r, alpha=alpha)
    with torch.no_grad():
        lora.lora_A.weight.copy_(layer.lora_A.weight)
        lora.lora_B.weight.copy_(layer.lora_B.weight)
    return lora


def test_all_ranks_with_weight_one_is_a_plain_rank_r_lora():
    layer = _smora()
    x = torch.randn(4, 5, D_IN)
    expected = _plain_lora(layer, alpha=layer.alpha * layer.r / layer.k)(x)  # alpha_lora / r == alpha / k
    torch.testing.assert_close(layer(x, rank_weights=torch.ones(layer.r)), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(layer.delta_weight(), _plain_lora(layer, layer.alpha * layer.r / layer.k).delta_weight())


def test_zero_router_with_all_ranks_active_is_a_plain_lora():
    layer = _smora(k=8)  # sigmoid(0) = 0.5 everywhere, bias 0, k = r: every gate is exactly 1
    with torch.no_grad():
        layer.router.weight.zero_()
    x = torch.randn(6, D_IN)
    torch.testing.assert_close(layer(x), _plain_lora(layer, layer.alpha)(x), atol=1e-6, rtol=0)


def test_top_k_equal_to_r_is_the_dense_gated_lora():
    layer = _smora(k=8)
    with torch.no_grad():
        layer.rank_bias.copy_(torch.linspace(-0.2, 0.2, 8))
    x = torch.randn(5, D_IN)
    s = torch.sigmoid(x @ layer.router.weight.T) + layer.rank_bias
    gates = 8 * s / s.sum(-1, keepdim=True)
    explicit = layer.base_layer(x) + (layer.alpha / 8) * ((x @ layer.lora_A.weight.T) * gates) @ layer.lora_B.weight.T
    torch.testing.assert_close(layer.eval()(x), explicit, atol=1e-6, rtol=0)


def test_exactly_k_gates_per_token_summing_to_k_on_the_top_scores():
    layer = _smora(r=16, k=4)
    with torch.no_grad():
        layer.rank_bias.normal_(0, 0.05)
    x = torch.randn(3, 7, D_IN)
    routing = layer.routing(x)
    gates = routing.gates.detach()
    assert torch.equal((gates > 0).sum(-1), torch.full((3, 7), 4))
    torch.testing.assert_close(gates.sum(-1), torch.full((3, 7), 4.0))
    scores = torch.sigmoid(x @ layer.router.weight.T) + layer.rank_bias
    expected = torch.topk(scores, 4, dim=-1).indices.sort(-1).values
    assert torch.equal(routing.topk_idx.sort(-1).values, expected)


def test_gradients_reach_only_the_selected_ranks():
    layer = _smora(r=8, k=3)
    x = torch.randn(1, D_IN)
    out, routing = layer(x, return_routing=True)
    out.sum().backward()
    selected = set(routing.topk_idx[0].tolist())
    a_rows = {i for i in range(8) if layer.lora_A.weight.grad[i].abs().sum() > 0}
    b_cols = {i for i in range(8) if layer.lora_B.weight.grad[:, i].abs().sum() > 0}
    assert b_cols == selected and a_rows == selected
    assert layer.router.weight.grad.abs().sum() > 0 and layer.base_layer.weight.grad is None


def test_gathered_and_dense_compute_agree_with_gradients():
    dense, gathered = _smora(r=8, k=3), _smora(r=8, k=3, dense_compute=False)
    x = torch.randn(2, 5, D_IN)
    out_dense, out_gathered = dense.eval()(x), gathered.eval()(x)
    torch.testing.assert_close(out_gathered, out_dense, atol=1e-6, rtol=0)
    out_dense.square().sum().backward()
    out_gathered.square().sum().backward()
    for name in ("lora_A", "lora_B", "router"):
        torch.testing.assert_close(getattr(gathered, name).weight.grad, getattr(dense, name).weight.grad,
                                   atol=1e-5, rtol=1e-5)


def test_block_partition_is_a_moe_of_lora_experts():
    """P = r / E ties the router over blocks: the output is sum_e g_e B_e A_e x over the selected blocks."""
    r, k = 8, 4  # E = 4 blocks of P = 2 ranks, 2 of them active
    layer = _smora(r=r, k=k, rank_partition=2).eval()
    x = torch.randn(6, D_IN)
    s = torch.sigmoid(x @ layer.router.weight.T)  # [6, E], one score per block
    top = torch.sort(s, dim=-1, descending=True, stable=True).indices[:, :2]
    expected = layer.base_layer(x).clone()
    for t in range(6):
        total = 2 * s[t, top[t]].sum()
        for e in top[t].tolist():
            block = slice(2 * e, 2 * e + 2)
            expert = LoRALinear(layer.base_layer, r=2, alpha=2 * layer.alpha / k)  # scale alpha / k
            with torch.no_grad():
                expert.lora_A.weight.copy_(layer.lora_A.weight[block])
                expert.lora_B.weight.copy_(layer.lora_B.weight[:, block])
            expected[t] += (k * s[t, e] / total) * (expert(x[t]) - layer.base_layer(x[t]))
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_fresh_layer_is_the_base_layer():
    layer = SMoRALinear(nn.Linear(D_IN, D_OUT), r=8, k=2)
    x = torch.randn(4, D_IN)
    assert torch.equal(layer(x), layer.base_layer(x))


def _skewed(r=4, k=2, rate=0.01):
    """Zero router, bias favouring ranks 0 and 1: every token selects ranks {0, 1}."""
    layer = _smora(r=r, k=k, bias_update_rate=rate)
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.rank_bias.copy_(torch.tensor([0.3, 0.2, 0.1, 0.0]))
    return layer


def test_bias_update_moves_under_and_over_used_ranks_by_exactly_the_rate():
    layer = _skewed().train()
    layer(torch.randn(5, D_IN))
    torch.testing.assert_close(layer.rank_bias, torch.tensor([0.29, 0.19, 0.11, 0.01]))
    assert not layer.rank_bias.requires_grad


def test_balanced_ranks_keep_their_bias():
    layer = _smora(r=2, k=1, bias_update_rate=0.01).train()
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[0, 0], layer.router.weight[1, 0] = 5.0, -5.0
    x = torch.zeros(6, D_IN)
    x[:3, 0], x[3:, 0] = 1.0, -1.0  # three tokens pick rank 0, three pick rank 1
    layer(x)
    assert torch.equal(layer.rank_bias, torch.zeros(2))


def test_no_bias_update_in_eval_without_grad_or_on_padding():
    layer = _skewed()
    before = layer.rank_bias.clone()
    layer.eval()(torch.randn(5, D_IN))
    with torch.no_grad():
        layer.train()(torch.randn(5, D_IN))
    layer.train()(torch.randn(5, D_IN), token_mask=torch.zeros(5, dtype=torch.bool))
    assert torch.equal(layer.rank_bias, before)
    layer.count_pad_tokens = True  # the official behaviour counts every token
    layer(torch.randn(5, D_IN), token_mask=torch.zeros(5, dtype=torch.bool))
    assert not torch.equal(layer.rank_bias, before)


def test_bias_outside_the_gate_changes_values_not_selection():
    inside, outside = _smora(r=8, k=3), _smora(r=8, k=3, bias_in_gate=False)
    with torch.no_grad():
        for layer in (inside, outside):
            layer.rank_bias.copy_(torch.linspace(-0.3, 0.3, 8))
    x = torch.randn(6, D_IN)
    a, b = inside.routing(x), outside.routing(x)
    assert torch.equal(a.topk_idx, b.topk_idx)
    assert not torch.allclose(a.gates, b.gates)


def test_rank_gates_ties_go_to_lower_ranks():
    idx, gates = rank_gates(torch.full((1, 4), 0.5), 2)
    assert idx.tolist() == [[0, 1]] and gates.tolist() == [[1.0, 1.0, 0.0, 0.0]]


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 9}, r"k must be an int in \[1, r=8\], got 9"),
    ({"k": 0}, "k must be"),
    ({"rank_partition": 3}, "rank_partition must be a positive divisor of r=8, got 3"),
    ({"r": 0}, "r must be a positive int"),
    ({"bias_update_rate": -1.0}, "bias_update_rate"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SMoRALinear(nn.Linear(D_IN, D_OUT), **{"r": 8, "k": 2, **kwargs})


def test_apply_smora_adapts_targets_and_trains_only_adapters():
    model = nn.Sequential()
    model.add_module("fc1", nn.Linear(D_IN, D_IN))
    model.add_module("fc2", nn.Linear(D_IN, D_OUT))
    apply_smora(model, ["fc1", "fc2"], r=4, k=2)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        f"{m}.{w}.weight" for m in ("fc1", "fc2") for w in ("lora_A", "lora_B", "router")}
