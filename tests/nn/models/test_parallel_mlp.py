import pytest
import torch
from torch import nn

from diversa.nn.models import ParallelMLPEnsemble


def test_each_member_is_an_ordinary_mlp():
    ens = ParallelMLPEnsemble(3, 5, hidden=(7, 4), n_classes=2, generator=torch.Generator().manual_seed(0))
    x = torch.randn(6, 5)
    out = ens(x)
    assert out.shape == (3, 6, 2)
    for m in range(3):
        layers = []
        for W, b in zip(ens.weights, ens.biases):
            lin = nn.Linear(W.shape[1], W.shape[2])
            with torch.no_grad():
                lin.weight.copy_(W[m].T)
                lin.bias.copy_(b[m, 0])
            layers += [lin, nn.ReLU()]
        torch.testing.assert_close(nn.Sequential(*layers[:-1])(x), out[m])


def test_generator_seeds_the_init_without_touching_the_global_rng():
    state = torch.get_rng_state()
    a = ParallelMLPEnsemble(2, 4, (3,), 2, generator=torch.Generator().manual_seed(1))
    b = ParallelMLPEnsemble(2, 4, (3,), 2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert a.weights[0].abs().max() <= 0.5 and a.weights[1].abs().max() <= 1 / 3 ** 0.5   # 1/sqrt(fan_in)
    assert a.n_members == 2


def test_bad_input():
    with pytest.raises(ValueError, match="hidden"):
        ParallelMLPEnsemble(2, 4, (0,), 2)
    with pytest.raises(ValueError, match="n_members"):
        ParallelMLPEnsemble(0, 4, (3,), 2)
