import pytest
import torch
import torch.nn.functional as F

from diversa.nn.moe import MoEFeedForward, RoutingOverride, routing_stats, switch_load_balancing_loss


pytestmark = pytest.mark.usefixtures("one_thread")


def _copy(dst, src):
    dst.load_state_dict(src.state_dict())
    return dst


@pytest.mark.parametrize("expert_type", ["swiglu", "gelu"])
@pytest.mark.parametrize("dispatch", ["bmm", "segments", "auto"])
@pytest.mark.parametrize("num_null", [0, 3])
def test_dropless_dispatch_equals_dense_reference_with_gradients(expert_type, dispatch, num_null):
    torch.manual_seed(1)
    layer = MoEFeedForward(12, 8, num_experts=5, top_k=3, expert_type=expert_type, dispatch=dispatch,
                           num_null_experts=num_null, init_std=0.3)
    ref = _copy(MoEFeedForward(12, 8, num_experts=5, top_k=3, expert_type=expert_type, dense_reference=True,
                               num_null_experts=num_null), layer)
    x = torch.randn(2, 7, 12)
    (y, logits), (y_ref, logits_ref) = layer(x), ref(x)
    assert y.shape == x.shape and logits.shape == (14, 5 + num_null)
    torch.testing.assert_close(y, y_ref, atol=1e-6, rtol=1e-5)
    (y.square().sum() + layer.aux_losses(logits).lb).backward()
    (y_ref.square().sum() + ref.aux_losses(logits_ref).lb).backward()
    for (name, p), q in zip(layer.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_single_expert_equals_dense_mlp():
    layer = MoEFeedForward(10, 6, num_experts=1, top_k=1, expert_type="gelu", normalize_topk=True)
    x = torch.randn(9, 10)
    expected = F.gelu(x @ layer.w1[0].t()) @ layer.w2[0].t()
    torch.testing.assert_close(layer(x)[0], expected)
    swiglu = MoEFeedForward(10, 6, num_experts=1, top_k=1, normalize_topk=True)
    gate, up = (x @ swiglu.w_gate_up[0].t()).split(6, dim=-1)
    torch.testing.assert_close(swiglu(x)[0], (F.silu(gate) * up) @ swiglu.w_down[0].t())


def test_returns_router_logits_and_keeps_no_state():
    torch.manual_seed(2)
    layer = MoEFeedForward(8, 4, num_experts=6, top_k=2)
    x = torch.randn(3, 5, 8)
    y, logits = layer(x)
    torch.testing.assert_close(logits, x.reshape(15, 8) @ layer.router.weight.t())
    routed = layer.route(logits)
    idx = routed.topk_idx
    assert idx.shape == (15, 2) and all(len(set(r)) == 2 for r in idx.tolist())
    assert torch.equal(idx, logits.softmax(-1).topk(2, dim=-1).indices)
    y_routed, applied = layer(x, return_routing=True)
    assert torch.equal(y_routed, y) and torch.equal(applied.topk_idx, idx)
    before = dict(vars(layer))
    layer(torch.randn(4, 8))
    assert vars(layer).keys() == before.keys()  # a forward leaves nothing behind on the module
    losses = layer.aux_losses(logits)
    assert losses.lb.requires_grad and losses.z.requires_grad
    torch.testing.assert_close(losses.lb, switch_load_balancing_loss(routed.probs, idx, 6))
    torch.testing.assert_close(losses.z, torch.logsumexp(logits, -1).square().mean())
    assert routing_stats(routed, 6) == {"expert_evals": 30, "avg_true_experts": 2.0, "frac_tokens_zero_true": 0.0,
                                        "null_slot_share": 0.0}


def test_forward_works_under_activation_checkpointing():
    from torch.utils.checkpoint import checkpoint

    torch.manual_seed(3)
    layer = MoEFeedForward(8, 4, num_experts=4, top_k=2, init_std=0.5)
    x = torch.randn(10, 8, requires_grad=True)
    y, logits = layer(x)
    (y.square().sum() + layer.aux_losses(logits).lb).backward()
    expected = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    y_ckpt, logits_ckpt = checkpoint(layer, x, use_reentrant=False)
    (y_ckpt.square().sum() + layer.aux_losses(logits_ckpt).lb).backward()
    for p, g in zip(layer.parameters(), expected):
        torch.testing.assert_close(p.grad, g)


def test_override_changes_routing():
    torch.manual_seed(0)
    layer = MoEFeedForward(8, 4, num_experts=6, top_k=2)
    x = torch.randn(20, 8)
    base, logits = layer(x)
    torch.testing.assert_close(layer(x, routing_override=RoutingOverride.rank((1, 2)))[0], base)
    weak, routed = layer(x, routing_override=RoutingOverride.rank((2,)), return_routing=True)
    order = torch.sort(logits.softmax(-1), dim=-1, descending=True, stable=True).indices
    assert torch.equal(routed.topk_idx[:, 0], order[:, 1])
    assert routing_stats(routed, 6)["expert_evals"] == 20 and not torch.allclose(weak, base)
    manual = torch.stack([layer.expert_forward(int(e), x[t:t + 1])[0] for t, e in enumerate(order[:, 1])])
    torch.testing.assert_close(weak, manual)


def test_only_null_selection_outputs_zero_and_calls_no_expert(monkeypatch):
    layer = MoEFeedForward(8, 4, num_experts=2, top_k=2, num_null_experts=4)
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.null_weight.fill_(0.0)
        layer.router.null_weight[:, 0] = 5.0
    calls = []
    monkeypatch.setattr(torch, "bmm", lambda *a: calls.append(1) or None)
    monkeypatch.setattr(layer, "expert_forward", lambda *a: calls.append(1) or None)
    x = torch.ones(6, 8)
    y, routed = layer(x, return_routing=True)
    assert torch.equal(y, torch.zeros_like(y)) and not calls
    stats = routing_stats(routed, 2)
    assert stats["expert_evals"] == 0 and stats["frac_tokens_zero_true"] == 1.0 and stats["null_slot_share"] == 1.0


def test_padded_rows_are_excluded_from_losses():
    layer = MoEFeedForward(8, 4, num_experts=4, top_k=1)
    x = torch.randn(2, 6, 8)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[:, 4:] = False
    lb = layer.aux_losses(layer(x)[1], mask.reshape(-1)).lb
    x2 = x.clone()
    x2[:, 4:] = 10 * torch.randn(2, 2, 8)
    changed = layer.aux_losses(layer(x2)[1], mask.reshape(-1))
    torch.testing.assert_close(changed.lb, lb)
    assert not torch.allclose(layer.aux_losses(layer(x2)[1]).lb, lb)  # the padded rows would have counted
    nothing = layer.aux_losses(layer(x)[1], torch.zeros(12, dtype=torch.bool))
    assert nothing.lb.item() == 0 and nothing.z.item() == 0


def test_determinism():
    torch.manual_seed(4)
    a = MoEFeedForward(8, 4)
    torch.manual_seed(4)
    b = MoEFeedForward(8, 4)
    x = torch.randn(10, 8)
    assert torch.equal(a(x)[0], b(x)[0])


@pytest.mark.parametrize("kwargs, word", [
    ({"top_k": 9}, "top_k"), ({"top_k": 0}, "top_k"), ({"num_experts": 0}, "num_experts"),
    ({"expert_type": "relu"}, "expert_type"), ({"dispatch": "magic"}, "dispatch"),
    ({"lb_type": "foo"}, "lb_type"), ({"num_null_experts": -1}, "num_null_experts"),
    ({"null_load": "x"}, "null_load"), ({"d_expert": 0}, "d_expert"),
])
def test_bad_configuration(kwargs, word):
    with pytest.raises(ValueError, match=word):
        MoEFeedForward(8, **{"d_expert": 4, **kwargs})


def test_wrong_input_width_and_mask():
    with pytest.raises(ValueError, match="d_model"):
        MoEFeedForward(8, 4)(torch.randn(3, 7))
    layer = MoEFeedForward(8, 4)
    with pytest.raises(ValueError, match="mask"):
        layer.aux_losses(layer(torch.randn(3, 8))[1], torch.ones(4, dtype=torch.bool))


@pytest.mark.parametrize("lb_type", ["gshard", "top1", "global_batch", "none"])
def test_lb_types_run(lb_type):
    layer = MoEFeedForward(8, 4, num_experts=4, top_k=1, lb_type=lb_type)
    layer.train()
    lb = layer.aux_losses(layer(torch.randn(10, 8))[1]).lb
    assert torch.isfinite(lb) and (lb.item() == 0.0) == (lb_type == "none")
    layer.on_optimizer_step()


@pytest.mark.parametrize("num_null, lb_type", [(0, "switch"), (0, "top1"), (4, "switch")])
def test_aux_losses_reuse_the_forward_routing(num_null, lb_type):
    torch.manual_seed(5)
    layer = MoEFeedForward(8, 4, num_experts=4, top_k=2, num_null_experts=num_null, lb_type=lb_type, init_std=0.5)
    x = torch.randn(12, 8)
    _, routed = layer(x, return_routing=True)
    again = layer.aux_losses(routed.logits)
    reused = layer.aux_losses(routed.logits, routing=routed)
    assert torch.equal(reused.lb, again.lb) and torch.equal(reused.z, again.z)
    other = layer(torch.randn(12, 8), return_routing=True)[1]
    with pytest.raises(ValueError, match="routing"):
        layer.aux_losses(routed.logits, routing=other)  # a routing of other logits would give a wrong loss
