"""Anchor: the ``rebasin`` package (snimu/rebasin, PyPI) finds the same weight-matching permutations on MLPs.

rebasin's model graph lists a layer's incoming weight and bias twice for each
permutation (4x against 2x for the outgoing weight), so on two unrelated
networks its cost matrix weights the layers differently from git re-basin's
objective (which ours follows; see the brute-force test in
``test_weight_matching.py``) and the two optima can differ. Where the
optimum is clear -- ``b`` a shuffled copy of ``a``, exact or with noise -- both
must find the same permutations.
"""

import pytest
import torch
from permute_models import mlp

from diversa.combine.permute import apply_permutation, permutation_spec, random_permutation, weight_matching

rebasin = pytest.importorskip("rebasin")



def _rebasin_permutations(model_a, model_b, x) -> dict[int, torch.Tensor]:
    """rebasin's permutation of each hidden layer, keyed by the layer's index in the Sequential."""
    pcd = rebasin.PermutationCoordinateDescent(model_a, model_b, x)
    pcd.calculate_permutations()
    out = {}
    for perm, infos in pcd.pinit.model_graph.permutation_to_info:
        for info in infos:
            for i, layer in enumerate(model_b):
                if info.axis == 0 and info.parameter_b is getattr(layer, "weight", None):
                    out[i] = perm.perm_indices.clone()
    return out


def _ours(model_a, model_b, x) -> dict[int, torch.Tensor]:
    spec = permutation_spec(model_a, x)
    perm = weight_matching(spec, model_a.state_dict(), model_b.state_dict())
    return {int(name.removeprefix("P_")): p for name, p in perm.items()}


def test_same_permutations_on_a_noisy_shuffled_copy():
    widths = (8, 24, 16, 5)
    a, x = mlp(1, widths), torch.randn(4, 8)
    spec = permutation_spec(a, x)
    g = torch.Generator().manual_seed(0)
    shuffled = apply_permutation(spec, random_permutation(spec, 5), a.state_dict())
    b = mlp(1, widths)
    b.load_state_dict({k: v + 0.3 * v.std() * torch.randn(v.shape, generator=g) for k, v in shuffled.items()})
    torch.manual_seed(0)
    theirs = _rebasin_permutations(a, b, x)
    ours = _ours(a, b, x)
    assert theirs.keys() == ours.keys() == {0, 2}
    for i in ours:
        assert not torch.equal(ours[i], torch.arange(len(ours[i])))
        assert torch.equal(theirs[i], ours[i]), i


def test_same_permutations_undoing_a_shuffle_of_a_deep_mlp():
    widths = (8, 16, 12, 10, 5)
    a, x = mlp(3, widths), torch.randn(4, 8)
    spec = permutation_spec(a, x)
    b = mlp(3, widths)
    b.load_state_dict(apply_permutation(spec, random_permutation(spec, 2), a.state_dict()))
    torch.manual_seed(0)
    theirs = _rebasin_permutations(a, b, x)
    ours = _ours(a, b, x)
    assert theirs.keys() == ours.keys() == {0, 2, 4}
    for i in ours:
        assert torch.equal(theirs[i], ours[i]), i
