"""Arcee Fusion, RAM and RAM+ (tensor-local) against mergekit's own methods, and their bad input.

mergekit's methods are called through ``mergekit.merge_methods.api.merge_tensors``
on the same float32 tensors; tolerance ``atol = rtol = 1e-6``.
"""

import pytest
import torch
from merge_helpers import single_tensor_sd

api = pytest.importorskip("mergekit.merge_methods.api")

TOL = {"atol": 1e-6, "rtol": 1e-6}


def _sparse_models(tensors, seed=0):
    """The fixture's models with about half of each delta zeroed, so entries are changed by 0, 1, 2 or 3 models."""
    g = torch.Generator().manual_seed(seed)
    base = tensors[0]
    return [base + (t - base) * (torch.rand(base.shape, generator=g) < 0.5) for t in tensors[1:]]


# --- Arcee Fusion -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(12, 7), (30,), (3, 4, 5), ()])
def test_arcee_fusion(shape):
    from diversa.combine.merge.arcee_fusion import arcee_fusion

    g = torch.Generator().manual_seed(3)
    a = torch.randn(shape, generator=g)
    b = a + 0.3 * torch.randn(shape, generator=g)
    out = api.merge_tensors([a, b], "arcee_fusion", parameters={}, base_index=0)
    ours = arcee_fusion(single_tensor_sd(a), [single_tensor_sd(b)])["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_arcee_fusion_takes_only_the_outlying_changes(tensors):
    from diversa.combine.merge.arcee_fusion import arcee_fusion_tensor, fusion_importance

    a, b = tensors[0], tensors[1]
    out = arcee_fusion_tensor(a, b)
    taken = out != a
    assert 0 < int(taken.sum()) < a.numel() // 2  # some, not most (the fence is an outlier bound)
    torch.testing.assert_close(out[taken], b[taken], atol=0, rtol=0)  # taken entries are the model's exactly
    scores = fusion_importance(a, b)
    assert scores[taken].min() >= scores[~taken].max()  # the taken ones are the highest-scoring
    torch.testing.assert_close(arcee_fusion_tensor(a, a), a)  # nothing moved: nothing taken


# --- RAM and RAM+ -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("epsilon", [1e-5, 0.05, 0.0])
@pytest.mark.parametrize("n_models", [1, 2, 3])
def test_ram(tensors, epsilon, n_models):
    from diversa.combine.merge.ram import ram_merging

    models = _sparse_models(tensors)[:n_models]
    out = api.merge_tensors([tensors[0]] + models, "ram", parameters={"epsilon": epsilon}, base_index=0)
    ours = ram_merging(single_tensor_sd(tensors[0]), [single_tensor_sd(m) for m in models], epsilon=epsilon)["w"]
    torch.testing.assert_close(ours, out, **TOL)


@pytest.mark.parametrize("r,alpha,epsilon", [(0.1, 0.2, 1e-5), (0.5, 3.0, 1e-5), (2.0, 1.0, 0.05), (0.0, 0.2, 1e-5)])
@pytest.mark.parametrize("shape", [(12, 7), (3, 4, 5)])
def test_ramplus_tl(tensors, r, alpha, epsilon, shape):
    from diversa.combine.merge.ram import ramplus_tl_merging

    base = tensors[0].reshape(-1)[: torch.Size(shape).numel()].reshape(shape)
    models = [m.reshape(-1)[: base.numel()].reshape(shape) for m in _sparse_models(tensors, seed=1)]
    params = {"r": r, "alpha": alpha, "epsilon": epsilon}
    out = api.merge_tensors([base] + models, "ramplus_tl", parameters=params, base_index=0)
    ours = ramplus_tl_merging(single_tensor_sd(base), [single_tensor_sd(m) for m in models], **params)["w"]
    torch.testing.assert_close(ours, out, **TOL)


def test_ram_keeps_unique_changes_and_averages_shared_ones():
    from diversa.combine.merge.ram import ram_tensor, ramplus_tl_tensor

    taus = [torch.tensor([1.0, 2.0, 0.0, 0.0]), torch.tensor([3.0, 0.0, 0.0, 5.0])]
    torch.testing.assert_close(ram_tensor(taus), torch.tensor([2.0, 2.0, 0.0, 5.0]))
    # each model: 1 shared entry, 1 unique one -> rho = 1, clamped to alpha = 0.5 -> lambda = 1 + 0.2 * 0.5
    torch.testing.assert_close(ramplus_tl_tensor(taus, r=0.2, alpha=0.5), torch.tensor([2.0, 2.2, 0.0, 5.5]))
    torch.testing.assert_close(ramplus_tl_tensor(taus, r=0.0), ram_tensor(taus))  # r = 0 is RAM


def test_fusion_and_ram_bad_input():
    from diversa.combine.merge.arcee_fusion import arcee_fusion, arcee_fusion_tensor
    from diversa.combine.merge.config import parse_config
    from diversa.combine.merge.ram import ram_merging, ramplus_tl_merging

    a = {"w": torch.randn(3, 3)}
    with pytest.raises(ValueError, match="exactly one model"):
        arcee_fusion(a, [a, a])
    with pytest.raises(ValueError, match="base must be given"):
        arcee_fusion(None, [a])
    with pytest.raises(ValueError, match="different shapes"):
        arcee_fusion_tensor(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="epsilon must lie in"):
        ram_merging(a, [a], epsilon=-1.0)
    with pytest.raises(ValueError, match="at least one model"):
        ram_merging(a, [])
    with pytest.raises(ValueError, match="alpha must lie in"):
        ramplus_tl_merging(a, [a], alpha=float("nan"))
    with pytest.raises(TypeError, match="r must be a number"):
        ramplus_tl_merging(a, [a], r="0.1")
    with pytest.raises(ValueError, match=r"parameters\.r must be a number"):
        parse_config({"merge_method": "ramplus_tl", "base_model": "/b", "models": [{"model": "/m"}],
                      "parameters": {"r": "big"}})
    with pytest.raises(ValueError, match="unknown parameter 't'"):
        parse_config({"merge_method": "arcee_fusion", "base_model": "/b", "models": [{"model": "/m"}],
                      "parameters": {"t": 0.5}})
