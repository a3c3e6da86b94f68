"""Weight averaging: identity properties, order symmetry, normalization."""

import pytest
import torch
from merge_helpers import assert_unchanged, snapshot

from diversa.combine.merge import weight_average


def test_single_model_weight_one_returns_it(sds):
    _, models = sds
    out = weight_average([models[0]], weights=[1.0])
    for k, v in models[0].items():
        assert torch.equal(out[k], v)
        assert out[k] is not v


def test_identical_models_average_to_model(sds):
    _, models = sds
    out = weight_average([models[1]] * 4)
    for k in models[1]:
        torch.testing.assert_close(out[k], models[1][k])


def test_order_symmetry_and_purity(sds):
    _, models = sds
    before = snapshot(models)
    a = weight_average(models, weights=[1, 2, 3])
    b = weight_average(models[::-1], weights=[3, 2, 1])
    for k in ("l1.weight", "l2.weight"):
        torch.testing.assert_close(a[k], b[k])
    assert_unchanged(before, snapshot(models))


def test_unnormalized_is_weighted_sum(sds):
    _, models = sds
    out = weight_average(models[:2], weights=[0.5, 2.0], normalize=False)
    torch.testing.assert_close(out["l1.weight"], 0.5 * models[0]["l1.weight"] + 2.0 * models[1]["l1.weight"])


def test_bf16_computed_in_float32_and_cast_back():
    a = {"w": torch.full((4,), 1.0, dtype=torch.bfloat16)}
    b = {"w": torch.full((4,), 1.0078125, dtype=torch.bfloat16)}
    out = weight_average([a, b])
    assert out["w"].dtype == torch.bfloat16


def test_errors(sds):
    _, models = sds
    with pytest.raises(ValueError, match="weights"):
        weight_average(models[:2], weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="weights"):
        weight_average(models, weights=[1.0])
    with pytest.raises(ValueError, match="models"):
        weight_average([])
