import pytest
import torch

from diversa.datasets.algotasks import AlgoTasks
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig, config_key
from diversa.nn.moe import MoEFeedForward, RoutingOverride


pytestmark = pytest.mark.usefixtures("one_thread")


def _moe_model(**moe):
    torch.manual_seed(0)
    return TinyLM(TinyLMConfig(moe=MoEConfig(**moe))).eval()


def test_shapes_and_aux():
    model = _moe_model()
    ids = AlgoTasks(seed=0).sample(3).input_ids
    out = model(ids, return_hidden=True)
    assert out.logits.shape == (3, 24, 20) and len(out.routers) == 2 and len(out.hidden) == 3
    assert out.aux_lb.item() > 0 and out.aux_z.item() > 0
    dense = TinyLM().eval()
    out = dense(ids)
    assert out.aux_lb.item() == 0 and out.routers == [] and out.hidden is None
    assert {"q_proj", "k_proj", "v_proj", "o_proj"} <= {n.split(".")[-1] for n, _ in dense.named_modules()}


@pytest.mark.parametrize("moe", [None, MoEConfig()])
def test_causal(moe):
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(moe=moe)).eval()
    ids = AlgoTasks(seed=1).sample(2).input_ids
    changed = ids.clone()
    changed[:, 10] = (changed[:, 10] + 1) % 10
    a, b = model(ids).logits, model(changed).logits
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_routing_override_changes_only_moe_models():
    ids = AlgoTasks(seed=2).sample(4).input_ids
    moe = _moe_model()
    assert not torch.allclose(moe(ids).logits, moe(ids, routing_override=RoutingOverride.rank((2,))).logits)
    torch.testing.assert_close(moe(ids).logits, moe(ids, routing_override=RoutingOverride.topk(2)).logits)
    dense = TinyLM().eval()
    torch.testing.assert_close(dense(ids).logits, dense(ids, routing_override=RoutingOverride.rank((2,))).logits)


def test_topk_per_layer_and_moe_layers():
    model = TinyLM(TinyLMConfig(n_layers=3, moe=MoEConfig(num_experts=8, topk_per_layer=(4, 1)), moe_layers=(0, 2)))
    assert model.moe_topk() == [4, None, 1]
    assert [m.top_k for m in model.moe_layers()] == [4, 1]
    assert isinstance(model.blocks[0].ffn, MoEFeedForward) and not isinstance(model.blocks[1].ffn, MoEFeedForward)


def test_determinism_and_config_key():
    a, b = _moe_model(), _moe_model()
    ids = AlgoTasks(seed=0).sample(2).input_ids
    assert torch.equal(a(ids).logits, b(ids).logits)
    assert config_key(a.config) == config_key(b.config) != config_key(TinyLMConfig())


@pytest.mark.parametrize("kwargs, word", [
    ({"d_model": 30, "n_heads": 4}, "divisible"), ({"n_layers": 0}, "n_layers"),
    ({"moe": MoEConfig(top_k=9)}, "top_k"), ({"moe": MoEConfig(topk_per_layer=(1,))}, "topk_per_layer"),
    ({"moe_layers": (5,)}, "moe_layers"),
])
def test_bad_configuration(kwargs, word):
    with pytest.raises(ValueError, match=word):
        TinyLM(TinyLMConfig(**kwargs))


def test_bad_input():
    with pytest.raises(TypeError):
        TinyLM(TinyLMConfig(), d_model=8)
    with pytest.raises(ValueError, match="max_len"):
        TinyLM()(torch.zeros(1, 30, dtype=torch.long))
    with pytest.raises(ValueError, match="input_ids"):
        TinyLM()(torch.zeros(30, dtype=torch.long))
