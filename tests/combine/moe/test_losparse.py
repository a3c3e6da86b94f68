import math

import pytest
import torch

from diversa.combine.moe import (
    LoSparsePruner,
    MSMoE,
    compress_experts,
    expert_parameter_count,
    low_rank_sparse,
    stable_rank,
)

KINDS = ["gelu", "mixtral", "swiglu"]



@pytest.mark.parametrize("kind", KINDS)
def test_low_rank_plus_residual_is_exact_at_initialisation(kind, make_layer, layer_output):
    layer = make_layer(kind)
    x = torch.randn(1, 40, 16)
    merged = MSMoE(n_groups=3).fit_transform(layer, x)
    compressed = compress_experts(merged, rank=4)
    torch.testing.assert_close(layer_output(compressed, x), layer_output(merged, x), atol=1e-5, rtol=1e-5)
    plain = compress_experts(layer, rank=4)  # an unmerged layer: one physical expert per slot
    torch.testing.assert_close(layer_output(plain, x), layer_output(layer, x), atol=1e-5, rtol=1e-5)


def test_low_rank_part_is_the_truncated_svd():
    w = torch.randn(3, 10, 7)
    left, right, sparse = low_rank_sparse(w, 2)
    u, s, vh = torch.linalg.svd(w[1])
    torch.testing.assert_close(left[1] @ right[1], (u[:, :2] * s[:2]) @ vh[:2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(left[1] @ right[1] + sparse[1], w[1], atol=1e-5, rtol=1e-5)


def test_schedule_follows_the_cubic_formula(make_layer):
    layer = compress_experts(make_layer("gelu"), rank=2)
    pruner = LoSparsePruner(layer, final_ratio=0.1, total_steps=100, warmup_steps=10)
    assert pruner.remaining_ratio(10) == 1.0
    assert pruner.remaining_ratio(61) == 0.1 and pruner.remaining_ratio(100) == 0.1  # t > T - t_f = 60
    mid = 10 + 25  # halfway between t_i = 10 and T - t_f = 60
    assert math.isclose(pruner.remaining_ratio(mid), 0.1 + 0.9 * 0.5 ** 3)


def test_pruning_keeps_the_most_important_rows(make_layer):
    layer = compress_experts(make_layer("gelu"), rank=2)
    pruner = LoSparsePruner(layer, final_ratio=0.25)
    g = torch.Generator().manual_seed(0)
    for m in pruner.targets:
        m.sparse.grad = 1e-3 * torch.rand(m.sparse.shape, generator=g)
    # large importance |S * grad| on the first 3 rows of expert 0's up matrix and the first row of its down matrix
    up, down = pruner.targets
    up.sparse.grad[0, :3] = 100.0
    down.sparse.grad[0, :1] = 100.0
    pruner.update_importance()
    pruner.prune(0.25)
    assert up.sparse_rows[0, :3].all() and down.sparse_rows[0, 0]
    assert 0.24 <= pruner.kept_fraction() <= 0.3
    assert torch.all(up.sparse[~up.sparse_rows] == 0)


def test_pruning_shrinks_the_stored_parameters(make_layer, layer_output):
    compressed = compress_experts(make_layer("gelu"), rank=3)
    x = torch.randn(40, 16)
    pruner = LoSparsePruner(compressed, final_ratio=0.1)
    layer_output(compressed, x).square().sum().backward()
    assert pruner.step(1) == 0.1
    assert 0.1 <= pruner.kept_fraction() <= 0.15
    factors = 6 * 2 * 3 * (16 + 12)
    kept_rows = sum(int(m.sparse_rows.sum()) * (m.sparse.shape[2] + 1) for m in pruner.targets)  # entries + index
    assert expert_parameter_count(compressed) == factors + kept_rows


def test_stable_rank():
    assert math.isclose(stable_rank(torch.eye(5)), 5.0)
    assert math.isclose(stable_rank(torch.outer(torch.arange(1.0, 4.0), torch.ones(6))), 1.0, rel_tol=1e-9)
    assert stable_rank(torch.zeros(3, 3)) == 0.0


@pytest.mark.parametrize("kwargs", [{"rank_ratio": 0.0}, {"rank_ratio": 1.5}, {"rank": 20}, {}])
def test_bad_compression_arguments(kwargs, make_layer):
    with pytest.raises(ValueError, match="rank"):
        compress_experts(make_layer("gelu"), **kwargs)


def test_bad_pruning_ratio(make_layer):
    layer = compress_experts(make_layer("gelu"), rank=2)
    with pytest.raises(ValueError, match=r"final_ratio must be a number in \(0, 1\]"):
        LoSparsePruner(layer, final_ratio=0.0)
    with pytest.raises(ValueError, match="no expert matrices with a sparse residual"):
        LoSparsePruner(compress_experts(make_layer("gelu"), rank=2, residual=False))
