import pytest
import torch

from diversa.combine.moe import SubMoE, expert_parameter_count, read_experts, union_svd, union_svd_merge

KINDS = ["gelu", "mixtral", "swiglu"]



def test_full_rank_union_reconstructs_every_member():
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(10, 6, generator=g) for _ in range(3)]
    U, S, blocks = union_svd(ws)
    for w, blk in zip(ws, blocks):
        torch.testing.assert_close((U * S) @ blk, w.double(), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("concat_dim", [0, 1])
def test_full_rank_merge_is_the_frequency_weighted_average(concat_dim):
    g = torch.Generator().manual_seed(1)
    ws = [torch.randn(64, 32, generator=g) for _ in range(3)]
    f = torch.tensor([0.5, 0.3, 0.2])
    merged, A, B = union_svd_merge(ws, f, rank="full", concat_dim=concat_dim)
    torch.testing.assert_close(merged, sum(fc * w for fc, w in zip(f, ws)), atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(A @ B, merged)


def test_truncated_merge_projects_the_average_on_the_shared_subspace():
    g = torch.Generator().manual_seed(2)
    ws = [torch.randn(64, 32, generator=g) for _ in range(3)]
    f = torch.tensor([0.5, 0.3, 0.2])
    merged, _, _ = union_svd_merge(ws, f, rank=8)
    U = torch.linalg.svd(torch.cat(ws, dim=1), full_matrices=False)[0][:, :8]
    torch.testing.assert_close(merged, U @ U.t() @ sum(fc * w for fc, w in zip(f, ws)), atol=1e-4, rtol=1e-4)


def test_shared_subspace_beats_independent_svds_at_equal_storage():
    # the spec's synthetic check: members share U0, so one basis serves all of them
    g = torch.Generator().manual_seed(0)
    U0 = torch.linalg.qr(torch.randn(64, 8, generator=g))[0]
    s = torch.linspace(3, 1, 8)
    ws = [U0 @ torch.diag(s) @ torch.linalg.qr(torch.randn(32, 8, generator=g))[0].t()
          + 0.01 * torch.randn(64, 32, generator=g) for _ in range(3)]
    U, S, blocks = union_svd(ws)
    union_error = sum(float((w - (U[:, :8] * S[:8]) @ b[:8]).square().sum()) for w, b in zip(ws, blocks))
    r = (64 * 8 + 8 + 3 * 8 * 32) // (3 * (64 + 32))  # per-expert rank storing as much as the union
    independent = 0.0
    for w in ws:
        u, sv, vh = torch.linalg.svd(w, full_matrices=False)
        independent += float((w - (u[:, :r] * sv[:r]) @ vh[:r]).square().sum())
    assert r == 4 and union_error < 0.05 * independent


def test_single_member_cluster_is_unchanged_and_order_does_not_matter():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(12, 16, generator=g)
    torch.testing.assert_close(union_svd_merge([w])[0], w, atol=1e-5, rtol=1e-5)
    ws = [torch.randn(12, 16, generator=g) for _ in range(3)]
    f = torch.tensor([0.2, 0.5, 0.3])
    order = [2, 0, 1]
    torch.testing.assert_close(union_svd_merge(ws, f, rank=5)[0],
                               union_svd_merge([ws[i] for i in order], f[order], rank=5)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_one_cluster_per_expert_keeps_the_layer(kind, make_layer, layer_output):
    layer = make_layer(kind)
    x = torch.randn(1, 60, 16)
    out = SubMoE(n_experts=6).fit_transform(layer, x)
    torch.testing.assert_close(layer_output(out, x), layer_output(layer, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_merged_layer_and_its_intra_compression(kind, make_layer, layer_output):
    layer = make_layer(kind)
    x = torch.randn(1, 60, 16)
    sub = SubMoE(n_experts=3, intra_rank=4).fit(layer, x)
    labels = sub.labels_[""]
    assert sorted(set(labels.tolist())) == [0, 1, 2]
    out = sub.transform(layer)
    assert out.experts.expert_map.tolist() == labels.tolist()
    n_types = len(read_experts(layer).matrices())
    assert expert_parameter_count(out) == 3 * n_types * 4 * (16 + 12)
    # the stored factors are the leading union components: the same as merging at rank 4
    low = SubMoE(n_experts=3, rank=4).fit(layer, x).transform(layer)
    torch.testing.assert_close(layer_output(out, x), layer_output(low, x), atol=1e-5, rtol=1e-5)
    assert torch.linalg.matrix_rank(out.experts.w_down.weight(0)) == 4


def test_bad_input(make_layer):
    layer = make_layer("gelu")
    x = torch.randn(20, 16)
    with pytest.raises(ValueError, match="n_experts=7 exceeds"):
        SubMoE(n_experts=7).fit(layer, x)
    for ratio in (0.0, 1.2, -0.5):
        with pytest.raises(ValueError, match=r"rank_ratio must be a number in \(0, 1\]"):
            SubMoE(rank_ratio=ratio).fit(layer, x)
    with pytest.raises(ValueError, match="rank must be"):
        union_svd_merge([torch.randn(4, 3), torch.randn(4, 3)], rank=5)
    with pytest.raises(ValueError, match="2-D"):
        union_svd_merge([torch.randn(4, 3, 2)])
    with pytest.raises(ValueError, match="experts differ in shape"):
        union_svd_merge([torch.randn(4, 3), torch.randn(4, 2)])
    with pytest.raises(ValueError, match="intra_rank=20 exceeds"):
        SubMoE(n_experts=3, intra_rank=20).fit_transform(layer, x)


def test_square_experts_at_the_default_rank_are_the_clusters_frequency_average(make_layer, layer_output):
    # rank min(out, in) spans the whole output space of a square matrix: the union projection is the identity
    from diversa.combine.moe import merge_groups

    layer = make_layer("swiglu", h=16)
    x = torch.randn(1, 80, 16)
    sub = SubMoE(n_experts=3).fit(layer, x)
    ex = read_experts(layer)
    expected = merge_groups(ex, sub.labels_[""], sub.frequencies_[""])
    for name, store in sub.transform(layer).experts.matrices().items():
        for g in range(3):
            torch.testing.assert_close(store.weight(g), expected.matrices()[name].weight(g), atol=1e-5, rtol=1e-5)
