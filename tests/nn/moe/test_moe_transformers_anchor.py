"""Equivalence of diversa.nn.moe with HF transformers' Mixtral / Switch Transformers (spec 0.3, 0.6)."""

import pytest
import torch

from diversa.nn.moe import MoEFeedForward, adamoe_load_balancing_loss, router_z_loss, switch_load_balancing_loss

transformers = pytest.importorskip("transformers")
mixtral = pytest.importorskip("transformers.models.mixtral.modeling_mixtral")
switch = pytest.importorskip("transformers.models.switch_transformers.modeling_switch_transformers")


pytestmark = pytest.mark.usefixtures("one_thread")


def _routing(num_tokens, num_experts, k, seed=0):
    torch.manual_seed(seed)
    logits = torch.randn(num_tokens, num_experts) * 2
    probs = logits.softmax(-1)
    idx = torch.sort(probs, dim=-1, descending=True, stable=True).indices[:, :k]
    return logits, probs, idx


@pytest.mark.parametrize("num_experts, k", [(8, 2), (8, 1), (6, 3)])
def test_switch_loss_matches_mixtral_times_k(num_experts, k):
    logits, probs, idx = _routing(40, num_experts, k)
    hf = mixtral.load_balancing_loss_func((logits,), num_experts=num_experts, top_k=k)
    ours = switch_load_balancing_loss(probs, idx, num_experts)
    torch.testing.assert_close(ours * k, hf.float(), atol=1e-6, rtol=1e-5)
    # AdaMoE's "individual" variant over n + m experts is the same quantity
    null = adamoe_load_balancing_loss(probs, idx, num_experts - 2, 2, null_load="individual")
    torch.testing.assert_close(null * k, hf.float(), atol=1e-6, rtol=1e-5)


def test_top1_switch_loss_matches_switch_transformers():
    _, probs, idx = _routing(32, 8, 1, seed=1)
    hf = switch.load_balancing_loss_func(probs[None], idx[None, :, 0])
    torch.testing.assert_close(switch_load_balancing_loss(probs, idx, 8), torch.as_tensor(hf).float())


def test_z_loss_matches_switch_transformers():
    logits, _, _ = _routing(32, 8, 1, seed=2)
    hf = switch.router_z_loss_func(logits[None])
    torch.testing.assert_close(router_z_loss(logits), torch.as_tensor(hf).float())


@pytest.mark.parametrize("k", [1, 2])
def test_moe_block_matches_mixtral_sparse_moe_block(k):
    d, h, num_experts = 16, 12, 4
    config = mixtral.MixtralConfig(hidden_size=d, intermediate_size=h, num_local_experts=num_experts,
                                   num_experts_per_tok=k, hidden_act="silu")
    torch.manual_seed(0)
    block = mixtral.MixtralSparseMoeBlock(config).eval()
    experts = getattr(block, "experts", None)
    if not (hasattr(experts, "gate_up_proj") and hasattr(experts, "down_proj") and hasattr(block.gate, "weight")):
        pytest.skip("transformers' Mixtral layout differs from the 5.x stacked gate_up_proj/down_proj layout")
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.3)
    ours = MoEFeedForward(d, h, num_experts=num_experts, top_k=k, expert_type="swiglu", normalize_topk=True).eval()
    with torch.no_grad():
        ours.router.weight.copy_(block.gate.weight)
        ours.w_gate_up.copy_(experts.gate_up_proj)
        ours.w_down.copy_(experts.down_proj)
    x = torch.randn(2, 9, d)
    with torch.no_grad():
        expected = block(x)
        expected = expected[0] if isinstance(expected, tuple) else expected
        y, router_logits = ours(x)
        torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)
        hf_logits, hf_weights, hf_index = block.gate(x.reshape(-1, d))
        torch.testing.assert_close(router_logits, hf_logits, atol=1e-6, rtol=1e-6)
        routed = ours.route(router_logits)
        assert torch.equal(routed.topk_idx, hf_index)
        torch.testing.assert_close(routed.topk_w, hf_weights)
        # the balance loss from our router logits is transformers' (times k, see above)
        hf = mixtral.load_balancing_loss_func((hf_logits,), num_experts=num_experts, top_k=k)
        torch.testing.assert_close(ours.aux_losses(router_logits).lb * k, hf.float(), atol=1e-6, rtol=1e-5)
