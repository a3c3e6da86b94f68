"""The gradient-matching distance between an edge's operations (GM-NAS, arXiv:2203.15207)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from diversa.systems.nas import ChainSupernet, gradient_matching_distance, pairwise_gradient_distance

TWIN_OPS = ("skip", "lin_relu", "lin_relu_dup", "lin_tanh", "bottleneck")


@pytest.fixture
def net(one_thread):
    return ChainSupernet(6, 3, width=8, n_edges=3, ops=TWIN_OPS).reset_parameters(torch.Generator().manual_seed(0))


def batches(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(n)]


@pytest.mark.parametrize("metric", ["cos", "per-filter-cos", "mse"])
def test_distance_is_symmetric_with_zero_diagonal_and_twins_at_zero(net, metric):
    D = gradient_matching_distance(net, 1, np.ones((3, 5)), batches(), metric=metric, rng=0)
    assert D.shape == (5, 5)
    assert np.allclose(D, D.T) and np.all(np.diag(D) == 0) and np.all(D >= 0)
    assert D[1, 2] < 1e-6                                 # the weight-tied twin
    others = [(i, j) for i in range(5) for j in range(i + 1, 5) if (i, j) != (1, 2)]
    assert all(D[i, j] > 1e-4 for i, j in others)         # every other pair differs
    if metric == "cos":
        assert np.all(D <= 2)


def test_cosine_distances_ignore_the_scale_of_the_loss_but_mse_does_not(net):
    enc = np.ones((3, 5))
    scaled = lambda logits, y: 7.0 * F.cross_entropy(logits, y)   # noqa: E731
    for metric in ("cos", "per-filter-cos"):
        plain = gradient_matching_distance(net, 0, enc, batches(), metric=metric, rng=1)
        assert np.allclose(gradient_matching_distance(net, 0, enc, batches(), metric=metric, rng=1, loss_fn=scaled),
                           plain, atol=1e-9)
    plain = gradient_matching_distance(net, 0, enc, batches(), metric="mse", rng=1)
    assert np.allclose(gradient_matching_distance(net, 0, enc, batches(), metric="mse", rng=1, loss_fn=scaled),
                       49 * plain, rtol=1e-4)


def test_distance_is_deterministic_for_fixed_batches_and_rng(net):
    enc = np.ones((3, 5))
    a = gradient_matching_distance(net, 2, enc, batches(), rng=np.random.default_rng(3))
    b = gradient_matching_distance(net, 2, enc, batches(), rng=np.random.default_rng(3))
    c = gradient_matching_distance(net, 2, enc, batches(seed=1), rng=np.random.default_rng(3))
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_one_batch_matches_a_hand_computed_cosine(one_thread):
    net = ChainSupernet(4, 2, width=3, n_edges=2).reset_parameters(torch.Generator().manual_seed(0))
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    enc = np.array([[1, 1, 1, 1], [0, 1, 0, 0]])          # edge 1 is fixed to lin_relu: one possible path
    D = gradient_matching_distance(net, 0, enc, [(x, y)], rng=0)
    shared = net.shared_parameters(0, arch=(0, 1))
    grads = []
    for op in range(4):
        net.zero_grad()
        F.cross_entropy(net(x, (op, 1)), y).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in shared]).double().numpy())
    G = np.stack(grads)
    norms = np.linalg.norm(G, axis=1)
    expected = 1 - G @ G.T / np.outer(norms, norms)
    np.fill_diagonal(expected, 0)
    assert np.allclose(D, expected, atol=1e-6)


def test_pairwise_metrics_match_their_definitions():
    rng = np.random.default_rng(0)
    grads = [[torch.tensor(rng.normal(size=(3, 4))), torch.tensor(rng.normal(size=3))] for _ in range(3)]
    flat = np.stack([np.concatenate([g[0].numpy().ravel(), g[1].numpy()]) for g in grads])
    mse = pairwise_gradient_distance(grads, "mse")
    assert np.allclose(mse, ((flat[:, None] - flat[None]) ** 2).sum(-1))
    pf = pairwise_gradient_distance(grads, "per-filter-cos")
    w = np.stack([g[0].numpy() for g in grads])                 # biases do not count
    cos = np.einsum("iod,jod->ijo", w, w) / (np.linalg.norm(w, axis=2)[:, None] * np.linalg.norm(w, axis=2)[None])
    expected = (1 - cos).sum(-1)
    np.fill_diagonal(expected, 0)
    assert np.allclose(pf, expected)
    with pytest.raises(ValueError, match="metric"):
        pairwise_gradient_distance(grads, "l1")


def test_zero_gradients_are_identical_to_each_other_and_orthogonal_to_the_rest():
    zero, one = [torch.zeros(2, 3)], [torch.ones(2, 3)]
    for metric in ("cos", "per-filter-cos"):
        D = pairwise_gradient_distance([zero, zero, one], metric)
        assert D[0, 1] == 0 and np.all(D[:2, 2] == (1 if metric == "cos" else 2))


def test_excluded_operations_get_nan_rows(net):
    enc = np.ones((3, 5))
    enc[1] = (0, 1, 1, 0, 1)
    D = gradient_matching_distance(net, 1, enc, batches(2), rng=0)
    assert np.isnan(D[0]).all() and np.isnan(D[:, 3]).all()
    assert np.isfinite(D[np.ix_([1, 2, 4], [1, 2, 4])]).all()


def test_no_shared_gradient_raises_instead_of_zero_over_zero(net):
    enc = np.zeros((3, 5), dtype=int)
    enc[:, 0] = 1
    enc[1] = 1                                            # other edges can only be skip
    with pytest.raises(RuntimeError, match="no shared parameters received gradient"):
        gradient_matching_distance(net, 1, enc, batches(), shared="other_edges", rng=0)
    assert np.isfinite(gradient_matching_distance(net, 1, enc, batches(), shared="all_but_edge", rng=0)).all()


def test_bad_arguments_are_refused(net):
    enc = np.ones((3, 5))
    with pytest.raises(ValueError, match="metric"):
        gradient_matching_distance(net, 0, enc, batches(1), metric="l2")
    with pytest.raises(ValueError, match="shared"):
        gradient_matching_distance(net, 0, enc, batches(1), shared="stem")
    with pytest.raises(ValueError, match="edge"):
        gradient_matching_distance(net, 3, enc, batches(1))
    with pytest.raises(ValueError, match="enc"):
        gradient_matching_distance(net, 0, np.ones((3, 4)), batches(1))
    with pytest.raises(TypeError, match="model"):
        gradient_matching_distance(torch.nn.Linear(2, 2), 0, enc, batches(1))
