"""Specs from checkpoint names: linear stacks and Llama-style decoders keep their function; others are refused."""

import pytest
import torch
from permute_models import mlp

from diversa.combine.permute import AxisPerm, apply_permutation, checkpoint_spec, random_permutation



def _shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


def test_a_linear_stack_in_natural_order_keeps_its_function():
    widths = (5, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 3)  # 12 layers: "layer10" must follow "layer9"
    seq = mlp(0, widths)
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    state = {f"layer{i}.{t}": getattr(m, t).detach() for i, m in enumerate(linears) for t in ("weight", "bias")}
    spec = checkpoint_spec(_shapes(state), "auto")
    assert spec.axes_to_perm["layer10.weight"] == (AxisPerm("P_layer10"), AxisPerm("P_layer9"))
    assert spec.axes_to_perm["layer11.weight"] == (None, AxisPerm("P_layer10"))
    permuted = apply_permutation(spec, random_permutation(spec, 1), state)
    x = torch.randn(4, 5)

    def forward(s):
        h = x
        for i in range(len(linears)):
            h = h @ s[f"layer{i}.weight"].T + s[f"layer{i}.bias"]
            h = h.relu() if i < len(linears) - 1 else h
        return h

    assert not torch.equal(permuted["layer3.weight"], state["layer3.weight"])
    torch.testing.assert_close(forward(permuted), forward(state), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("shapes", "message"), [
    ({"a.weight": (4, 3), "b.weight": (2, 5)}, "layer 'b' takes 5 inputs but the previous layer 'a' has 4"),
    ({"a.weight": (4, 3), "bn.running_mean": (4,), "b.weight": (2, 4)}, "'bn.running_mean'"),
    ({"a.weight": (4, 3, 3, 3), "b.weight": (2, 4)}, "'a.weight' with shape \\[4, 3, 3, 3\\]"),
    ({"a.weight": (4, 3)}, "single linear layer"),
    ({"model.layers.0.self_attn.q_proj.weight": (8, 8), "model.layers.0.self_attn.q_norm.weight": (4,)},
     "'model.layers.0.self_attn.q_norm.weight' is not part of a Llama-style decoder"),
], ids=["no_chain", "batchnorm", "conv", "one_layer", "qwen3_norms"])
def test_unknown_layouts_are_refused_by_tensor(shapes, message):
    with pytest.raises(ValueError, match=message):
        checkpoint_spec(shapes, "auto")


def test_architecture_must_be_known():
    with pytest.raises(ValueError, match="architecture must be one of"):
        checkpoint_spec({"a.weight": (2, 2)}, "gpt2")


def _tiny_llama(seed: int, **kw):
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                                      attention_bias=kw.pop("attention_bias", False), **kw)
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():  # norms start at 1 and biases at 0: make every tensor show a permutation
            p.add_(0.1 * torch.randn_like(p))
    return model, config


@pytest.mark.parametrize("attention_bias", [False, True])
def test_a_llama_decoder_keeps_its_function_with_heads_permuted_in_kv_groups(attention_bias):
    model, config = _tiny_llama(0, attention_bias=attention_bias)
    state = model.state_dict()
    spec = checkpoint_spec(_shapes(state), "auto", config.to_dict())
    assert spec.sizes == {"P_residual": 16, "P_mlp.0": 24, "P_heads.0": 2, "P_mlp.1": 24, "P_heads.1": 2}
    assert spec.axes_to_perm["model.layers.0.self_attn.q_proj.weight"][0] == AxisPerm("P_heads.0", block=8)
    assert spec.axes_to_perm["model.layers.0.self_attn.k_proj.weight"][0] == AxisPerm("P_heads.0", block=4)
    perm = random_permutation(spec, 3)
    perm["P_heads.0"] = perm["P_heads.1"] = torch.tensor([1, 0])  # two heads: never the identity
    permuted = apply_permutation(spec, perm, state)
    assert all(not torch.equal(permuted[k], state[k]) for k in spec.axes_to_perm)
    ids = torch.randint(0, 32, (2, 7))
    with torch.no_grad():
        expected = model(ids).logits
        model.load_state_dict(permuted)
        torch.testing.assert_close(model(ids).logits, expected, atol=1e-5, rtol=0)


def test_llama_without_head_counts_keeps_attention_inner_axes():
    model, _ = _tiny_llama(0)
    spec = checkpoint_spec(_shapes(model.state_dict()), "llama")
    assert not any(name.startswith("P_heads") for name in spec.sizes)
    assert spec.axes_to_perm["model.layers.1.self_attn.o_proj.weight"] == (AxisPerm("P_residual"), None)
    with pytest.raises(ValueError, match="do not fit 4 heads"):
        checkpoint_spec(_shapes(model.state_dict()), "llama", {"num_attention_heads": 4, "num_key_value_heads": 4})
