import pytest
import torch
from torch import nn

from diversa.nn.multi_expert import MultiExpertMLP, NormedLinear

pytestmark = pytest.mark.usefixtures("one_thread")


def test_experts_share_the_trunk_and_own_their_branches():
    g = torch.Generator().manual_seed(0)
    model = MultiExpertMLP(64, 10, n_experts=3, trunk=(32,), branch=(16,), generator=g)
    x = torch.rand(5, 64)
    out = model(x)
    assert out.shape == (3, 5, 10)
    # each expert equals a plain trunk -> its own branch -> cosine head
    h = torch.relu(x @ model.trunk[0] + model.trunk[1])
    for e in range(3):
        he = torch.relu(h @ model.branch[0][e] + model.branch[1][e])
        head = NormedLinear(16, 10)
        head.weight.data = model.head[e]
        torch.testing.assert_close(out[e], head(he))
    # changing one expert's branch changes only that expert's logits
    with torch.no_grad():
        model.branch[0][1] += 1.0
    new = model(x)
    assert torch.equal(new[0], out[0]) and torch.equal(new[2], out[2]) and not torch.equal(new[1], out[1])


def test_cosine_logits_are_bounded_by_the_scale():
    model = MultiExpertMLP(8, 4, n_experts=2, trunk=(6,), branch=(5,), scale=30.0)
    out = model(torch.randn(50, 8) * 100)
    assert out.abs().max() <= 30.0 + 1e-4
    linear = MultiExpertMLP(8, 4, n_experts=2, cosine=False)
    assert linear(torch.randn(3, 8)).shape == (2, 3, 4) and linear.head_bias is not None


def test_normed_linear_is_a_scaled_cosine():
    layer = NormedLinear(4, 3, scale=2.0)
    x = torch.randn(6, 4)
    expected = 2.0 * nn.functional.cosine_similarity(x[:, :, None], layer.weight[None], dim=1)
    torch.testing.assert_close(layer(x), expected)


def test_seeded_init_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a = MultiExpertMLP(generator=torch.Generator().manual_seed(3))
    b = MultiExpertMLP(generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_bad_input():
    with pytest.raises(ValueError, match="n_experts"):
        MultiExpertMLP(n_experts=0)
    with pytest.raises(ValueError, match="trunk"):
        MultiExpertMLP(trunk=(0,))
    with pytest.raises(TypeError, match="branch"):
        MultiExpertMLP(branch=None)
    with pytest.raises(ValueError, match="scale"):
        MultiExpertMLP(scale=0.0)
