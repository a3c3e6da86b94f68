"""k-center greedy: the pruned exact traversal against the plain loop, and the clustered mode."""

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from diversa.data.select import KCenterGreedySelector, coverage_radius
from diversa.data.select import clustering
from diversa.data.select.kcenter import k_center_greedy

BACKENDS = [pytest.param("faiss", marks=pytest.mark.skipif(not clustering.faiss_available(),
                                                           reason="faiss-cpu is in the test extra")),
            "sklearn"]


def plain_k_center(X, budget, seed):
    """The O(n * budget * d) loop the selector must reproduce: first row uniform at random."""
    first = int(np.random.RandomState(seed).randint(X.shape[0]))
    chosen = [first]
    dist = np.linalg.norm(X - X[first], axis=1)
    dist[first] = -1.0
    for _ in range(budget - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(X - X[nxt], axis=1))
        dist[chosen] = -1.0
    return np.array(chosen)


def blobs(n=3000, d=16, centres=30, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c = rng.normal(scale=8, size=(centres, d))
    return (c[rng.integers(0, centres, n)] + rng.normal(size=(n, d))).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_mode_equals_the_plain_loop(dtype, seed):
    # fails if the triangle-inequality pruning skips a row the plain loop would update
    rng = np.random.default_rng(seed)
    for X in (rng.normal(size=(700, 6)).astype(dtype), blobs(1500, 8, 12, seed, dtype)):
        got = KCenterGreedySelector(backend="sklearn", random_state=seed).fit_select(X, 120)
        assert np.array_equal(got, plain_k_center(X, 120, seed))


@pytest.mark.skipif(not clustering.faiss_available(), reason="faiss-cpu is in the test extra")
def test_faiss_distances_give_the_same_selection():
    X = blobs(2000, 12, 20, 3, np.float32)
    got = KCenterGreedySelector(backend="faiss", random_state=4).fit_select(X, 150)
    assert np.array_equal(got, plain_k_center(X, 150, 4))


def test_each_pick_is_the_row_farthest_from_the_earlier_ones():
    # the 41st pick realises the coverage radius of the first 40 (fails for a non-farthest pick)
    X = blobs(800, 4, 10, 5)
    idx = KCenterGreedySelector(random_state=0).fit(X).select(41)
    assert coverage_radius(X, idx[:40]) == pytest.approx(pairwise_distances(X[idx[40:41]], X[idx[:40]]).min())


def test_coverage_radius_is_the_brute_force_maximum():
    X = blobs(500, 5, 6, 7)
    sel = np.array([3, 77, 200, 401])
    assert coverage_radius(X, sel, batch_size=64) == pytest.approx(pairwise_distances(X, X[sel]).min(axis=1).max())
    with pytest.raises(ValueError, match="selected"):
        coverage_radius(X, [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_clustered_mode_is_seeded_distinct_and_close_to_exact(backend):
    X = blobs(4000, 16, 40, 11)
    exact = KCenterGreedySelector(backend=backend, random_state=0).fit_select(X, 200)
    sel = KCenterGreedySelector("clustered", backend=backend, random_state=0)
    idx = sel.fit_select(X, 200)
    assert idx.size == 200 and np.unique(idx).size == 200
    assert np.array_equal(idx, KCenterGreedySelector("clustered", backend=backend, random_state=0).fit_select(X, 200))
    assert sel.budgets_.sum() == 200 and sel.labels_.shape == (4000,)
    # the approximation loses the guarantee but stays within 1.5 times the exact radius on blobs
    assert coverage_radius(X, idx) <= 1.5 * coverage_radius(X, exact)


def test_clustered_mode_with_few_picks_takes_cluster_representatives():
    # a budget below n_clusters spreads one representative per chosen cluster
    X = blobs(3000, 8, 6, 2)
    sel = KCenterGreedySelector("clustered", n_clusters=6, backend="sklearn", random_state=0)
    idx = sel.fit_select(X, 6)
    assert np.unique(sel.labels_[idx]).size == 6
    centre_of = sel.cluster_centers_[sel.labels_[idx]]
    dist = np.linalg.norm(X[idx] - centre_of, axis=1)
    for i, j in zip(idx, sel.labels_[idx]):
        members = np.flatnonzero(sel.labels_ == j)
        assert np.linalg.norm(X[i] - sel.cluster_centers_[j]) == pytest.approx(
            np.linalg.norm(X[members] - sel.cluster_centers_[j], axis=1).min())
    assert dist.max() < 3 * np.sqrt(8)  # each a member near its blob's centre


def test_k_center_greedy_function_starts_where_told():
    X = blobs(300, 3, 4, 9)
    assert k_center_greedy(X, 5, 17)[0] == 17


def test_bad_arguments_are_named():
    X = blobs(100, 3, 3, 0)
    with pytest.raises(ValueError, match="mode"):
        KCenterGreedySelector("approx").fit(X)
    with pytest.raises(ValueError, match="n_clusters"):
        KCenterGreedySelector("clustered", n_clusters=0).fit(X)
    with pytest.raises(ValueError, match="n_clusters"):
        KCenterGreedySelector("clustered", n_clusters=101).fit(X)
    with pytest.raises(ValueError, match="backend"):
        KCenterGreedySelector(backend="torch").fit(X)
    with pytest.raises(ValueError, match="budget"):
        KCenterGreedySelector(random_state=0).fit(X).select(101)
