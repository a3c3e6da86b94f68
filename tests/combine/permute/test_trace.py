"""The traced permutation spec keeps every supported model's function, and refuses what it cannot handle."""

import pytest
import torch
import torch.nn.functional as F
from permute_models import ConvBN, ResNet, Transformer, cases, mlp
from torch import nn

from diversa.combine.permute import (
    AxisPerm,
    RuleContext,
    apply_permutation,
    capture_activations,
    permutation_spec,
    permute_model,
    random_permutation,
)

CASES = cases()



@pytest.mark.parametrize(("name", "make", "x"), CASES, ids=[c[0] for c in CASES])
def test_random_permutation_keeps_the_function(name, make, x):
    model = make(0)
    spec = permutation_spec(model, x)
    perm = random_permutation(spec, 3)
    assert any(not torch.equal(p, torch.arange(len(p))) for p in perm.values())
    permuted = permute_model(model, spec, perm)
    state, new = model.state_dict(), permuted.state_dict()
    moved = [k for k in spec.axes_to_perm if not torch.equal(state[k], new[k])]
    assert len(moved) == len(spec.axes_to_perm)  # every tensor of the spec really moved
    with torch.no_grad():
        torch.testing.assert_close(permuted(x), model(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("name", "make", "x"), CASES, ids=[c[0] for c in CASES])
def test_every_hidden_unit_is_covered(name, make, x):
    """Each hidden linear/conv layer's output axis is permuted unless it feeds the observed output."""
    model = make(0)
    spec = permutation_spec(model, x)
    hidden = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
              and n not in ("head", "fc", "out", "4", "7")]
    for layer in hidden:
        axes = spec.axes_to_perm.get(f"{layer}.weight")
        assert axes is not None and axes[0] is not None, layer


def test_mlp_spec_is_git_rebasins():
    spec = permutation_spec(mlp(0), torch.randn(2, 6))
    assert spec.sizes == {"P_0": 10, "P_2": 7}
    assert spec.axes_to_perm["2.weight"] == (AxisPerm("P_2"), AxisPerm("P_0"))
    assert spec.axes_to_perm["4.weight"] == (None, AxisPerm("P_2"))
    assert "4.bias" not in spec.axes_to_perm  # the output is observed


def test_flattened_channels_move_as_blocks_and_batchnorm_statistics_follow():
    spec = permutation_spec(ConvBN(), torch.randn(2, 3, 8, 8))
    assert spec.axes_to_perm["head.weight"] == (None, AxisPerm("P_conv2", block=16))
    for t in ("weight", "bias", "running_mean", "running_var"):
        assert spec.axes_to_perm[f"bn2.{t}"] == (AxisPerm("P_conv2"),)
    assert "bn2.num_batches_tracked" not in spec.axes_to_perm


def test_residual_blocks_share_one_permutation_and_a_projection_shortcut_opens_another():
    spec = permutation_spec(ResNet(), torch.randn(2, 3, 8, 8))
    stream = spec.axes_to_perm["stem.weight"][0].perm
    for key in ("layer1.0.conv2.weight", "layer1.1.conv2.weight", "layer1.0.conv1.weight"):
        axis = 0 if "conv2" in key else 1
        assert spec.axes_to_perm[key][axis].perm == stream
    wide = spec.axes_to_perm["layer2.conv2.weight"][0].perm
    assert wide != stream and spec.axes_to_perm["layer2.shortcut.0.weight"][0].perm == wide
    assert spec.axes_to_perm["layer2.shortcut.0.weight"][1].perm == stream
    assert spec.axes_to_perm["fc.weight"][1].perm == wide


def test_attention_heads_move_as_units():
    spec = permutation_spec(Transformer(), torch.randint(0, 11, (2, 6)))
    assert spec.sizes["P_attn.0.heads"] == 4 and spec.sizes["P_attn.1.heads"] == 4
    assert spec.axes_to_perm["attn.0.in_proj_weight"][0] == AxisPerm("P_attn.0.heads", block=4, repeat=3)
    assert spec.axes_to_perm["attn.0.out_proj.weight"][1] == AxisPerm("P_attn.0.heads", block=4)
    stream = spec.axes_to_perm["tok.weight"][1].perm
    assert {spec.axes_to_perm[k][0].perm for k in ("attn.0.out_proj.weight", "fc2.1.weight")} == {stream}
    assert spec.axes_to_perm["pos.weight"][1].perm == stream


