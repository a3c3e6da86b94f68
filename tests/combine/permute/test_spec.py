"""Permutation specs: block layouts, inverses and the errors of a spec that does not fit."""

import pytest
import torch

from diversa.combine.permute import AxisPerm, PermutationSpec, apply_permutation, invert_permutation, random_permutation
from diversa.combine.permute.spec import expand_permutation


def test_blocks_move_whole_and_repeats_move_together():
    # axis (repeat=2, n=3, block=2): units are pairs of entries, in two stacked copies
    idx = expand_permutation(torch.tensor([2, 0, 1]), block=2, repeat=2)
    assert idx.tolist() == [4, 5, 0, 1, 2, 3, 10, 11, 6, 7, 8, 9]


def test_apply_then_inverse_is_the_identity():
    spec = PermutationSpec({"w": ("P", AxisPerm("Q", block=2)), "b": ("P",)}, {"P": 4, "Q": 3})
    params = {"w": torch.randn(4, 6), "b": torch.randn(4), "other": torch.randn(2)}
    perm = random_permutation(spec, 1)
    there = apply_permutation(spec, perm, params)
    assert not torch.equal(there["w"], params["w"])
    back = apply_permutation(spec, invert_permutation(perm), there)
    assert all(torch.equal(back[k], params[k]) for k in params)
    assert there["other"] is not params["other"] and torch.equal(there["other"], params["other"])


def test_perm_to_axes_lists_every_axis_a_permutation_touches():
    spec = PermutationSpec({"a.weight": ("P", None), "a.bias": ("P",), "b.weight": (None, "P")}, {"P": 3})
    assert [(k, ax) for k, ax, _ in spec.perm_to_axes["P"]] == [("a.weight", 0), ("a.bias", 0), ("b.weight", 1)]


def test_a_spec_naming_an_unsized_permutation_is_refused():
    with pytest.raises(ValueError, match="names permutation 'Q', which has no size"):
        PermutationSpec({"w": ("P", "Q")}, {"P": 2})


def test_params_that_do_not_fit_the_spec_are_named():
    spec = PermutationSpec({"w": ("P", None)}, {"P": 3})
    with pytest.raises(ValueError, match="tensor 'w' of the permutation spec is missing"):
        apply_permutation(spec, {}, {"v": torch.zeros(3, 2)})
    with pytest.raises(ValueError, match="tensor 'w' has 1 axes"):
        apply_permutation(spec, {}, {"w": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"perm\['P'\] must be a permutation of range\(3\)"):
        apply_permutation(spec, {"P": torch.tensor([0, 0, 1])}, {"w": torch.zeros(3, 2)})
