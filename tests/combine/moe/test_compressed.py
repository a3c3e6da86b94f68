import pytest
import torch

from diversa.combine.moe import (
    CompressedExperts,
    ExpertMatrices,
    compressed_layer,
    dense_experts,
    expert_parameter_count,
    read_experts,
)
from diversa.nn.moe import MoEFeedForward

KINDS = ["gelu", "mixtral", "swiglu"]



def _identity(layer):
    ex = read_experts(layer)
    return compressed_layer(layer, dense_experts(ex.matrices(), torch.arange(ex.num_experts), ex.activation))


@pytest.mark.parametrize("kind", KINDS)
def test_one_physical_expert_per_slot_is_the_original_layer(kind, make_layer, layer_output):
    layer = make_layer(kind)
    x = torch.randn(3, 9, 16)
    torch.testing.assert_close(layer_output(_identity(layer), x), layer_output(layer, x), atol=1e-6, rtol=1e-5)


def test_null_experts_stay_silent(make_layer):
    layer = make_layer("gelu", num_experts=5, top_k=3, num_null=2)
    x = torch.randn(30, 16)
    torch.testing.assert_close(_identity(layer)(x)[0], layer(x)[0], atol=1e-6, rtol=1e-5)


def test_shared_slots_equal_the_expanded_layer(make_layer):
    # slots 0, 2, 4 share physical expert 0 and slots 1, 3, 5 expert 1: the dispatch over physical experts must
    # equal a plain MoEFeedForward whose slots hold copies of the shared experts (a token choosing two slots of
    # one physical expert gets it with the summed weight)
    layer = make_layer("swiglu")
    g = torch.Generator().manual_seed(3)
    mats = {"gate": torch.randn(2, 12, 16, generator=g), "up": torch.randn(2, 12, 16, generator=g),
            "down": torch.randn(2, 16, 12, generator=g)}
    experts = dense_experts(mats, torch.tensor([0, 1, 0, 1, 0, 1]), torch.nn.SiLU())
    merged = compressed_layer(layer, experts)
    plain = MoEFeedForward(16, 12, num_experts=6, top_k=2, expert_type="swiglu")
    plain.router.load_state_dict(layer.router.state_dict())
    w_in, w_out = experts.expanded()
    with torch.no_grad():
        plain.w_gate_up.copy_(w_in)
        plain.w_down.copy_(w_out)
    x = torch.randn(50, 16)
    torch.testing.assert_close(merged(x)[0], plain(x)[0], atol=1e-5, rtol=1e-5)
    merged.dense_reference = True  # the base class's dense path runs on the expansion
    torch.testing.assert_close(merged(x)[0], plain(x)[0], atol=1e-5, rtol=1e-5)


def test_low_rank_sparse_matrices_and_their_storage():
    g = torch.Generator().manual_seed(0)
    left, right = torch.randn(2, 6, 3, generator=g), torch.randn(2, 3, 5, generator=g)
    sparse = torch.randn(2, 6, 5, generator=g)
    rows = torch.zeros(2, 6, dtype=torch.bool)
    rows[0, 1] = rows[1, 4] = True
    m = ExpertMatrices(left=left, right=right, sparse=sparse, sparse_rows=rows)
    expected = left[1] @ right[1]
    expected[4] += sparse[1, 4]
    torch.testing.assert_close(m.weight(1), expected)
    x = torch.randn(7, 5, generator=g)
    torch.testing.assert_close(m.apply(1, x), x @ expected.t(), atol=1e-5, rtol=1e-5)
    # factors (2*(18+15)) + two kept residual rows of 5 entries + one index each
    assert m.num_parameters() == 2 * (18 + 15) + 2 * 5 + 2


def test_parameter_count_of_a_merged_layer_counts_physical_experts_once(make_layer):
    layer = make_layer("gelu")
    ex = read_experts(layer)
    half = {k: v[:3] for k, v in ex.matrices().items()}
    merged = compressed_layer(layer, dense_experts(half, torch.tensor([0, 0, 1, 1, 2, 2]), ex.activation))
    assert expert_parameter_count(layer) == 6 * 2 * 12 * 16
    assert expert_parameter_count(merged) == 3 * 2 * 12 * 16


def test_bad_expert_map_is_rejected(make_layer):
    m = ExpertMatrices(dense=torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match="expert_map values"):
        CompressedExperts(m, ExpertMatrices(dense=torch.randn(2, 3, 4)), torch.tensor([0, 2]), torch.nn.GELU())
    with pytest.raises(ValueError, match="already compressed"):
        compressed_layer(_identity(make_layer("gelu")),
                         dense_experts(read_experts(make_layer("gelu")).matrices(), torch.arange(6),
                                       torch.nn.GELU()))
