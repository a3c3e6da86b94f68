import copy

import pytest
import torch

from diversa.datasets.algotasks import AlgoTasks
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig
from diversa.nn.moe import MoEFeedForward, routing_stats
from diversa.nn.moe.null_experts import add_null_experts, true_expert_counts
from diversa.nn.training import lm_loss


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(**kw):
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(moe=MoEConfig(num_experts=4, top_k=2, d_expert=16, **kw))).eval()
    with torch.no_grad():  # spread the router so routing is not near-uniform
        for layer in model.moe_layers():
            layer.router.weight.mul_(50)
    return model


@pytest.mark.parametrize("num_null, top_k", [(8, 4), (4, 4), (8, 6)])
def test_tiled_conversion_is_function_preserving(num_null, top_k):
    base = _model()
    ids = AlgoTasks(seed=0).sample(8).input_ids
    expected = base(ids).logits
    converted = add_null_experts(copy.deepcopy(base), num_null=num_null, top_k=top_k, init="tile")
    torch.testing.assert_close(converted(ids).logits, expected, atol=1e-6, rtol=0)
    counts = true_expert_counts(converted, ids)
    assert counts.shape == (2, 8, 24) and (counts == 2).all()
    assert converted.config.moe.num_null_experts == num_null and converted.config.moe.top_k == top_k


def test_zero_null_is_noop_and_null_experts_hold_no_parameters():
    base = _model()
    ids = AlgoTasks(seed=0).sample(4).input_ids
    same = add_null_experts(copy.deepcopy(base), num_null=0, top_k=2)
    torch.testing.assert_close(same(ids).logits, base(ids).logits)
    converted = add_null_experts(copy.deepcopy(base), num_null=8, top_k=4)
    extra = sum(p.numel() for p in converted.parameters()) - sum(p.numel() for p in base.parameters())
    assert extra == 2 * 8 * 64  # only the null router rows


def test_true_weights_sum_to_one_and_avg_true_in_range():
    torch.manual_seed(3)
    layer = MoEFeedForward(8, 4, num_experts=3, top_k=4, num_null_experts=6, init_std=1.0)
    _, routed = layer(torch.randn(40, 8), return_routing=True)
    w, idx = routed.topk_w, routed.topk_idx
    has_true = (idx < 3).any(1)
    torch.testing.assert_close(w[has_true].sum(1), torch.ones(int(has_true.sum())))
    assert (w[idx >= 3] == 0).all()
    stats = routing_stats(routed, 3)
    assert stats["avg_true_experts"] == pytest.approx(float((idx < 3).sum()) / 40)
    assert stats["expert_evals"] == int((idx < 3).sum())  # FLOPs: one MLP evaluation per true slot


def test_null_logits_get_gradient_only_from_the_balance_loss():
    torch.manual_seed(0)
    layer = MoEFeedForward(8, 4, num_experts=3, top_k=3, num_null_experts=3, init_std=1.0)
    x = torch.randn(30, 8)
    layer(x)[0].square().sum().backward()
    assert torch.equal(layer.router.null_weight.grad, torch.zeros_like(layer.router.null_weight))
    layer.zero_grad()
    layer.aux_losses(layer(x)[1]).lb.backward()
    assert layer.router.null_weight.grad.abs().sum() > 0


def test_training_step_runs_with_null_experts():
    model = add_null_experts(_model(), num_null=4, top_k=4, init="normal")
    model.train()
    batch = AlgoTasks(seed=0).sample(8)
    out = model(batch.input_ids)
    (lm_loss(out.logits, batch) + 1e-2 * out.aux_lb).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("kwargs, word", [
    ({"num_null": 6, "init": "tile"}, "multiple"), ({"num_null": 4, "top_k": 9}, "top_k"),
    ({"num_null": -1}, "num_null"), ({"init": "ones"}, "init"), ({"null_load": "x"}, "null_load"),
])
def test_bad_conversion(kwargs, word):
    with pytest.raises(ValueError, match=word):
        add_null_experts(_model(), **kwargs)
    with pytest.raises(ValueError, match="MoEFeedForward"):
        add_null_experts(TinyLM())
