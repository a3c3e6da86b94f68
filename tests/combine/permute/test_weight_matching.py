"""Weight matching: exact recovery of hidden permutations, optimality on a brute-forced case, monotone sweeps."""

import itertools

import pytest
import torch
from permute_models import cases, mlp

from diversa.combine.permute import (
    PermutationSpec,
    apply_permutation,
    identity_permutation,
    invert_permutation,
    matching_objective,
    permutation_spec,
    random_permutation,
    weight_matching,
)

CASES = cases()



@pytest.mark.parametrize(("name", "make", "x"), CASES, ids=[c[0] for c in CASES])
def test_recovers_a_hidden_permutation_exactly(name, make, x):
    """B is A with its units shuffled: matching must undo the shuffle (B aligned == A, perm == inverse)."""
    model = make(0)
    spec = permutation_spec(model, x)
    a = model.state_dict()
    shuffle = random_permutation(spec, 7)
    b = apply_permutation(spec, shuffle, a)
    perm = weight_matching(spec, a, b)
    aligned = apply_permutation(spec, perm, b)
    for key in a:
        assert torch.equal(aligned[key], a[key]), key
    inverse = invert_permutation(shuffle)
    assert all(torch.equal(perm[k], inverse[k]) for k in spec.sizes)


def test_one_hidden_layer_reaches_the_brute_force_optimum():
    """With 6 hidden units the objective is one assignment problem: all 720 permutations can be checked."""
    a, b = mlp(1, widths=(4, 6, 3)).state_dict(), mlp(2, widths=(4, 6, 3)).state_dict()
    spec = PermutationSpec({"0.weight": ("P", None), "0.bias": ("P",), "2.weight": (None, "P")}, {"P": 6})
    best = max(matching_objective(spec, {"P": torch.tensor(p)}, a, b) for p in itertools.permutations(range(6)))
    perm = weight_matching(spec, a, b)
    assert matching_objective(spec, perm, a, b) == pytest.approx(best, abs=1e-9)
    assert matching_objective(spec, perm, a, b) > matching_objective(spec, identity_permutation(spec), a, b)


def test_objective_never_decreases_over_sweeps_and_stops():
    a, b = mlp(1, widths=(5, 16, 16, 16, 3)).state_dict(), mlp(2, widths=(5, 16, 16, 16, 3)).state_dict()
    spec = permutation_spec(mlp(1, widths=(5, 16, 16, 16, 3)), torch.randn(2, 5))
    values = [matching_objective(spec, weight_matching(spec, a, b, max_iter=k), a, b) for k in range(1, 8)]
    assert all(later >= earlier - 1e-9 for earlier, later in zip(values, values[1:]))
    assert values[-1] > matching_objective(spec, identity_permutation(spec), a, b)
    converged = weight_matching(spec, a, b)
    again = weight_matching(spec, a, b, init_perm=converged, max_iter=1, random_state=5)
    assert all(torch.equal(again[k], converged[k]) for k in spec.sizes)  # a fixed point of every coordinate


def test_identical_models_keep_the_identity():
    model = mlp(3)
    spec = permutation_spec(model, torch.randn(2, 6))
    perm = weight_matching(spec, model.state_dict(), model.state_dict())
    assert all(torch.equal(p, torch.arange(len(p))) for p in perm.values())


def test_attention_heads_are_matched_as_units():
    """Shuffling only the heads of an attention layer is undone, head by head."""
    name, make, x = next(c for c in CASES if c[0] == "transformer")
    model = make(0)
    spec = permutation_spec(model, x)
    shuffle = identity_permutation(spec)
    shuffle["P_attn.0.heads"] = torch.tensor([2, 0, 3, 1])
    b = apply_permutation(spec, shuffle, model.state_dict())
    perm = weight_matching(spec, model.state_dict(), b)
    assert torch.equal(perm["P_attn.0.heads"], torch.tensor([1, 3, 0, 2]))


def test_models_of_different_shapes_are_one_clear_error():
    spec = permutation_spec(mlp(0), torch.randn(2, 6))
    wider = mlp(0, widths=(6, 12, 7, 3)).state_dict()
    with pytest.raises(ValueError, match="'0.(weight|bias)' axis 0 has length 12"):
        weight_matching(spec, mlp(0).state_dict(), wider)
    narrower_input = mlp(0, widths=(5, 10, 7, 3)).state_dict()
    with pytest.raises(ValueError, match="differ in architecture: tensor '0.weight' has shape"):
        weight_matching(spec, mlp(0).state_dict(), narrower_input)
    with pytest.raises(ValueError, match="tensor '2.weight' of the permutation spec is missing"):
        weight_matching(spec, mlp(0).state_dict(), {k: v for k, v in mlp(1).state_dict().items() if k != "2.weight"})


def test_bad_arguments_are_named():
    spec = permutation_spec(mlp(0), torch.randn(2, 6))
    a = mlp(0).state_dict()
    with pytest.raises(ValueError, match="max_iter"):
        weight_matching(spec, a, a, max_iter=0)
    with pytest.raises(ValueError, match=r"perm\['P_0'\] must be a permutation"):
        weight_matching(spec, a, a, init_perm={"P_0": torch.zeros(10, dtype=torch.long)})
    with pytest.raises(ValueError, match="perms"):
        weight_matching(spec, a, a, perms=["P_9"])
    with pytest.raises(TypeError, match="params_b"):
        weight_matching(spec, a, [a])
