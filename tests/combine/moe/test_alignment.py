import itertools

import numpy as np
import pytest
import torch

from diversa.combine.moe import align_experts, match_hidden_units, permute_hidden_units, read_experts

KINDS = ["gelu", "mixtral", "swiglu"]



def _expert(ex, e):
    return {name: m[e] for name, m in ex.matrices().items()}


@pytest.mark.parametrize("kind", KINDS)
def test_alignment_keeps_every_expert_function(kind, make_layer):
    ex = read_experts(make_layer(kind))
    x = torch.randn(30, 16)
    aligned = align_experts(ex, 0)
    for e in range(ex.num_experts):
        torch.testing.assert_close(aligned.expert_forward(e, x), ex.expert_forward(e, x), atol=1e-5, rtol=1e-5)
    assert not torch.equal(aligned.w_in, ex.w_in)  # random experts do get permuted


@pytest.mark.parametrize("kind", KINDS)
def test_a_permuted_copy_is_aligned_back(kind, make_layer):
    # SwiGLU: gate, up and down must be matched and moved together or the copy is not recovered exactly
    ex = read_experts(make_layer(kind))
    ref = _expert(ex, 1)
    perm = torch.randperm(ex.hidden)
    shuffled = permute_hidden_units(ref, perm)
    recovered = permute_hidden_units(shuffled, match_hidden_units(ref, shuffled))
    for name in ref:
        torch.testing.assert_close(recovered[name], ref[name])


@pytest.mark.parametrize("include_wo", [True, False])
def test_assignment_is_the_brute_force_optimum(include_wo):
    g = torch.Generator().manual_seed(1)
    ref = {"gate": torch.randn(6, 4, generator=g), "up": torch.randn(6, 4, generator=g),
           "down": torch.randn(4, 6, generator=g)}
    other = {k: torch.randn(v.shape, generator=g) for k, v in ref.items()}

    def score(perm):
        p = permute_hidden_units(other, torch.tensor(perm))
        s = float((ref["gate"] * p["gate"]).sum() + (ref["up"] * p["up"]).sum())
        return s + (float((ref["down"] * p["down"]).sum()) if include_wo else 0.0)

    best = max(itertools.permutations(range(6)), key=score)
    found = match_hidden_units(ref, other, include_wo=include_wo).tolist()
    assert np.isclose(score(found), score(best)) and found == list(best)


def test_references_per_expert(make_layer):
    ex = read_experts(make_layer("gelu"))
    aligned = align_experts(ex, [0, 0, 2, 2, 4, 4])
    for e in (0, 2, 4):  # references stay as they are
        torch.testing.assert_close(aligned.w_in[e], ex.w_in[e])
    with pytest.raises(ValueError, match="references"):
        align_experts(ex, [0, 1])
    with pytest.raises(ValueError, match="differs in shape"):
        match_hidden_units(_expert(ex, 0), {"up": torch.randn(5, 16), "down": torch.randn(16, 5)})
