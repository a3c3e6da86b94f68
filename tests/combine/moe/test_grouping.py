import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from diversa.combine.moe import (
    allocate_groups_globally,
    cluster_experts,
    expert_usage_frequency,
    group_by_dominant,
    read_experts,
    router_logit_similarity,
)



def test_usage_frequency_counts_top_k_assignments(make_layer):
    layer = make_layer("gelu", num_experts=5, top_k=2)
    x = torch.randn(300, 16)
    freq = expert_usage_frequency(read_experts(layer), x)
    idx = torch.topk(layer.router.logits(x), 2, dim=-1).indices.reshape(-1)
    expected = torch.bincount(idx, minlength=5).float() / idx.numel()
    torch.testing.assert_close(freq, expected)


def test_router_logit_similarity_is_the_shifted_cosine_of_logit_columns(make_layer):
    layer = make_layer("gelu", num_experts=4)
    x = torch.randn(50, 16)
    sim = router_logit_similarity(read_experts(layer), x)
    z = layer.router.logits(x)
    i, j = 1, 3
    expected = (torch.nn.functional.cosine_similarity(z[:, i], z[:, j], dim=0) + 1) / 2
    torch.testing.assert_close(sim[i, j], expected)
    torch.testing.assert_close(sim, sim.t())
    assert torch.all(sim.diagonal() == 1)


def test_dominants_are_the_most_used_and_members_join_the_most_similar():
    freq = torch.tensor([0.05, 0.30, 0.10, 0.25, 0.20, 0.10])
    sim = torch.full((6, 6), 0.1)
    sim.fill_diagonal_(1.0)
    # expert 0 resembles dominant 4, experts 2 and 5 resemble dominant 1
    for a, b in ((0, 4), (2, 1), (5, 1)):
        sim[a, b] = sim[b, a] = 0.9
    labels, dominants = group_by_dominant(freq, sim, 3)
    assert dominants == [1, 3, 4]  # by frequency; group id = frequency rank
    assert labels.tolist() == [2, 0, 0, 1, 2, 0]


def test_capacity_closes_full_groups():
    freq = torch.tensor([0.4, 0.3, 0.1, 0.1, 0.1])
    sim = torch.eye(5)
    sim[2:, 0] = sim[0, 2:] = 0.9  # every member prefers dominant 0
    labels, _ = group_by_dominant(freq, sim, 2, capacity=3)
    assert labels.tolist() == [0, 1, 0, 0, 1]  # the third member (ties: lower id first) overflows to group 1


def test_one_group_per_expert_keeps_every_expert_alone():
    freq = torch.rand(5)
    labels, dominants = group_by_dominant(freq, torch.eye(5), 5)
    assert sorted(dominants) == list(range(5)) and labels[torch.tensor(dominants)].tolist() == list(range(5))


@pytest.mark.parametrize("n_groups", [0, 7, 2.0])
def test_bad_group_counts(n_groups):
    with pytest.raises(ValueError, match="n_groups"):
        group_by_dominant(torch.rand(6), torch.eye(6), n_groups)


def test_global_allocation_totals_and_minimum():
    g = torch.Generator().manual_seed(0)
    freqs = [torch.rand(8, generator=g) ** p for p in (1, 3, 6)]
    freqs = [f / f.sum() for f in freqs]
    counts = allocate_groups_globally(freqs, 4)
    assert sum(counts) == 12 and min(counts) >= 1
    assert counts[2] < counts[0]  # the most skewed layer keeps fewer groups
    assert allocate_groups_globally(freqs, 4, merged=[True, False, True])[1] == 8
    with pytest.raises(ValueError, match="avg_groups"):
        allocate_groups_globally(freqs, 9)


def test_kmeans_clustering_is_sklearn_on_unit_outputs():
    g = torch.Generator().manual_seed(4)
    outputs = torch.randn(9, 40, 5, generator=g) + 3 * torch.randn(3, 1, 40, 5, generator=g).repeat(3, 1, 1, 1)\
        .reshape(9, 40, 5)
    flat = outputs.reshape(9, -1).double()
    unit = (flat / flat.norm(dim=1, keepdim=True)).numpy()
    reference = KMeans(n_clusters=3, n_init=10, random_state=7).fit_predict(unit)
    ours = cluster_experts(outputs, 3, random_state=7).numpy()
    same = np.equal.outer(reference, reference)
    assert np.array_equal(np.equal.outer(ours, ours), same)
    assert same.sum() == 27  # the planted three groups of three were found


def test_identical_experts_still_give_the_requested_number_of_clusters():
    outputs = torch.ones(5, 10, 3)
    outputs[4] = -1.0
    labels = cluster_experts(outputs, 3, n_init=1)
    assert len(set(labels.tolist())) == 3 and labels[0] == 0
