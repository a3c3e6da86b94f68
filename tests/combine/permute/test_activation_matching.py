"""Activation matching: undoes a hidden shuffle from activations alone (heads by weight matching)."""

import numpy as np
import pytest
import torch
from permute_models import cases, mlp

from diversa.combine.permute import (
    activation_matching,
    apply_permutation,
    correlation,
    invert_permutation,
    permutation_spec,
    permute_model,
    random_permutation,
)

CASES = cases()



def test_correlation_is_pearsons():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 3, generator=g), torch.randn(50, 4, generator=g)
    expected = np.corrcoef(a.numpy().T, b.numpy().T)[:3, 3:]
    np.testing.assert_allclose(correlation(a, b).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "cnn_bn", "resnet", "transformer"])
def test_recovers_a_hidden_permutation(name):
    _, make, x = next(c for c in CASES if c[0] == name)
    model = make(0)
    spec = permutation_spec(model, x)
    shuffle = random_permutation(spec, 4)
    shuffled = permute_model(model, spec, shuffle)
    inputs = torch.cat([x] * 4) if x.dtype != torch.long else torch.randint(0, 11, (16, x.shape[1]))
    if x.dtype != torch.long:
        inputs = inputs + 0.5 * torch.randn_like(inputs)
    perm = activation_matching(model, shuffled, inputs)
    inverse = invert_permutation(shuffle)
    assert all(torch.equal(perm[k], inverse[k]) for k in spec.sizes), name
    if name == "transformer":
        assert not spec.sites.get("P_attn.0.heads")  # found by weight matching, not activations


def test_models_of_different_architectures_are_refused():
    x = torch.randn(8, 6)
    with pytest.raises(ValueError, match="differ in architecture"):
        activation_matching(mlp(0), mlp(1, widths=(6, 11, 7, 3)), x)


def test_aligning_independent_models_raises_activation_agreement():
    """On two differently initialized networks, matched units correlate better than unmatched ones."""
    a, b = mlp(1, widths=(6, 32, 3)).eval(), mlp(2, widths=(6, 32, 3)).eval()
    x = torch.randn(200, 6)
    spec = permutation_spec(a, x)
    perm = activation_matching(a, b, x, spec=spec)
    b_aligned = permute_model(b, spec, perm)
    with torch.no_grad():
        za, zb, zc = a[0](x), b[0](x), b_aligned[0](x)
    before = torch.diagonal(correlation(za, zb)).mean()
    after = torch.diagonal(correlation(za, zc)).mean()
    assert after > before + 0.3
    assert apply_permutation(spec, perm, b.state_dict()).keys() == b.state_dict().keys()
