import numpy as np
import pytest
from scipy.stats import chisquare

from diversa.data.select import (
    IterativeKMQSelector,
    KMQSelector,
    update_cluster_weights,
)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(6, 5))
    sizes = np.array([200, 120, 60, 40, 20, 10])
    X = np.vstack([c + rng.normal(size=(s, 5)) for c, s in zip(centres, sizes)])
    truth = np.repeat(np.arange(6), sizes)
    quality = rng.normal(size=X.shape[0])
    return X, truth, quality


def test_equal_allocation_covers_every_cluster_and_is_exact(blobs):
    X, truth, quality = blobs
    sel = KMQSelector(6, kmeans_n_init=2, random_state=0).fit(X, quality=quality)
    idx = sel.select(60)
    assert len(idx) == 60 and len(np.unique(idx)) == 60
    assert sorted(np.bincount(truth[idx], minlength=6).tolist()) == [10] * 6
    assert sel.budgets_.sum() == 60 and sel.labels_.shape == (450,)
    assert np.array_equal(idx, sel.select(60))  # deterministic
    # proportional allocation follows the cluster sizes
    prop = KMQSelector(6, allocation="proportional", kmeans_n_init=2, random_state=0).fit(X, quality=quality)
    counts = np.sort(np.bincount(truth[prop.select(45)], minlength=6))
    assert counts.tolist() == [1, 2, 4, 6, 12, 20]


def test_small_clusters_are_exhausted_and_leftovers_redistributed(blobs):
    X, truth, quality = blobs
    idx = KMQSelector(6, kmeans_n_init=2, random_state=1).fit(X, quality=quality).select(150)
    counts = np.bincount(truth[idx], minlength=6)
    assert counts.sum() == 150 and counts[5] == 10 and len(np.unique(idx)) == 150


def test_within_cluster_quality_draw(blobs):
    X, truth, _ = blobs
    labels = truth
    const = np.zeros(len(X))
    # constant quality: uniform within the cluster (chi-square over repeated draws)
    hits = np.zeros(len(X))
    sel = KMQSelector(6, within="quality").fit(X, quality=const, labels=labels)
    for seed in range(300):
        sel.set_params(random_state=seed)
        hits[sel.select(12)] += 1
    members = np.flatnonzero(labels == 0)
    assert chisquare(hits[members]).pvalue > 0.01
    # temperature -> 0 picks the best members of each cluster
    q = np.random.default_rng(3).normal(size=len(X))
    idx = KMQSelector(6, temperature=1e-6, random_state=0).fit(X, quality=q, labels=labels).select(30)
    for j in range(6):
        m = np.flatnonzero(labels == j)
        assert set(idx[labels[idx] == j]) == set(m[np.argsort(-q[m])[:5]])


def test_closest_and_median_variants(blobs):
    X, truth, _ = blobs
    sel = KMQSelector(6, within="closest").fit(X, labels=truth)
    idx = sel.select(6)
    for i in idx:
        m = np.flatnonzero(truth == truth[i])
        d = np.linalg.norm(X[m] - X[m].mean(axis=0), axis=1)
        assert np.isclose(np.linalg.norm(X[i] - X[m].mean(axis=0)), d.min())
    med = KMQSelector(6, within="median").fit(X, labels=truth).select(6)
    assert len(np.unique(truth[med])) == 6 and not set(med) & set(idx)


def test_auto_k_uses_the_silhouette(blobs):
    X, _, quality = blobs
    sel = KMQSelector("auto", kmeans_n_init=1, random_state=0).fit(X, quality=quality)
    assert len(sel.select(100)) == 100 and sel.silhouette_k_ in (8, 16)


def test_update_cluster_weights():
    labels = np.array([0, 0, 1, 1, 2])
    scores = np.array([1.0, 3.0, -1.0, 0.0, 0.5])
    w = update_cluster_weights(scores, labels, np.full(4, 0.25))
    assert np.isclose(w.sum(), 1) and np.argmin(w[:3]) == 1
    assert np.allclose(w, update_cluster_weights(scores + 7.0, labels, np.full(4, 0.25)))
    s = np.array([2.0, -0.5, 0.5, 0.5])  # cluster 3 unscored -> median 0.5
    assert np.allclose(w, np.exp(s) / np.exp(s).sum())
    paper = update_cluster_weights(np.array([1.0, 3.0]), np.array([0, 1]), np.array([0.5, 0.5]), mode="paper")
    assert np.allclose(paper, [0.25, 0.75])
    with pytest.raises(ValueError, match="mode"):
        update_cluster_weights(scores, labels, np.full(3, 1 / 3), mode="x")
    with pytest.raises(ValueError, match="labels"):
        update_cluster_weights(scores, labels, np.full(2, 0.5))


def test_iterative_rounds_are_disjoint_and_move_budget_away_from_bad_clusters(blobs):
    X, truth, quality = blobs
    calls = []

    def train_fn(indices):
        calls.append(len(indices))

    def score_fn(model, indices):  # cluster 0 is "junk": its gold answers score badly
        return np.where(truth[indices] == 0, -5.0, 1.0)

    sel = IterativeKMQSelector(train_fn, score_fn, 6, n_rounds=3, random_state=0).fit(X, quality=quality,
                                                                                      labels=truth)
    idx = sel.select(100)
    assert [len(r) for r in sel.round_indices_] == [33, 33, 34]
    assert len(np.unique(idx)) == 100 and calls == [33, 66, 100]
    assert sel.cluster_weights_history_.shape == (4, 6)
    assert np.allclose(sel.cluster_weights_history_.sum(axis=1), 1)
    assert sel.cluster_weights_history_[1, 0] < 1 / 6 / 10
    later = np.concatenate(sel.round_indices_[1:])
    assert np.mean(truth[later] == 0) < 0.05 < np.mean(truth[sel.round_indices_[0]] == 0)


def test_bad_input_names_the_argument(blobs):
    X, _, quality = blobs
    with pytest.raises(ValueError, match="n_clusters"):
        KMQSelector(1000).fit(X, quality=quality)
    with pytest.raises(ValueError, match="quality"):
        KMQSelector(5).fit(X)
    with pytest.raises(ValueError, match="budget"):
        KMQSelector(5, within="random").fit(X).select(10_000)
    with pytest.raises(ValueError, match="within"):
        KMQSelector(5, within="best").fit(X, quality=quality)
    with pytest.raises(ValueError, match="X"):
        KMQSelector(5, within="random").fit(X[0])
    with pytest.raises(TypeError, match="train_fn"):
        IterativeKMQSelector(None, None).fit(X, quality=quality)
