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


@pytest.mark.parametrize("function", ["task_arithmetic", "ties_merging", "dare_merging", "magnitude_prune_merging"])
def test_integer_weights_that_differ_are_refused_not_truncated(function):
    import diversa.combine.merge as merge

    base = {"w": torch.zeros(3, dtype=torch.int64), "counter": torch.tensor(4)}
    model = {"w": torch.tensor([1, 2, 3]), "counter": torch.tensor(9)}  # 0.5 x delta would truncate to 0
    kwargs = {"density": 0.5} if function == "magnitude_prune_merging" else {}
    with pytest.raises(ValueError, match="'w' is int64 .*differs between the inputs.*floating dtype"):
        getattr(merge, function)(base, [model], **kwargs)
    same = {"w": base["w"].clone(), "counter": torch.tensor(9)}  # equal tensors and scalar counters are copied
    out = getattr(merge, function)(base, [same], **kwargs)
    assert torch.equal(out["w"], base["w"]) and int(out["counter"]) == 4


def test_a_key_floating_in_one_input_only_is_refused():
    with pytest.raises(ValueError, match="'w' is floating point in some inputs"):
        merge_keys({"w": torch.zeros(2)}, [{"w": torch.zeros(2, dtype=torch.int32)}])


@pytest.mark.parametrize("function", ["weight_average", "task_arithmetic", "ties_merging", "dare_merging",
                                      "magnitude_prune_merging", "pcb_merging", "linear_interpolation"])
def test_numpy_arrays_get_a_clear_type_error(function):
    import numpy as np

    import diversa.combine.merge as merge

    arrays = [{"w": np.zeros(4, dtype=np.float32)}, {"w": np.ones(4, dtype=np.float32)},
              {"w": np.full(4, 2.0, dtype=np.float32)}]
    fn = getattr(merge, function)
    with pytest.raises(TypeError, match=r"\['w'\] is a numpy.ndarray; merge functions take torch tensors "
                                        r"\(convert with torch.from_numpy"):
        if function == "weight_average":
            fn(arrays)
        elif function == "linear_interpolation":
            fn(arrays[0], arrays[1])
        else:
            fn(arrays[0], arrays[1:], **({"density": 0.5} if function == "magnitude_prune_merging" else {}))


def test_tensor_level_functions_name_the_conversion():
    import numpy as np

    from diversa.combine.merge import dare_tensor, magnitude_trim, ties_tensor

    for call in (lambda: ties_tensor([np.ones(3)]), lambda: magnitude_trim(np.ones(3), 0.5),
                 lambda: dare_tensor(np.ones(3), 0.5)):
        with pytest.raises(TypeError, match="torch.from_numpy"):
            call()
