import pytest
import torch

from diversa.combine.moe import FrequencyPruning, expert_parameter_count, keep_experts

KINDS = ["gelu", "mixtral", "swiglu"]



def _masked_reference(layer, kept, x):
    """The layer with every other expert's router logit at -inf (the spec's formulation of pruning)."""
    logits = layer.router.logits(x) if hasattr(layer, "router") else layer.gate(x)[0]
    mask = torch.full_like(logits, float("-inf"))
    mask[:, kept] = 0.0
    probs = (logits + mask).softmax(-1)
    values, idx = torch.sort(probs, descending=True, stable=True)
    k = min(2, len(kept))
    w = values[:, :k] / values[:, :k].sum(1, keepdim=True)
    from diversa.combine.moe import read_experts

    ex = read_experts(layer)
    return sum(w[:, j:j + 1] * torch.stack([ex.expert_forward(int(e), x[t:t + 1])[0] for t, e in enumerate(idx[:, j])])
               for j in range(k))


@pytest.mark.parametrize("kind", KINDS)
def test_pruned_layer_equals_masking_the_dropped_experts(kind, make_layer, layer_output):
    layer = make_layer(kind)
    x = torch.randn(50, 16)
    pruning = FrequencyPruning(3).fit(layer, x[None])
    kept = pruning.kept_[""]
    freq = pruning.frequencies_[""]
    assert min(freq[kept]) >= max(freq[[e for e in range(6) if e not in kept]])
    pruned = pruning.transform(layer)
    torch.testing.assert_close(layer_output(pruned, x), _masked_reference(layer, kept, x), atol=1e-5, rtol=1e-5)
    assert expert_parameter_count(pruned) == expert_parameter_count(layer) // 2


def test_keeping_one_expert_lowers_top_k(make_layer):
    layer = make_layer("gelu")
    pruned = keep_experts(layer, [4])
    assert pruned.top_k == 1
    x = torch.randn(10, 16)
    torch.testing.assert_close(pruned(x)[0], layer.expert_forward(4, x))  # the one expert, weight softmax = 1
    with pytest.raises(ValueError, match="distinct expert ids"):
        keep_experts(layer, [1, 1])
    with pytest.raises(ValueError, match="n_experts=7 exceeds"):
        FrequencyPruning(7).fit(layer, x)
