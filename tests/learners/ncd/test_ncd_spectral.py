import numpy as np
import pytest
from scipy.linalg import eigh
from scipy.sparse.csgraph import laplacian
from sklearn.cluster import SpectralClustering
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from diversa.learners.ncd import (
    NCDSpectralClustering,
    clustering_accuracy,
    laplacian_embedding,
    min_dist_affinity,
    min_dist_sigma,
)


def test_longest_spanning_tree_edge_gets_affinity_sqrt_min_dist():
    X = np.arange(6, dtype=float)[:, None]            # a line with unit spacing: every tree edge is 1
    A, sigma = min_dist_affinity(X, min_dist=0.5)
    assert A[0, 1] == pytest.approx(np.sqrt(0.5))
    assert sigma == pytest.approx(np.sqrt(-1 / np.log(0.5)))
    assert np.all(np.diag(A) == 0)
    # the longest edge decides: stretch one gap to 3
    X2 = np.array([[0.0], [1.0], [2.0], [5.0]])
    A2, _ = min_dist_affinity(X2, min_dist=0.3)
    assert A2[2, 3] == pytest.approx(np.sqrt(0.3)) and A2[0, 1] > A2[2, 3]


def test_embedding_drops_the_trivial_eigenvector():
    X, _ = make_blobs(n_samples=40, centers=3, random_state=0)
    A, _ = min_dist_affinity(X, 0.5)
    E = laplacian_embedding(A, 3)
    assert E.shape == (40, 3)
    values, vectors = eigh(laplacian(A, normed=True))
    for j in range(3):                                 # columns 2..4 of the full decomposition, up to sign
        assert abs(E[:, j] @ vectors[:, j + 1]) == pytest.approx(1.0, abs=1e-6)
    trivial = np.sqrt(A.sum(axis=1))                   # the first eigenvector of I - D^-1/2 A D^-1/2
    np.testing.assert_allclose(E.T @ trivial, 0.0, atol=1e-6)


def test_matches_scikit_learns_spectral_clustering_on_our_affinity():
    X, y = make_blobs(n_samples=200, centers=4, cluster_std=1.0, random_state=2)
    ours = NCDSpectralClustering(n_clusters=4, min_dist=0.5, random_state=0).fit(X)
    A, _ = min_dist_affinity(X, 0.5)
    theirs = SpectralClustering(n_clusters=4, affinity="precomputed", random_state=0).fit(A)
    assert adjusted_rand_score(theirs.labels_, ours.labels_) > 0.9
    assert adjusted_rand_score(y, ours.labels_) > 0.9


@pytest.mark.parametrize("assign", ["known_centroids", "joint"])
def test_known_classes_guide_the_novel_clusters(assign):
    X, y = make_blobs(n_samples=300, centers=6, cluster_std=0.6, random_state=4)
    known = y < 3
    model = NCDSpectralClustering(n_clusters=3, assign=assign, random_state=0).fit(X[known], y[known], X[~known])
    assert model.labels_.shape == ((~known).sum(),)
    assert clustering_accuracy(y[~known], model.labels_) > 0.95
    assert model.known_accuracy_ > 0.9 and model.embedding_.shape == (300, 6)


def test_estimates_k_in_the_embedding():
    X, y = make_blobs(n_samples=200, centers=4, cluster_std=0.5, random_state=1)
    model = NCDSpectralClustering(n_components=3, k_range=(2, 6), k_repeats=1, n_init=3, random_state=0).fit(X)
    assert model.n_novel_classes_ == 4 and np.isnan(model.known_accuracy_)


def test_bad_input():
    X, _ = make_blobs(n_samples=30, random_state=0)
    with pytest.raises(ValueError, match="min_dist"):
        NCDSpectralClustering(n_clusters=2, min_dist=1.0).fit(X)
    with pytest.raises(ValueError, match="assign"):
        NCDSpectralClustering(n_clusters=2, assign="nearest").fit(X)
    with pytest.raises(ValueError, match="n_components"):
        NCDSpectralClustering().fit(X)
    with pytest.raises(ValueError, match="identical"):
        min_dist_sigma(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n_components"):
        laplacian_embedding(np.ones((3, 3)), 3)
