"""Key selection: common floating keys, include/exclude, shape errors."""

import pytest
import torch

from diversa.combine.merge import merge_keys


def test_selects_common_floating_keys_sorted(sds):
    base, models = sds
    assert merge_keys(base, models) == ["l1.bias", "l1.weight", "l2.weight"]


def test_include_exclude_and_missing_key():
    a = {"body.w": torch.zeros(2), "head.w": torch.zeros(2), "only_a": torch.zeros(1)}
    b = {"body.w": torch.ones(2), "head.w": torch.ones(2)}
    assert merge_keys(a, [b]) == ["body.w", "head.w"]
    assert merge_keys(a, [b], exclude=[r"^head\."]) == ["body.w"]
    assert merge_keys(a, [b], include="head") == ["head.w"]


def test_shape_mismatch_names_key():
    with pytest.raises(ValueError, match="'w'"):
        merge_keys({"w": torch.zeros(2)}, [{"w": torch.zeros(3)}])


@pytest.mark.parametrize("models,exc", [([], ValueError), ({"w": torch.zeros(1)}, TypeError),
                                        ([1], TypeError)])
def test_bad_models(models, exc):
    with pytest.raises(exc, match="models"):
        merge_keys(None, models)


def test_bad_regex():
    with pytest.raises(ValueError, match="include"):
        merge_keys(None, [{"w": torch.zeros(1)}], include="(")
