import math

import pytest
import torch

from diversa.nn.moe import (
    GlobalBatchLBL,
    adamoe_load_balancing_loss,
    load_balance_stats,
    router_z_loss,
    switch_load_balancing_loss,
    top1_load_balancing_loss,
)


pytestmark = pytest.mark.usefixtures("one_thread")


def _balanced_idx(num_tokens, num_experts, k):
    # token t uses experts t, t+1, ... mod E: every expert gets exactly T*k/E slots
    t = torch.arange(num_tokens)[:, None]
    return (t + torch.arange(k)[None, :]) % num_experts


@pytest.mark.parametrize("num_experts, k", [(4, 1), (8, 2), (6, 3)])
def test_balanced_routing_gives_one_and_uniform_probs_shortcut(num_experts, k):
    probs = torch.full((24, num_experts), 1.0 / num_experts)
    idx = _balanced_idx(24, num_experts, k)
    assert switch_load_balancing_loss(probs, idx, num_experts).item() == pytest.approx(1.0, abs=1e-6)
    collapsed = torch.zeros(24, k, dtype=torch.long) + torch.arange(k)
    # the Sigma-MoE-Tiny shortcut: uniform P gives 1 whatever the allocation f is
    assert switch_load_balancing_loss(probs, collapsed, num_experts).item() == pytest.approx(1.0, abs=1e-6)


def test_balance_loss_is_minimal_at_uniform_routing():
    torch.manual_seed(0)
    num_experts, k = 8, 2
    logits = torch.randn(64, num_experts, requires_grad=True)
    values = []
    for scale in (0.0, 0.5, 1.0, 3.0):
        probs = (scale * logits).softmax(-1)
        idx = torch.sort(probs, dim=-1, descending=True, stable=True).indices[:, :k]
        values.append(switch_load_balancing_loss(probs, idx, num_experts).item())
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert min(values[1:]) >= 1.0 - 1e-6 and values[-1] > values[1]
    probs = logits.softmax(-1)
    idx = torch.zeros(64, 1, dtype=torch.long)
    loss = switch_load_balancing_loss(probs, idx, num_experts)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0  # P carries gradient


def test_gshard_counts_first_choice_only():
    probs = torch.full((4, 4), 0.25)
    idx = torch.tensor([[0, 1], [0, 2], [0, 3], [0, 1]])
    probs = torch.tensor([[0.7, 0.1, 0.1, 0.1]] * 4)
    g = switch_load_balancing_loss(probs, idx, 4, first_choice_only=True)
    assert g.item() == pytest.approx(4 * 0.7)
    s = switch_load_balancing_loss(probs, idx, 4)
    assert s.item() == pytest.approx(4 * (0.5 * 0.7 + 0.5 * 0.1))


def test_masked_tokens_are_ignored():
    probs = torch.rand(10, 4).softmax(-1)
    idx = torch.randint(0, 4, (10, 2))
    mask = torch.tensor([True] * 6 + [False] * 4)
    garbage_probs = probs.clone()
    garbage_probs[6:] = torch.tensor([1.0, 0, 0, 0])
    garbage_idx = idx.clone()
    garbage_idx[6:] = 0
    assert torch.allclose(switch_load_balancing_loss(probs, idx, 4, mask),
                          switch_load_balancing_loss(garbage_probs, garbage_idx, 4, mask))
    logits = torch.randn(10, 4)
    other = logits.clone()
    other[6:] = 100.0
    assert torch.allclose(router_z_loss(logits, mask), router_z_loss(other, mask))
    with pytest.raises(ValueError, match="mask"):
        switch_load_balancing_loss(probs, idx, 4, mask[:5])


def test_z_loss_value():
    logits = torch.zeros(5, 4)
    assert router_z_loss(logits).item() == pytest.approx(math.log(4) ** 2)


def test_unused_experts_and_empty_mask_do_not_crash():
    probs = torch.rand(6, 8).softmax(-1)
    idx = torch.zeros(6, 1, dtype=torch.long)
    stats = load_balance_stats(idx, 8, probs)
    assert stats["n_dead"] == 7 and stats["max_rel_dev"] == pytest.approx(7.0)
    assert stats["min_rel_dev"] == pytest.approx(-1.0)
    empty = torch.zeros(6, dtype=torch.bool)
    assert switch_load_balancing_loss(probs, idx, 8, empty).item() == 0.0


def test_load_balance_stats_balanced():
    stats = load_balance_stats(_balanced_idx(32, 8, 2), 8, torch.full((32, 8), 0.125))
    assert stats["max_rel_dev"] == pytest.approx(0.0) and stats["min_rel_dev"] == pytest.approx(0.0)
    assert stats["cv_f"] == pytest.approx(0.0) and stats["entropy_f"] == pytest.approx(1.0)
    assert stats["lbl"] == pytest.approx(1.0) and stats["n_dead"] == 0


def test_global_batch_lbl():
    probs = torch.rand(12, 4).softmax(-1)
    idx = torch.randint(0, 4, (12, 2))
    one = GlobalBatchLBL(4, use_previous=False)
    one.accumulate(idx)
    assert torch.allclose(one.loss(probs), switch_load_balancing_loss(probs, idx, 4))
    lbl = GlobalBatchLBL(4)
    with pytest.raises(ValueError, match="accumulate"):
        lbl.loss(probs)
    lbl.accumulate(idx[:6])
    lbl.accumulate(idx[6:])
    first = lbl.loss(probs[:6])  # first step: current counts
    lbl.reset()
    lbl.accumulate(torch.zeros(6, 2, dtype=torch.long))
    # uses the previous step's global counts, not this micro-batch's
    assert torch.allclose(lbl.loss(probs[:6]), first)
    with pytest.raises(ValueError):
        GlobalBatchLBL(0)


def test_adamoe_loss_variants():
    n, m, k = 4, 4, 2
    probs = torch.rand(16, n + m).softmax(-1)
    idx = torch.sort(probs, dim=-1, descending=True, stable=True).indices[:, :k]
    individual = adamoe_load_balancing_loss(probs, idx, n, m, "individual")
    assert torch.allclose(individual, switch_load_balancing_loss(probs, idx, n + m))
    average = adamoe_load_balancing_loss(probs, idx, n, m)
    perm = torch.cat([torch.arange(n), n + torch.randperm(m)])
    # permuting the null experts leaves the averaged loss unchanged
    inv = torch.argsort(perm)
    assert torch.allclose(adamoe_load_balancing_loss(probs[:, perm], inv[idx], n, m), average)
    uniform = torch.full((16, n + m), 1.0 / (n + m))
    balanced = (torch.arange(16)[:, None] + torch.arange(k)[None, :] * 8 // 2) % (n + m)
    assert adamoe_load_balancing_loss(uniform, balanced, n, m).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="null_load"):
        adamoe_load_balancing_loss(probs, idx, n, m, "mean")


def test_top1_lbl_closed_forms():
    num_experts = 4
    assert top1_load_balancing_loss(torch.zeros(8, num_experts)).item() == pytest.approx(num_experts)
    balanced = torch.full((8, num_experts), -50.0)
    balanced[torch.arange(8), torch.arange(8) % num_experts] = 50.0
    assert top1_load_balancing_loss(balanced).item() == pytest.approx(1.0, abs=1e-4)
    peaked = torch.full((8, num_experts), -50.0)
    peaked[:, 2] = 50.0
    assert top1_load_balancing_loss(peaked).item() == pytest.approx(num_experts, abs=1e-4)
    with pytest.raises(ValueError, match="tau"):
        top1_load_balancing_loss(balanced, tau=0.0)
