"""TIES-Merging: golden example, trim, sign election, conventions, peft equivalence."""

import warnings

import pytest
import torch
from merge_helpers import assert_unchanged, peft_merge_utils, snapshot

from diversa.combine.merge import elect_sign, magnitude_trim, task_vectors, ties_merging, ties_tensor

TAU1 = torch.tensor([1.0, -2.0, 0.5, 3.0])
TAU2 = torch.tensor([1.0, 2.0, -0.5, 0.1])


def test_golden_example():
    assert torch.equal(magnitude_trim(TAU1, 0.5), torch.tensor([0.0, -2.0, 0.0, 3.0]))
    assert torch.equal(ties_tensor([TAU1, TAU2], density=0.5), torch.tensor([1.0, 2.0, 0.0, 3.0]))


def test_trim_keeps_exactly_k():
    t = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    assert int((magnitude_trim(t, 0.2) != 0).sum()) == 200
    assert torch.equal(magnitude_trim(t, 1.0), t)


def test_trim_rounding_to_zero_conventions():
    t = torch.tensor([0.1, -3.0, 0.2])
    assert int((magnitude_trim(t, 0.1, convention="peft") != 0).sum()) == 0
    with pytest.warns(RuntimeWarning, match="keeping 1"):
        kept = magnitude_trim(t, 0.1, convention="mergekit")
    assert torch.equal(kept, torch.tensor([0.0, -3.0, 0.0]))


def test_sign_election_rules():
    stacked = torch.tensor([[1.0, -1.0, 2.0], [-1.0, 1.0, -1.0], [-0.5, 0.0, 0.0]])
    assert elect_sign(stacked, "sum").tolist() == [-1.0, 1.0, 1.0]
    assert elect_sign(stacked, "count").tolist() == [-1.0, 1.0, 1.0]
    zero = torch.tensor([[1.0, -1.0, -5.0], [-1.0, 1.0, 1.0]])
    # sums: [0, 0, -4]; zeros go to + by default, to the majority (-) with "majority"
    assert elect_sign(zero, "sum", "positive").tolist() == [1.0, 1.0, -1.0]
    assert elect_sign(zero, "sum", "majority").tolist() == [-1.0, -1.0, -1.0]


def test_agreeing_signs_give_mean_of_trimmed():
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 4.0, 5.0])
    torch.testing.assert_close(ties_tensor([a, b], density=1.0), (a + b) / 2)


def test_identities(sds):
    base, models = sds
    before = snapshot(base, models)
    one = ties_merging(base, [models[0]], density=1.0, scaling=1.0)
    same = ties_merging(base, [models[1]] * 3, density=1.0, scaling=1.0)
    for k in models[0]:
        torch.testing.assert_close(one[k], models[0][k])
        torch.testing.assert_close(same[k], models[1][k])
    assert_unchanged(before, snapshot(base, models))


@pytest.mark.parametrize("convention", ["peft", "mergekit"])
def test_order_symmetry(sds, convention):
    base, models = sds
    a = ties_merging(base, models, density=0.4, weights=[0.5, 1.0, 2.0], convention=convention)
    b = ties_merging(base, models[::-1], density=0.4, weights=[2.0, 1.0, 0.5], convention=convention)
    for k in a:
        torch.testing.assert_close(a[k], b[k])


def test_global_scope_keeps_only_large_tensor():
    base = {"a": torch.zeros(10), "b": torch.zeros(10)}
    g = torch.Generator().manual_seed(1)
    model = {"a": torch.rand(10, generator=g) + 1.0, "b": 100 * (torch.rand(10, generator=g) + 1.0)}
    glob = ties_merging(base, [model], density=0.5, scope="global")
    tens = ties_merging(base, [model], density=0.5, scope="tensor")
    assert int((glob["a"] != 0).sum()) == 0 and int((glob["b"] != 0).sum()) == 10
    assert int((tens["a"] != 0).sum()) == 5 and int((tens["b"] != 0).sum()) == 5


def test_conventions_agree_with_unit_weights_and_differ_with_weights():
    g = torch.Generator().manual_seed(3)
    taus = [torch.randn(200, generator=g) for _ in range(3)]
    p = ties_tensor(taus, [1, 1, 1], 0.5, convention="peft")
    m = ties_tensor(taus, [1, 1, 1], 0.5, convention="mergekit")
    torch.testing.assert_close(p, m, atol=3e-7, rtol=1e-6)
    w = [0.2, 1.0, 3.0]
    assert (ties_tensor(taus, w, 0.5, convention="peft") - ties_tensor(taus, w, 0.5, convention="mergekit")
            ).abs().max() > 1e-2


@pytest.mark.parametrize("method", ["total", "frequency"])
@pytest.mark.parametrize("weights", [[1.0, 1.0, 1.0], [0.3, 1.5, 0.7]])
def test_matches_peft_ties(method, weights):
    merge_utils = peft_merge_utils()
    g = torch.Generator().manual_seed(7)
    taus = [torch.randn(8, 9, generator=g) for _ in range(3)]
    w = torch.tensor(weights)
    expected = merge_utils.ties(taus, w, density=0.3, majority_sign_method=method)
    ours = ties_tensor(taus, w, 0.3, sign_method=method, convention="peft")
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-6)


def test_matches_mergekit_formula():
    """mergekit's ``ties`` (weighted sign election, divisor = agreeing weights), written out."""
    g = torch.Generator().manual_seed(5)
    taus = [torch.randn(50, generator=g) for _ in range(3)]
    w = torch.tensor([0.5, 1.0, 2.0]).reshape(3, 1)
    trimmed = torch.stack([magnitude_trim(t, 0.4) for t in taus]) * w
    sign = trimmed.sign()
    majority = torch.where(trimmed.sum(0) >= 0, 1.0, -1.0)
    mask = (sign == majority).float()
    divisor = (w * mask).sum(0)
    divisor[divisor == 0] = 1
    expected = (trimmed * mask).sum(0) / divisor
    torch.testing.assert_close(ties_tensor(taus, w.reshape(-1), 0.4, convention="mergekit"), expected)


def test_ties_merging_matches_peft_whole_state_dict(sds):
    merge_utils = peft_merge_utils()
    base, models = sds
    out = ties_merging(base, models, density=0.5, scaling=1.3)
    tvs = task_vectors(base, models)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in tvs[0]:
            expected = base[k] + 1.3 * merge_utils.ties([tv[k] for tv in tvs], torch.ones(3), density=0.5)
            torch.testing.assert_close(out[k], expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kwargs,match", [({"density": 1.5}, "density"), ({"scope": "layer"}, "scope"),
                                          ({"sign_method": "vote"}, "sign_method"),
                                          ({"convention": "x"}, "convention"),
                                          ({"zero_sign": "x"}, "zero_sign"),
                                          ({"density": [0.1, 0.2]}, "density")])
def test_errors(sds, kwargs, match):
    base, models = sds
    with pytest.raises(ValueError, match=match):
        ties_merging(base, models, **kwargs)


def test_trim_with_ties_keeps_exactly_k():
    t = torch.tensor([1.0, -1.0, 1.0, 0.5, -1.0, 2.0])
    kept = magnitude_trim(t, 0.5)
    assert int((kept != 0).sum()) == 3 and float(kept[5]) == 2.0
    assert torch.equal(magnitude_trim(t, 0.0), torch.zeros(6))