def test_a_stream_that_the_input_joins_is_never_permuted():
    class InputResidual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.hidden = nn.Linear(4, 5)
            self.out = nn.Linear(5, 2)

        def forward(self, x):
            return self.out(F.relu(self.hidden(x + self.fc(x))))

    spec = permutation_spec(InputResidual(), torch.randn(2, 4))
    assert spec.sizes == {"P_hidden": 5}
    assert "fc.weight" not in spec.axes_to_perm


def test_a_rule_declares_a_custom_layer():
    class Scale(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.w = nn.Parameter(torch.randn(d))

        def forward(self, x):
            return torch.einsum("nc,c->nc", x, self.w)  # per channel, but einsum is opaque to the tracer

    def scale_rule(ctx: RuleContext, m, name, args, kwargs):
        ctx.assign(f"{name}.w", 0, args[0])
        return args[0]

    model = nn.Sequential(nn.Linear(3, 6), Scale(6), nn.ReLU(), nn.Linear(6, 2)).eval()
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="einsum"):
        permutation_spec(model, x)
    spec = permutation_spec(model, x, rules={Scale: scale_rule})
    assert spec.axes_to_perm["1.w"] == (AxisPerm("P_0"),)
    permuted = permute_model(model, spec, random_permutation(spec, 1))
    with torch.no_grad():
        torch.testing.assert_close(permuted(x), model(x), atol=1e-5, rtol=0)


class _Rnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.rnn = nn.LSTM(4, 4, batch_first=True)

    def forward(self, x):
        return self.rnn(self.fc(x))[0]


class _Grouped(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(4, 4, 1, groups=2)

    def forward(self, x):
        return self.b(self.a(x))


class _CumSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 2)

    def forward(self, x):
        return self.b(torch.cumsum(self.a(x), -1))


class _SplitChannels(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)

    def forward(self, x):
        return self.a(x).view(x.shape[0], 2, 2).sum(-1)


@pytest.mark.parametrize(("model", "x", "message"), [
    (_Rnn(), torch.randn(2, 5, 3), "unsupported layer 'rnn'.*LSTM"),
    (_Grouped(), torch.randn(1, 3, 4, 4), "groups=2"),
    (_CumSum(), torch.randn(2, 3), "unsupported operation on permuted features at node 'cumsum'"),
    (_SplitChannels(), torch.randn(2, 3), "unsupported reshape"),
], ids=["lstm", "grouped_conv", "cumsum", "split_channels"])
def test_unsupported_layers_are_refused_by_name(model, x, message):
    with pytest.raises(ValueError, match=message):
        permutation_spec(model, x)


def test_shape_learning_leaves_batchnorm_statistics_and_mode_alone():
    model = ConvBN().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    permutation_spec(model, torch.randn(4, 3, 8, 8))
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_sites_capture_the_activations_that_carry_each_permutation():
    model = mlp(0).eval()
    x = torch.randn(5, 6)
    spec = permutation_spec(model, x)
    nodes = [node for node, _ in spec.sites["P_0"]]
    acts = capture_activations(model, x, nodes)
    with torch.no_grad():
        pre = model[0](x)
    assert any(torch.equal(a, pre) for a in acts.values())
    assert any(torch.equal(a, pre.relu()) for a in acts.values())


def test_apply_permutation_on_a_model_with_another_architecture_names_the_tensor():
    spec = permutation_spec(mlp(0), torch.randn(2, 6))
    other = mlp(0, widths=(6, 11, 7, 3)).state_dict()
    with pytest.raises(ValueError, match=r"'0\.(weight|bias)' axis 0 has length 11"):
        apply_permutation(spec, random_permutation(spec), other)
