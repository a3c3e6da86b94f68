import pytest
import torch

from diversa.nn.moe import RoutingOverride, TopKRouter, sorted_experts


pytestmark = pytest.mark.usefixtures("one_thread")


def test_stable_tie_breaking_prefers_lower_index():
    probs = torch.tensor([[0.2, 0.3, 0.2, 0.3]])
    _, order = sorted_experts(probs)
    assert order.tolist() == [[1, 3, 0, 2]]


def test_router_each_token_gets_k_distinct_experts_and_weights_sum_to_one():
    router = TopKRouter(16, 8, 3)
    out = router(torch.randn(50, 16))
    assert out.topk_idx.shape == (50, 3) and out.probs.shape == (50, 8)
    assert all(len(set(row)) == 3 for row in out.topk_idx.tolist())
    torch.testing.assert_close(out.topk_w.sum(-1), torch.ones(50))
    assert out.logits.dtype == torch.float32
    assert torch.equal(out.topk_idx[:, 0], out.probs.argmax(-1))


def test_top1_keeps_raw_probability():
    router = TopKRouter(16, 4, 1)
    out = router(torch.randn(10, 16))
    torch.testing.assert_close(out.topk_w[:, 0], out.probs.max(-1).values)


@pytest.mark.parametrize("k", [0, 9, 2.0])
def test_bad_k(k):
    with pytest.raises(ValueError, match="top_k"):
        TopKRouter(16, 8, k)


def test_top_k_can_change_and_is_validated():
    router = TopKRouter(8, 4, 1)
    router.top_k = 4
    assert router(torch.randn(3, 8)).topk_idx.shape == (3, 4)
    with pytest.raises(ValueError, match="top_k"):
        router.top_k = 5


def test_overrides():
    probs = torch.tensor([[0.1, 0.4, 0.3, 0.2], [0.5, 0.1, 0.15, 0.25]])
    idx, w = RoutingOverride.rank((2,)).select(probs)
    assert idx.tolist() == [[2], [3]] and torch.equal(w, torch.ones(2, 1))
    i12, w12 = RoutingOverride.rank((1, 2)).select(probs)
    it, wt = RoutingOverride.topk(2).select(probs)
    assert torch.equal(i12, it) and torch.allclose(w12, wt)
    idx, w = RoutingOverride.top_p(1.0).select(probs)
    assert idx.shape == (2, 4) and torch.allclose(w.sum(-1), torch.ones(2))
    idx, w = RoutingOverride.top_p(0.6).select(probs)  # row 0 needs 0.4+0.3, row 1 needs 0.5+0.25
    assert idx[:, :2].tolist() == [[1, 2], [0, 3]]
    idx, w = RoutingOverride.top_p(0.45).select(probs)  # row 0: 2 experts, row 1: one (0.5)
    assert w[1, 1] == 0 and w[1, 0] == 1 and idx[0].tolist() == [1, 2]
    a = RoutingOverride.random(2, seed=3).select(probs)
    b = RoutingOverride.random(2, seed=3).select(probs)
    assert torch.equal(a[0], b[0]) and torch.allclose(a[1], torch.full((2, 2), 0.5))


def test_random_override_draws_one_stream_across_calls():
    probs = torch.full((64, 8), 1 / 8)
    override = RoutingOverride.random(1, seed=5)
    first, second = override.select(probs)[0], override.select(probs)[0]
    assert not torch.equal(first, second)  # a second layer (or step) gets its own experts
    replay = RoutingOverride.random(1, seed=5)
    assert torch.equal(replay.select(probs)[0], first) and torch.equal(replay.select(probs)[0], second)
    assert torch.equal(override.reset().select(probs)[0], first)
    assert len(set(first.reshape(-1).tolist())) > 4  # uniform over experts, not one fixed expert


def test_override_validation():
    for bad in (lambda: RoutingOverride.rank((0,)), lambda: RoutingOverride.rank(()),
                lambda: RoutingOverride.top_p(0.0), lambda: RoutingOverride.topk(0)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="ranks"):
        RoutingOverride.rank((5,)).select(torch.full((1, 4), 0.25))
    with pytest.raises(ValueError, match="k=5"):
        RoutingOverride.topk(5).select(torch.full((1, 4), 0.25))
    assert RoutingOverride.rank((2,)) == RoutingOverride.rank([2]) and "rank" in repr(RoutingOverride.rank((2,)))


def test_router_parameters_lists_true_then_null_rows_of_every_router():
    from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig
    from diversa.nn.moe import add_null_experts, router_parameters

    model = TinyLM(TinyLMConfig(n_layers=2, moe=MoEConfig(num_experts=4, top_k=2, d_expert=8)))
    routers = [layer.router for layer in model.moe_layers()]
    assert [id(p) for p in router_parameters(model)] == [id(r.weight) for r in routers]
    assert router_parameters(model, null_only=True) == []
    add_null_experts(model, num_null=4, top_k=4)
    expected = [id(p) for r in routers for p in (r.weight, r.null_weight)]
    assert [id(p) for p in router_parameters(model)] == expected
    assert [id(p) for p in router_parameters(model, null_only=True)] == [id(r.null_weight) for r in routers]
    experts = {id(p) for layer in model.moe_layers() for p in (layer.w1, layer.w2)}
    assert not experts & {id(p) for p in router_parameters(model)}
