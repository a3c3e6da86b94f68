"""LoRA-Mixer: exact invariants of the routed LoRA mixture and the specialization balance loss."""

import copy
import math

import pytest
import torch
from torch import nn

from diversa.nn.lora import (
    LoRALinear,
    LoRAMixerLinear,
    apply_lora,
    apply_lora_mixer,
    forward_kwargs,
    load_lora_experts,
    lora_state_dict,
    read_adapter,
    record_routing,
    save_adapter,
    specialization_balance_loss,
    topk_weights,
)

pytestmark = pytest.mark.usefixtures("one_thread")
D_IN, D_OUT = 10, 6


def _mixer(num_experts=4, r=3, top_k=2, mode="auto", alpha=None, seed=0):
    torch.manual_seed(seed)
    layer = LoRAMixerLinear(nn.Linear(D_IN, D_OUT), num_experts, r=r, top_k=top_k, mode=mode, alpha=alpha)
    with torch.no_grad():
        for B in layer.lora_B:
            B.weight.normal_()
        layer.router.weight.normal_(0, 1.0)  # a decisive router, so top-k differs from soft mixing
    return layer


def _lora_like(mixer, e):
    """A LoRALinear on the same base holding expert e's weights."""
    lora = LoRALinear(mixer.base_layer, r=mixer.ranks[e], alpha=mixer.scalings[e] * mixer.ranks[e])
    with torch.no_grad():
        lora.lora_A.weight.copy_(mixer.lora_A[e].weight)
        lora.lora_B.weight.copy_(mixer.lora_B[e].weight)
    return lora


