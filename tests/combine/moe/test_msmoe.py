import pytest
import torch

from diversa.combine.moe import MSMoE, align_experts, expert_parameter_count, merge_groups, read_experts
from diversa.datasets.algotasks import AlgoTasks
from diversa.nn.models import MoEConfig, TinyLM, TinyLMConfig

KINDS = ["gelu", "mixtral", "swiglu"]



def test_frequency_weighted_merge_is_mergekits_normalized_linear_merge(make_layer):
    api = pytest.importorskip("mergekit.merge_methods.api")
    ex = read_experts(make_layer("gelu"))
    weights = torch.tensor([0.3, 0.1, 0.05, 0.25, 0.2, 0.1])
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    merged = merge_groups(ex, labels, weights)
    members = [0, 2, 4]
    expected = api.merge_tensors([ex.w_in[e] for e in members], "linear",
                                 parameters={"weight": {i: float(weights[e]) for i, e in enumerate(members)}})
    torch.testing.assert_close(merged.w_up.weight(0), expected.float(), atol=1e-6, rtol=1e-6)


def test_merging_identical_experts_returns_that_expert(make_layer):
    ex = read_experts(make_layer("swiglu"))
    same = ex.with_weights(ex.w_in[:1].repeat(6, 1, 1), ex.w_out[:1].repeat(6, 1, 1))
    merged = merge_groups(same, torch.tensor([0, 0, 1, 1, 1, 0]), torch.rand(6))
    torch.testing.assert_close(merged.w_gate.weight(1), ex.w_in[0, :12])
    torch.testing.assert_close(merged.w_down.weight(0), ex.w_out[0])


def test_zero_frequency_group_is_averaged_not_zeroed(make_layer):
    ex = read_experts(make_layer("gelu"))
    merged = merge_groups(ex, torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0.5, 0.5, 0.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(merged.w_up.weight(1), (ex.w_in[2] + ex.w_in[3]) / 2)


@pytest.mark.parametrize("kind", KINDS)
def test_as_many_groups_as_experts_leaves_the_layer_unchanged(kind, make_layer, layer_output):
    layer = make_layer(kind)
    x = torch.randn(1, 60, 16)
    out = MSMoE(n_groups=6).fit_transform(layer, x)
    torch.testing.assert_close(layer_output(out, x), layer_output(layer, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_merged_layer_routes_members_to_their_dominants_merge(kind, make_layer):
    layer = make_layer(kind)
    x = torch.randn(1, 80, 16)
    msmoe = MSMoE(n_groups=3).fit(layer, x)
    merged = msmoe.transform(layer)
    experts = merged.experts
    labels, dominants = msmoe.labels_[""], msmoe.dominants_[""]
    assert experts.num_physical == 3 and experts.expert_map.tolist() == labels.tolist()
    assert sorted(torch.argsort(msmoe.frequencies_[""], descending=True, stable=True)[:3].tolist()) == sorted(dominants)
    assert expert_parameter_count(merged) == expert_parameter_count(layer) // 2
    # permutation alignment leaves each dominant untouched: a group of one dominant is that expert
    ex = read_experts(layer)
    for g, d in enumerate(dominants):
        if int((labels == g).sum()) == 1:
            torch.testing.assert_close(experts.w_up.weight(g), ex.matrices()["up"][d])


def test_alignment_brings_a_permuted_twin_back_to_its_original(make_layer):
    # expert 1 is expert 0 with shuffled hidden units; merged after alignment the pair is expert 0 itself,
    # merged without alignment it is a blur of unrelated units
    layer = make_layer("swiglu", num_experts=4, top_k=2)
    with torch.no_grad():
        perm = torch.randperm(12)
        layer.w_gate_up[1] = torch.cat([layer.w_gate_up[0, :12][perm], layer.w_gate_up[0, 12:][perm]])
        layer.w_down[1] = layer.w_down[0][:, perm]
    ex = read_experts(layer)
    labels, weights = torch.tensor([0, 0, 1, 2]), torch.tensor([0.4, 0.3, 0.2, 0.1])
    aligned = merge_groups(align_experts(ex, [0, 0, 2, 3]), labels, weights)
    for name, mats in ex.matrices().items():
        torch.testing.assert_close(aligned.matrices()[name].weight(0), mats[0], atol=1e-6, rtol=1e-6)
    plain = merge_groups(ex, labels, weights)
    assert not torch.allclose(plain.w_gate.weight(0), ex.matrices()["gate"][0], atol=1e-2)


def test_tinylm_end_to_end():
    torch.manual_seed(0)
    model = TinyLM(TinyLMConfig(n_layers=2, moe=MoEConfig(num_experts=8, top_k=2, d_expert=16))).eval()
    batch = AlgoTasks(seed=1).sample(16)
    merged = MSMoE(n_groups=4, global_groups=True).fit(model, batch.input_ids, batch.input_ids != 10)
    out = merged.transform(model)
    assert sum(merged.n_groups_.values()) == 8
    logits = out(batch.input_ids).logits
    assert torch.isfinite(logits).all() and not torch.allclose(logits, model(batch.input_ids).logits)
    assert model.blocks[0].ffn.__class__.__name__ == "MoEFeedForward"  # the input model is untouched


def test_bad_input(make_layer):
    layer = make_layer("gelu")
    x = torch.randn(20, 16)
    with pytest.raises(ValueError, match="n_groups=7 exceeds"):
        MSMoE(n_groups=7).fit(layer, x)
    with pytest.raises(ValueError, match="n_groups must be"):
        MSMoE(n_groups=0).fit(layer, x)
    with pytest.raises(ValueError, match="calibration batch is empty"):
        MSMoE(n_groups=2).fit(layer, x, token_mask=torch.zeros(20, dtype=torch.bool))
    with pytest.raises(ValueError, match="no supported MoE layer"):
        MSMoE().fit(torch.nn.Linear(16, 16), x)
    with pytest.raises(ValueError, match="labels must use every group"):
        merge_groups(read_experts(layer), torch.tensor([0, 0, 2, 2, 0, 0]))
