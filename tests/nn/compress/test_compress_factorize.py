"""AFM and weight-SVD factorisations: exactness, optimality, fusion, the sklearn PCA anchor, bad input."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from diversa.nn.compress import (
    OutputStats,
    afm_factorize_embedding,
    afm_factorize_linear,
    fuse_embeddings_into_linear,
    low_rank_linear_parameters,
    output_reconstruction_error,
    principal_subspace,
    svd_factorize_embedding,
    svd_factorize_linear,
)

D_IN, D_OUT = 12, 9


def _layer(seed=0, d_in=D_IN, d_out=D_OUT):
    g = torch.Generator().manual_seed(seed)
    # Anisotropic singular values so truncating the weights and truncating the outputs differ.
    U, _ = torch.linalg.qr(torch.randn(d_out, d_out, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(d_in, d_in, generator=g, dtype=torch.float64))
    S = torch.linspace(3.0, 0.5, min(d_in, d_out), dtype=torch.float64)
    W = U[:, :len(S)] @ torch.diag(S) @ V[:, :len(S)].T
    return W, torch.randn(d_out, generator=g, dtype=torch.float64)


def _apply(factors, x):
    return (x @ factors["A.weight"].T + factors["A.bias"]) @ factors["B.weight"].T + factors["B.bias"]


def _stats(y):
    return OutputStats(y.shape[1]).update(y)


def test_full_rank_reproduces_the_layer_on_any_input():
    W, b = _layer()
    x = torch.randn(500, D_IN, dtype=torch.float64)
    s = _stats(x @ W.T + b)
    factors = afm_factorize_linear(W, b, s.mean, s.cov, D_OUT)
    x_new = 5 * torch.randn(50, D_IN, dtype=torch.float64) + 3
    torch.testing.assert_close(_apply(factors, x_new), x_new @ W.T + b, atol=1e-9, rtol=1e-9)


def test_outputs_in_a_k_dim_affine_subspace_make_afm_exact_and_svd_not():
    k = 3
    W, b = _layer()
    g = torch.Generator().manual_seed(1)
    P = torch.randn(D_IN, k, generator=g, dtype=torch.float64)
    x = torch.randn(400, k, generator=g, dtype=torch.float64) @ P.T + torch.randn(D_IN, generator=g, dtype=torch.float64)
    y = x @ W.T + b
    s = _stats(y)
    afm = _apply(afm_factorize_linear(W, b, s.mean, s.cov, k), x)
    svd = _apply(svd_factorize_linear(W, b, k), x)
    torch.testing.assert_close(afm, y, atol=1e-8, rtol=1e-8)
    assert float(((svd - y) ** 2).mean()) > 1e-2


@pytest.mark.parametrize("rank", range(1, D_OUT + 1))
def test_afm_error_is_the_sum_of_dropped_eigenvalues_and_at_most_svds(rank):
    W, b = _layer(2)
    x = torch.randn(300, D_IN, dtype=torch.float64) * torch.linspace(2, 0.1, D_IN, dtype=torch.float64)
    y = x @ W.T + b
    s = _stats(y)
    afm_mse = float(((_apply(afm_factorize_linear(W, b, s.mean, s.cov, rank), x) - y) ** 2).sum(1).mean())
    assert afm_mse == pytest.approx(output_reconstruction_error(s.cov, rank), abs=1e-9)
    if rank <= min(D_IN, D_OUT):
        svd_mse = float(((_apply(svd_factorize_linear(W, b, rank), x) - y) ** 2).sum(1).mean())
        assert afm_mse <= svd_mse + 1e-12


def test_matches_sklearn_pca_projector_and_reconstruction():
    k = 4
    W, b = _layer(3)
    x = torch.randn(1000, D_IN, dtype=torch.float64) * torch.linspace(3, 0.2, D_IN, dtype=torch.float64)
    y = x @ W.T + b
    s = _stats(y)
    U, _ = principal_subspace(s.cov, k)
    pca = PCA(n_components=k, svd_solver="full").fit(y.numpy())
    V = pca.components_.T
    np.testing.assert_allclose((U @ U.T).numpy(), V @ V.T, atol=1e-6)
    factors = afm_factorize_linear(W, b, s.mean, s.cov, k)
    np.testing.assert_allclose(_apply(factors, x).numpy(), pca.inverse_transform(pca.transform(y.numpy())), atol=1e-5)


def test_embedding_factors_project_every_row_including_unseen_ones():
    g = torch.Generator().manual_seed(4)
    table = torch.randn(30, 8, generator=g, dtype=torch.float64)
    seen = torch.tensor([0, 0, 0, 1, 2, 2, 5, 7, 7, 7, 9, 11])  # frequency-weighted lookups
    s = _stats(table[seen])
    factors = afm_factorize_embedding(table, s.mean, s.cov, 3)
    assert factors["table.weight"].shape == (30, 3) and factors["up.weight"].shape == (8, 3)
    U, _ = principal_subspace(s.cov, 3)
    unseen = torch.tensor([3, 20, 29])
    torch.testing.assert_close(factors["table.weight"][unseen], (table[unseen] - s.mean) @ U)
    assert torch.isfinite(factors["table.weight"]).all()
    torch.testing.assert_close(factors["up.bias"], s.mean)


def test_embedding_afm_is_exact_when_lookups_span_rank_k_and_svd_keeps_small_tables():
    g = torch.Generator().manual_seed(5)
    table = torch.randn(3, 8, generator=g, dtype=torch.float64)
    s = _stats(table[torch.tensor([0, 1, 1, 2, 2, 2])])
    afm = afm_factorize_embedding(table, s.mean, s.cov, 2)  # 3 points span a 2-dim affine plane
    torch.testing.assert_close(afm["table.weight"] @ afm["up.weight"].T + afm["up.bias"], table)
    svd = svd_factorize_embedding(table, 4)  # more rank than rows: kept exactly, zero-padded
    assert svd["table.weight"].shape == (3, 4)
    torch.testing.assert_close(svd["table.weight"] @ svd["up.weight"].T + svd["up.bias"], table)


def test_fusion_equals_explicit_reconstruction_then_the_layer():
    g = torch.Generator().manual_seed(6)
    W, b = torch.randn(5, 2 * 4 + 3, generator=g), torch.randn(5, generator=g)
    P0, m0 = torch.randn(4, 2, generator=g), torch.randn(4, generator=g)
    P1, m1 = torch.randn(4, 3, generator=g), torch.randn(4, generator=g)
    c0, c1, dense = torch.randn(7, 2, generator=g), torch.randn(7, 3, generator=g), torch.randn(7, 3, generator=g)
    explicit = torch.cat([c0 @ P0.T + m0, c1 @ P1.T + m1, dense], 1) @ W.T + b
    W_new, b_new = fuse_embeddings_into_linear(W, b, [(0, 4, P0, m0), (4, 8, P1, m1)])
    assert W_new.shape == (5, 2 + 3 + 3)
    torch.testing.assert_close(torch.cat([c0, c1, dense], 1) @ W_new.T + b_new, explicit, atol=1e-5, rtol=1e-5)


def test_svd_factors_have_the_same_shapes_as_afm():
    W, b = _layer()
    s = _stats(torch.randn(50, D_IN, dtype=torch.float64) @ W.T + b)
    afm, svd = afm_factorize_linear(W, b, s.mean, s.cov, 4), svd_factorize_linear(W, b, 4)
    assert {k: v.shape for k, v in afm.items()} == {k: v.shape for k, v in svd.items()}
    assert low_rank_linear_parameters(D_IN, D_OUT, 4) == sum(v.numel() for v in afm.values())


def test_factors_keep_the_weight_dtype():
    W, b = _layer()
    s = _stats(torch.randn(50, D_IN, dtype=torch.float64) @ W.T + b)
    assert all(v.dtype == torch.float32 for v in afm_factorize_linear(W.float(), b.float(), s.mean, s.cov, 2).values())


@pytest.mark.parametrize("rank, match", [(0, "rank must be >= 1"), (-2, "rank must be >= 1"),
                                         (D_OUT + 1, r"rank = 10 exceeds the layer's output width d_out \(9\)")])
def test_bad_rank_for_afm_names_rank_and_width(rank, match):
    W, b = _layer()
    s = _stats(torch.randn(50, D_IN, dtype=torch.float64) @ W.T + b)
    with pytest.raises(ValueError, match=match):
        afm_factorize_linear(W, b, s.mean, s.cov, rank)


def test_bad_rank_for_svd_and_embedding_names_the_width():
    W, b = _layer(d_in=5, d_out=9)
    with pytest.raises(ValueError, match=r"rank = 6 exceeds min\(d_in, d_out\) of the layer \(5\)"):
        svd_factorize_linear(W, b, 6)
    table = torch.randn(10, 4)
    s = _stats(table)
    with pytest.raises(ValueError, match=r"rank = 5 exceeds the embedding dimension \(4\)"):
        afm_factorize_embedding(table, s.mean, s.cov, 5)
    with pytest.raises(TypeError, match="rank must be an integer"):
        svd_factorize_embedding(table, 2.0)


def test_fewer_than_two_calibration_rows_is_refused():
    s = OutputStats(3).update(torch.randn(1, 3))
    with pytest.raises(ValueError, match="calibration must provide at least 2 rows"):
        s.cov


def test_bad_fusion_blocks_are_refused():
    W, b = torch.randn(5, 8), torch.randn(5)
    with pytest.raises(ValueError, match="blocks"):
        fuse_embeddings_into_linear(W, b, [(0, 4, torch.randn(4, 2), torch.randn(4)),
                                           (2, 6, torch.randn(4, 2), torch.randn(4))])
