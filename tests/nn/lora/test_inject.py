"""apply_lora / apply_adapter: target matching, all-or-nothing adapting, state dicts, merging."""

import pytest
import torch
from torch import nn

from diversa.nn.lora import (
    LoRALinear,
    apply_lora,
    load_lora_state_dict,
    lora_state_dict,
    merge_and_unload,
    merge_lora,
    unmerge_lora,
)

pytestmark = pytest.mark.usefixtures("one_thread")


class Attention(nn.Module):
    def __init__(self, d=8, d_v=8):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj = nn.Linear(d, d, bias=False), nn.Linear(d, d), nn.Linear(d, d_v)
        self.o_proj = nn.Linear(d_v, d)

    def forward(self, x):
        return self.o_proj(torch.tanh(self.q_proj(x) + self.k_proj(x)) * self.v_proj(x)[..., :1])


class Net(nn.Module):
    def __init__(self, d_v=8):
        super().__init__()
        self.layers = nn.ModuleList([Attention(d_v=8), Attention(d_v=d_v)])
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return self.head(x)


def _snapshot(model):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            {n: p.requires_grad for n, p in model.named_parameters()},
            [type(m).__name__ for m in model.modules()])


def _randomize_lora(model, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))


def test_targets_match_by_suffix_and_everything_else_freezes():
    model = apply_lora(Net(), ["q_proj", "layers.1.v_proj"], r=2, alpha=4)
    adapted = sorted(n for n, m in model.named_modules() if isinstance(m, LoRALinear))
    assert adapted == ["layers.0.q_proj", "layers.1.q_proj", "layers.1.v_proj"]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{m}.{w}.weight" for m in adapted for w in ("lora_A", "lora_B")}


def test_regex_target_must_match_the_full_name():
    model = apply_lora(Net(), r"layers\.0\.(k|v)_proj", r=2)
    assert sorted(n for n, m in model.named_modules() if isinstance(m, LoRALinear)) == \
        ["layers.0.k_proj", "layers.0.v_proj"]


def test_rank_and_alpha_patterns_follow_peft():
    model = apply_lora(Net(), ["q_proj", "v_proj"], r=4, alpha=8, rank_pattern={"layers.1.q_proj": 2},
                       alpha_pattern={"v_proj": 3})
    layers = {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    assert {n: (m.r, m.alpha) for n, m in layers.items()} == {
        "layers.0.q_proj": (4, 8), "layers.0.v_proj": (4, 3), "layers.1.q_proj": (2, 8), "layers.1.v_proj": (4, 3)}


def test_unknown_target_names_the_target_and_leaves_the_model_alone():
    model = Net()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"\['qproj'\] match no module of Net.*layers.0.q_proj"):
        apply_lora(model, ["q_proj", "qproj"])
    after = _snapshot(model)
    assert before[1:] == after[1:] and all(torch.equal(before[0][k], after[0][k]) for k in before[0])


def test_rank_too_large_for_a_later_layer_changes_nothing():
    model = Net(d_v=2)  # layers.1.v_proj is 8 -> 2: rank at most 2
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"layers.1.v_proj.*in_features=8, out_features=2.*r=4"):
        apply_lora(model, ["q_proj", "v_proj"], r=4)
    after = _snapshot(model)
    assert before[1] == after[1], "bases frozen by layers built before the failure must be thawed again"
    assert before[2] == after[2]


def test_non_linear_target_and_double_adapting_are_refused():
    with pytest.raises(ValueError, match="'layers.0' is a Attention"):
        apply_lora(Net(), ["layers.0"])
    model = apply_lora(Net(), ["q_proj"], r=2)
    with pytest.raises(ValueError, match="already has an adapter"):
        apply_lora(model, ["q_proj"], r=2)


@pytest.mark.parametrize("targets", [[], "(", ["q_proj", 3]])
def test_bad_target_modules(targets):
    with pytest.raises(ValueError, match="target_modules"):
        apply_lora(Net(), targets)


def test_state_dict_round_trip_and_checks():
    torch.manual_seed(0)
    source = apply_lora(Net(), ["q_proj", "v_proj"], r=2)
    _randomize_lora(source)
    target = apply_lora(Net(), ["q_proj", "v_proj"], r=2)
    target.load_state_dict({k: v for k, v in source.state_dict().items() if "lora_" not in k}, strict=False)
    sd = lora_state_dict(source)
    assert len(sd) == 8 and all(k.endswith(("lora_A.weight", "lora_B.weight")) for k in sd)
    load_lora_state_dict(target, sd)
    x = torch.randn(5, 8)
    torch.testing.assert_close(target(x), source(x))

    fresh = apply_lora(Net(), ["q_proj", "v_proj"], r=2)
    kept = {k: v.clone() for k, v in lora_state_dict(fresh).items()}
    bad = dict(sd)
    bad["layers.1.v_proj.lora_B.weight"] = torch.zeros(8, 3)
    with pytest.raises(ValueError, match=r"layers.1.v_proj.lora_B: shape \(8, 3\) does not match the model's \(8, 2\)"):
        load_lora_state_dict(fresh, bad)
    assert all(torch.equal(kept[k], v) for k, v in lora_state_dict(fresh).items()), "nothing copied on failure"
    with pytest.raises(ValueError, match="no LoRA layer 'layers.0.k_proj'"):
        load_lora_state_dict(fresh, {**sd, "layers.0.k_proj.lora_A.weight": torch.zeros(2, 8)})
    with pytest.raises(ValueError, match="lacks 2 LoRA weight"):
        load_lora_state_dict(fresh, {k: v for k, v in sd.items() if not k.startswith("layers.1.q_proj")})


def test_model_merge_unmerge_and_unload():
    model = apply_lora(Net(), ["q_proj", "k_proj", "v_proj", "o_proj"], r=2)
    _randomize_lora(model)
    bases = {n: m.base_layer.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    x = torch.randn(5, 8)
    before = model(x)
    merge_lora(model)
    torch.testing.assert_close(model(x), before, atol=1e-5, rtol=1e-5)
    unmerge_lora(model)
    for n, m in model.named_modules():
        if isinstance(m, LoRALinear):
            torch.testing.assert_close(m.base_layer.weight, bases[n], atol=1e-6, rtol=0)
    merge_and_unload(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    torch.testing.assert_close(model(x), before, atol=1e-5, rtol=1e-5)
