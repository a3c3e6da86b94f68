"""LoRALinear: the LoRA update, its scaling, merge/unmerge, and bad input (spec experts.md 0.2)."""

import math

import pytest
import torch

from diversa.nn.lora import LoRALinear, lora_scaling

pytestmark = pytest.mark.usefixtures("one_thread")


def _layer(r=3, alpha=6.0, use_rslora=False, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    layer = LoRALinear(torch.nn.Linear(7, 5), r=r, alpha=alpha, use_rslora=use_rslora, dropout=dropout)
    with torch.no_grad():
        layer.lora_B.weight.normal_()
    return layer


def test_fresh_layer_is_the_base_layer():
    layer = LoRALinear(torch.nn.Linear(7, 5), r=3)
    x = torch.randn(4, 2, 7)
    assert torch.equal(layer(x), layer.base_layer(x))
    assert torch.count_nonzero(layer.lora_A.weight) > 0  # A is initialised, only B is zero


@pytest.mark.parametrize("use_rslora", [False, True])
def test_forward_is_base_plus_scaled_low_rank_update(use_rslora):
    layer = _layer(r=4, alpha=6.0, use_rslora=use_rslora)
    expected_scaling = 6.0 / math.sqrt(4) if use_rslora else 6.0 / 4
    assert layer.scaling == pytest.approx(expected_scaling)
    x = torch.randn(3, 7)
    A, B, W, b = layer.lora_A.weight, layer.lora_B.weight, layer.base_layer.weight, layer.base_layer.bias
    torch.testing.assert_close(layer(x), x @ W.T + b + expected_scaling * x @ A.T @ B.T, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(layer.delta_weight(), expected_scaling * B @ A)


def test_scaling_formula():
    assert lora_scaling(16, 32) == 2.0
    assert lora_scaling(16, 32, use_rslora=True) == 8.0


def test_merge_keeps_outputs_and_unmerge_restores_base_weight():
    layer = _layer()
    original = layer.base_layer.weight.detach().clone()
    x = torch.randn(6, 7)
    before = layer(x)
    layer.merge()
    assert layer.merged
    torch.testing.assert_close(layer.base_layer.weight, original + layer.delta_weight(), atol=1e-6, rtol=0)
    torch.testing.assert_close(layer(x), before, atol=1e-6, rtol=0)
    with pytest.warns(UserWarning, match="already merged"):
        layer.merge()  # a second merge must not add the update twice
    torch.testing.assert_close(layer(x), before, atol=1e-6, rtol=0)
    layer.unmerge()
    torch.testing.assert_close(layer.base_layer.weight, original, atol=1e-6, rtol=0)
    torch.testing.assert_close(layer(x), before, atol=1e-6, rtol=0)


def test_only_lora_weights_train():
    layer = _layer()
    layer(torch.randn(4, 7)).sum().backward()
    assert layer.base_layer.weight.grad is None and layer.base_layer.bias.grad is None
    assert layer.lora_A.weight.grad.abs().sum() > 0 and layer.lora_B.weight.grad.abs().sum() > 0


def test_dropout_touches_only_the_update():
    torch.manual_seed(0)
    layer = LoRALinear(torch.nn.Linear(7, 5), r=3, dropout=0.5).train()
    x = torch.randn(50, 7)
    assert torch.equal(layer(x), layer.base_layer(x))  # B = 0: dropout must not reach the base path
    with torch.no_grad():
        layer.lora_B.weight.normal_()
    assert not torch.allclose(layer(x), layer.eval()(x))


@pytest.mark.parametrize("kwargs, match", [
    ({"r": 0}, "r must be a positive int"),
    ({"r": 6}, r"r=6 is larger than the layer allows.*out=5, in=7"),
    ({"r": 2.0}, "r must be a positive int"),
    ({"r": 2, "dropout": 1.0}, "dropout"),
    ({"r": 2, "alpha": float("nan")}, "alpha"),
    ({"r": 2, "init": "orthogonal"}, "init"),
])
def test_bad_arguments_are_named(kwargs, match):
    base = torch.nn.Linear(7, 5)
    with pytest.raises(ValueError, match=match):
        LoRALinear(base, **kwargs)
    assert base.weight.requires_grad  # the base is only frozen once the layer is built


def test_base_must_be_linear():
    with pytest.raises(TypeError, match="torch.nn.Linear"):
        LoRALinear(torch.nn.Conv1d(3, 3, 1))
