"""The compressed modules: shapes, parameter counts and bad construction arguments."""

import pytest
import torch

from diversa.nn.compress import LowRankEmbedding, LowRankLinear, count_parameters, low_rank_linear_parameters


def test_low_rank_linear_shapes_and_count():
    layer = LowRankLinear(7, 5, 2)
    assert layer(torch.randn(3, 4, 7)).shape == (3, 4, 5)
    assert count_parameters(layer) == low_rank_linear_parameters(7, 5, 2)
    assert set(layer.state_dict()) == {"A.weight", "A.bias", "B.weight", "B.bias"}


def test_low_rank_embedding_is_a_drop_in_with_codes():
    table = LowRankEmbedding(11, 6, 2)
    ids = torch.tensor([[0, 10], [3, 3]])
    assert table(ids).shape == (2, 2, 6) and table.codes(ids).shape == (2, 2, 2)
    torch.testing.assert_close(table(ids), table.up(table.codes(ids)))
    assert count_parameters(table) == 11 * 2 + 6 * 2 + 6


def test_bad_construction_names_the_argument():
    with pytest.raises(ValueError, match=r"rank = 6 exceeds out_features \(5\)"):
        LowRankLinear(7, 5, 6)
    with pytest.raises(ValueError, match="activation"):
        LowRankLinear(7, 5, 2, activation="gelu")
    with pytest.raises(ValueError, match=r"rank = 7 exceeds embedding_dim \(6\)"):
        LowRankEmbedding(11, 6, 7)
    with pytest.raises(ValueError, match="rank must be >= 1"):
        LowRankEmbedding(11, 6, 0)
