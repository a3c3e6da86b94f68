import pytest
import torch
import torch.nn.functional as F

from diversa.nn.moe import MoEFeedForward, RoutingOverride


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
    y, y_ref = layer(x), ref(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, y_ref, atol=1e-6, rtol=1e-5)
    (y.square().sum() + layer.last_aux["lb"]).backward()
    (y_ref.square().sum() + ref.last_aux["lb"]).backward()
    for (name, p), q in zip(layer.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_single_expert_equals_dense_mlp():
    layer = MoEFeedForward(10, 6, num_experts=1, top_k=1, expert_type="gelu", normalize_topk=True)
    x = torch.randn(9, 10)
    expected = F.gelu(x @ layer.w1[0].t()) @ layer.w2[0].t()
    torch.testing.assert_close(layer(x), expected)
    swiglu = MoEFeedForward(10, 6, num_experts=1, top_k=1, normalize_topk=True)
    gate, up = (x @ swiglu.w_gate_up[0].t()).split(6, dim=-1)
    torch.testing.assert_close(swiglu(x), (F.silu(gate) * up) @ swiglu.w_down[0].t())


def test_each_token_gets_k_experts_and_stats():
    layer = MoEFeedForward(8, 4, num_experts=6, top_k=2)
    layer(torch.randn(3, 5, 8))
    idx = layer.last_router.topk_idx
    assert idx.shape == (15, 2) and all(len(set(r)) == 2 for r in idx.tolist())
    assert layer.last_stats["expert_evals"] == 30 and layer.last_stats["avg_true_experts"] == 2.0
    assert set(layer.last_aux) == {"lb", "z"} and layer.last_aux["lb"].requires_grad


def test_override_changes_routing():
    torch.manual_seed(0)
    layer = MoEFeedForward(8, 4, num_experts=6, top_k=2)
    x = torch.randn(20, 8)
    base = layer(x)
    torch.testing.assert_close(layer(x, routing_override=RoutingOverride.rank((1, 2))), base)
    weak = layer(x, routing_override=RoutingOverride.rank((2,)))
    order = torch.sort(layer.last_router.probs, dim=-1, descending=True, stable=True).indices
    assert torch.equal(layer.last_router.topk_idx[:, 0], order[:, 1])
    assert layer.last_stats["expert_evals"] == 20 and not torch.allclose(weak, base)
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
    y = layer(x)
    assert torch.equal(y, torch.zeros_like(y)) and not calls
    assert layer.last_stats["expert_evals"] == 0 and layer.last_stats["frac_tokens_zero_true"] == 1.0


def test_padded_rows_are_excluded_from_losses():
    layer = MoEFeedForward(8, 4, num_experts=4, top_k=1)
    x = torch.randn(2, 6, 8)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[:, 4:] = False
    layer(x, mask=mask)
    lb = layer.last_aux["lb"]
    x2 = x.clone()
    x2[:, 4:] = 10 * torch.randn(2, 2, 8)
    layer(x2, mask=mask)
    torch.testing.assert_close(layer.last_aux["lb"], lb)


def test_determinism():
    torch.manual_seed(4)
    a = MoEFeedForward(8, 4)
    torch.manual_seed(4)
    b = MoEFeedForward(8, 4)
    x = torch.randn(10, 8)
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("kwargs, word", [
    ({"top_k": 9}, "top_k"), ({"top_k": 0}, "top_k"), ({"num_experts": 0}, "num_experts"),
    ({"expert_type": "relu"}, "expert_type"), ({"dispatch": "magic"}, "dispatch"),
    ({"lb_type": "foo"}, "lb_type"), ({"num_null_experts": -1}, "num_null_experts"),
    ({"null_load": "x"}, "null_load"), ({"d_expert": 0}, "d_expert"),
])
def test_bad_configuration(kwargs, word):
    with pytest.raises(ValueError, match=word):
        MoEFeedForward(8, **{"d_expert": 4, **kwargs})


def test_wrong_input_width():
    with pytest.raises(ValueError, match="d_model"):
        MoEFeedForward(8, 4)(torch.randn(3, 7))


@pytest.mark.parametrize("lb_type", ["gshard", "top1", "global_batch", "none"])
def test_lb_types_run(lb_type):
    layer = MoEFeedForward(8, 4, num_experts=4, top_k=1, lb_type=lb_type)
    layer.train()
    layer(torch.randn(10, 8))
    lb = layer.last_aux["lb"]
    assert torch.isfinite(lb) and (lb.item() == 0.0) == (lb_type == "none")
    layer.on_optimizer_step()