@pytest.mark.parametrize("mode", ["soft", "sparse"])
def test_one_expert_is_plain_lora_for_any_router(mode):
    mixer = _mixer(num_experts=1, top_k=1, mode=mode)
    x = torch.randn(4, 5, D_IN)
    expected = _lora_like(mixer, 0)(x)
    for seed in range(3):
        with torch.no_grad():
            mixer.router.weight.copy_(torch.randn(1, D_IN, generator=torch.Generator().manual_seed(seed)) * 5)
        torch.testing.assert_close(mixer(x), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", ["soft", "sparse"])
def test_all_zero_B_is_the_base_layer(mode):
    mixer = _mixer(mode=mode)
    with torch.no_grad():
        for B in mixer.lora_B:
            B.weight.zero_()
    x = torch.randn(3, 7, D_IN)
    assert torch.equal(mixer(x), mixer.base_layer(x))


def test_hard_routing_to_expert_e_is_that_experts_lora():
    mixer = _mixer()
    x = torch.randn(2, 5, D_IN)
    for e in range(4):
        expected = _lora_like(mixer, e)(x)
        torch.testing.assert_close(mixer(x, expert_weights=torch.tensor(e)), expected, atol=1e-6, rtol=0)
        one_hot = torch.eye(4)[e].expand(2, 1, 4)  # per example, broadcast over tokens
        torch.testing.assert_close(mixer(x, expert_weights=one_hot), expected, atol=1e-6, rtol=0)
    ids = torch.tensor([[0, 1, 2, 3, 1], [3, 3, 0, 2, 2]])  # per token: each token equals its own expert's LoRA
    out = mixer(x, expert_weights=ids)
    for b in range(2):
        for t in range(5):
            e = int(ids[b, t])
            torch.testing.assert_close(out[b, t], _lora_like(mixer, e)(x[b, t]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", ["soft", "sparse"])
def test_routed_output_is_the_explicit_weighted_sum_of_expert_deltas(mode):
    mixer = _mixer(mode=mode).eval()
    x = torch.randn(3, 6, D_IN)
    out, routing = mixer(x, return_routing=True)
    probs = torch.softmax(x @ mixer.router.weight.T, dim=-1)
    expected_weights = probs if mode == "soft" else topk_weights(probs, 2)
    torch.testing.assert_close(routing.weights, expected_weights)
    explicit = mixer.base_layer(x) + sum(expected_weights[..., e:e + 1] * mixer.expert_delta(e, x) for e in range(4))
    torch.testing.assert_close(out, explicit, atol=1e-6, rtol=0)
    torch.testing.assert_close(mixer(x[0, 0]), explicit[0, 0], atol=1e-6, rtol=0)  # a single token [in] works too


def test_topk_weights_are_renormalised_per_token_not_over_the_batch():
    mixer = _mixer(mode="sparse")
    x = torch.randn(2, 9, D_IN)
    weights = mixer.routing(x).weights.detach()
    probs = torch.softmax(x @ mixer.router.weight.T, dim=-1).detach()
    for b in range(2):
        for t in range(9):
            top = torch.argsort(probs[b, t], descending=True)[:2]
            expected = torch.zeros(4)
            expected[top] = probs[b, t, top] / probs[b, t, top].sum()
            torch.testing.assert_close(weights[b, t], expected)
    assert torch.equal((weights > 0).sum(-1), torch.full((2, 9), 2))


def test_unselected_experts_do_not_contribute():
    mixer = _mixer(mode="sparse")
    x = torch.randn(1, D_IN)
    weights = mixer.routing(x).weights[0]
    before = mixer(x)
    unselected = int(torch.nonzero(weights == 0)[0])
    selected = int(torch.nonzero(weights > 0)[0])
    with torch.no_grad():
        mixer.lora_B[unselected].weight.mul_(100)
    assert torch.equal(mixer(x), before)
    with torch.no_grad():
        mixer.lora_B[selected].weight.mul_(2)
    assert not torch.allclose(mixer(x), before)


def test_auto_mode_is_soft_in_training_and_sparse_in_eval():
    mixer = _mixer()
    x = torch.randn(5, D_IN)
    assert bool((mixer.train().routing(x).weights > 0).all())
    assert torch.equal((mixer.eval().routing(x).weights > 0).sum(-1), torch.full((5,), 2))


def test_per_token_weights_for_any_input_shape():
    mixer = _mixer().eval()
    for shape in [(D_IN,), (7, D_IN), (2, 3, 4, D_IN)]:
        x = torch.randn(shape)
        out, routing = mixer(x, return_routing=True)
        assert routing.weights.shape == shape[:-1] + (4,)
        torch.testing.assert_close(routing.weights, mixer.routing(x).weights)
        torch.testing.assert_close(routing.weights.sum(-1), torch.ones(shape[:-1]))


def test_load_expert_checks_shapes_and_freezes():
    mixer = _mixer()
    A, B = torch.randn(5, D_IN), torch.randn(D_OUT, 5)
    mixer.load_expert(2, A, B, scaling=0.5)  # a different rank is fine
    assert mixer.ranks[2] == 5 and not mixer.lora_A[2].weight.requires_grad
    torch.testing.assert_close(mixer.delta_weight(2), 0.5 * B @ A)
    with pytest.raises(ValueError, match=rf"expected A of shape \(r, {D_IN}\) and B of shape \({D_OUT}, r\), "
                                         rf"got A \(5, 9\) and B \({D_OUT}, 5\)"):
        mixer.load_expert(1, torch.randn(5, 9), B)
    with pytest.raises(ValueError, match="expert index"):
        mixer.load_expert(4, A, B)


@pytest.mark.parametrize("kwargs, match", [
    ({"top_k": 5}, r"top_k must be an int in \[1, num_experts=4\]"),
    ({"top_k": 0}, "top_k"),
    ({"mode": "hard"}, "mode"),
    ({"r": [2, 2]}, "one per expert"),
    ({"r": 7}, "larger than the layer"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LoRAMixerLinear(nn.Linear(D_IN, D_OUT), 4, **{"r": 2, **kwargs})


def test_bad_overrides():
    mixer = _mixer()
    x = torch.randn(2, 3, D_IN)
    with pytest.raises(ValueError, match="must end in num_experts=4"):
        mixer(x, expert_weights=torch.ones(2, 3, 3))
    with pytest.raises(ValueError, match="do not broadcast"):
        mixer(x, expert_weights=torch.ones(5, 1, 4))
    with pytest.raises(ValueError, match=r"expert ids must be in \[0, 4\)"):
        mixer(x, expert_weights=torch.tensor(4))


# ---------------------------------------------------------------- specialization balance loss

def test_balance_loss_on_uniform_and_on_balanced_one_hot_routing():
    uniform = specialization_balance_loss(torch.full((8, 4), 0.25), alpha=1.0, lam=1.0)
    assert float(uniform.balance) == pytest.approx(1.0) and float(uniform.entropy) == pytest.approx(math.log(4))
    assert float(uniform.loss) == pytest.approx(1.0 + math.log(4))
    one_hot = specialization_balance_loss(torch.eye(4).repeat(2, 1), alpha=1.0, lam=1.0)
    assert float(one_hot.balance) == pytest.approx(1.0) and float(one_hot.entropy) == pytest.approx(0.0)
    collapsed = specialization_balance_loss(torch.eye(4)[[0] * 8], alpha=1.0, lam=1.0)
    assert float(collapsed.balance) == pytest.approx(4.0)  # all tokens on one expert: E times the balanced value


@pytest.mark.parametrize("sign", [1, -1])
def test_entropy_sign_decides_whether_routing_sharpens(sign):
    logits = torch.randn(32, 4, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    before = specialization_balance_loss(logits.softmax(-1)).entropy.item()
    loss = specialization_balance_loss(logits.softmax(-1), alpha=0.0, lam=1.0, entropy_sign=sign).loss
    loss.backward()
    with torch.no_grad():
        after = specialization_balance_loss((logits - 0.5 * logits.grad).softmax(-1)).entropy.item()
    assert (after < before) if sign == 1 else (after > before)


def test_masked_tokens_do_not_change_the_loss():
    probs = torch.rand(2, 5, 4).softmax(-1)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)
    masked = specialization_balance_loss(probs, mask)
    garbage = probs.clone()
    garbage[~mask] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert torch.equal(specialization_balance_loss(garbage, mask).loss, masked.loss)
    torch.testing.assert_close(masked.loss, specialization_balance_loss(probs[mask]).loss)
    empty = specialization_balance_loss(probs, torch.zeros(2, 5, dtype=torch.bool))
    assert float(empty.loss) == 0.0


def test_topk_share_usage():
    probs = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.1, 0.6, 0.0, 0.3]])
    out = specialization_balance_loss(probs, usage="topk_share", top_k=2)
    expected = torch.tensor([0.5 / 0.8 / 2, (0.3 / 0.8 + 0.6 / 0.9) / 2, 0.0, 0.3 / 0.9 / 2])
    torch.testing.assert_close(out.usage, expected)
    with pytest.raises(ValueError, match="needs top_k"):
        specialization_balance_loss(probs, usage="topk_share")


# ---------------------------------------------------------------- whole models

class TwoProj(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj, self.v_proj = nn.Linear(D_IN, D_IN), nn.Linear(D_IN, D_IN)

    def forward(self, x):
        return self.v_proj(torch.tanh(self.q_proj(x)))


def _loras(n=3, seed=0):
    torch.manual_seed(seed)
    base = TwoProj()
    models = []
    for i in range(n):
        model = apply_lora(copy.deepcopy(base), ["q_proj", "v_proj"], r=2 + i, alpha=4)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.5)
        models.append(model)
    return base, models


def test_plug_and_play_experts_reproduce_their_loras_under_hard_routing(tmp_path):
    base, loras = _loras()
    mixer_model = apply_lora_mixer(copy.deepcopy(base), ["q_proj", "v_proj"], num_experts=3, r=2)
    save_adapter(loras[2], tmp_path / "third")
    load_lora_experts(mixer_model, [lora_state_dict(loras[0]), lora_state_dict(loras[1]),
                                    read_adapter(tmp_path / "third")], alpha=[4, 4, None])
    x = torch.randn(3, 4, D_IN)
    for e, lora in enumerate(loras):
        with forward_kwargs(mixer_model, LoRAMixerLinear, expert_weights=torch.tensor(e)):
            torch.testing.assert_close(mixer_model(x), lora(x), atol=1e-6, rtol=0)
    assert {n for n, p in mixer_model.named_parameters() if p.requires_grad} == {"q_proj.router.weight",
                                                                                 "v_proj.router.weight"}


def test_plug_and_play_checks_everything_before_loading():
    _, loras = _loras()
    mixer_model = apply_lora_mixer(TwoProj(), ["q_proj", "v_proj"], num_experts=3, r=2)
    before = {k: v.clone() for k, v in mixer_model.state_dict().items()}
    partial = {k: v for k, v in lora_state_dict(loras[2]).items() if k.startswith("q_proj")}
    with pytest.raises(ValueError, match=r"adapters\[2\] has no weights for mixer layer\(s\) \['v_proj'\]"):
        load_lora_experts(mixer_model, [lora_state_dict(loras[0]), lora_state_dict(loras[1]), partial])
    assert all(torch.equal(before[k], v) for k, v in mixer_model.state_dict().items())
    with pytest.raises(ValueError, match="got 2 adapters for mixer layers with \\[3\\] experts"):
        load_lora_experts(mixer_model, [lora_state_dict(loras[0])] * 2)


def test_recorded_routing_feeds_the_balance_loss_without_changing_outputs():
    torch.manual_seed(0)
    model = apply_lora_mixer(TwoProj(), ["q_proj", "v_proj"], num_experts=3, r=2)
    x = torch.randn(2, 5, D_IN)
    plain = model(x)
    with record_routing(model) as records:
        recorded = model(x)
    assert torch.equal(recorded, plain)
    assert [r.name for r in records] == ["q_proj", "v_proj"]
    assert records[0].routing.probs.shape == (2, 5, 3)
    sum(specialization_balance_loss(r.routing.probs).loss for r in records).backward()
    assert model.q_proj.router.weight.grad.abs().sum() > 0 and model.v_proj.router.weight.grad.abs().sum() > 0
    assert not model._forward_pre_hooks and not model.q_proj._forward_pre_hooks and not model.q_proj._forward_hooks
