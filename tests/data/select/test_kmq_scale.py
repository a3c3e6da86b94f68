"""Corpus-scale kMQ: sampled k-means (faiss and scikit-learn) and the two-pass fit / assign / select."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from diversa.data.select import KMQSelector, SampledKMeans, cluster_embeddings, kmq_select, nearest_centroid
from diversa.data.select import clustering

BACKENDS = [pytest.param("faiss", marks=pytest.mark.skipif(not clustering.faiss_available(),
                                                           reason="faiss-cpu is in the test extra")),
            "sklearn"]


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=12, size=(6, 8))
    sizes = np.array([700, 500, 400, 300, 200, 100])
    X = np.vstack([c + rng.normal(size=(s, 8)) for c, s in zip(centres, sizes)]).astype(np.float32)
    perm = rng.permutation(X.shape[0])  # interleave the blobs so every shard holds all of them
    truth = np.repeat(np.arange(6), sizes)[perm]
    return X[perm], truth, rng.normal(size=X.shape[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_kmeans_recovers_separated_blobs(blobs, backend):
    X, truth, _ = blobs
    km = SampledKMeans(6, points_per_centroid=40, n_init=3, backend=backend, random_state=0).fit(X)
    assert km.backend_ == backend and km.sample_indices_.size == 240 and km.cluster_centers_.shape == (6, 8)
    labels = km.predict(X)
    assert adjusted_rand_score(truth, labels) == 1.0
    # batches of any size give the labels of one pass
    small = SampledKMeans(6, points_per_centroid=40, n_init=3, backend=backend, batch_size=7,
                          random_state=0).fit(X)
    assert np.array_equal(small.predict(X), labels)


@pytest.mark.skipif(not clustering.faiss_available(), reason="faiss-cpu is in the test extra")
def test_faiss_and_sklearn_give_the_same_partition(blobs):
    X, _, _ = blobs
    fa = SampledKMeans(6, points_per_centroid=40, n_init=3, backend="faiss", random_state=1).fit(X)
    sk = SampledKMeans(6, points_per_centroid=40, n_init=3, backend="sklearn", random_state=1).fit(X)
    assert np.array_equal(fa.sample_indices_, sk.sample_indices_)  # one seeded sample for both
    assert adjusted_rand_score(fa.predict(X), sk.predict(X)) == 1.0
    # the exact nearest-centroid search agrees between the backends
    centres = sk.cluster_centers_
    lab_f, d_f = nearest_centroid(X, centres, backend="faiss", batch_size=100)
    lab_s, d_s = nearest_centroid(X, centres, backend="sklearn", batch_size=333)
    assert np.array_equal(lab_f, lab_s)
    assert np.allclose(d_f, np.linalg.norm(X - centres[lab_f], axis=1), rtol=1e-3, atol=1e-3)
    assert np.allclose(d_s, np.linalg.norm(X - centres[lab_s], axis=1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_gives_the_same_selection(blobs, backend):
    X, _, quality = blobs

    def select(seed):
        return KMQSelector(12, kmeans_algorithm="sample", kmeans_backend=backend, kmeans_n_init=1,
                           kmeans_max_iter=10, random_state=seed).fit(X, quality=quality).select(200)

    first = select(7)
    assert np.array_equal(first, select(7)) and len(np.unique(first)) == 200
    assert not np.array_equal(first, select(8))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("within", ["quality", "random", "median"])
def test_two_pass_on_shards_equals_one_process(blobs, backend, within):
    X, _, quality = blobs
    params = dict(within=within, kmeans_algorithm="sample", kmeans_backend=backend, kmeans_n_init=2,
                  random_state=3)
    one = KMQSelector(12, **params).fit(X, quality=quality)
    expected = one.select(150)
    # pass 1: fit on the sample (here the pool itself), label shard by shard; only
    # (cluster, quality[, distance]) per row travels to the global step
    two = KMQSelector(12, **params).fit(X, quality=quality)
    shards = np.array_split(np.arange(X.shape[0]), 5)
    parts = [two.assign(X[rows], return_distance=True) for rows in shards]
    labels = np.concatenate([p[0] for p in parts])
    distances = np.concatenate([p[1] for p in parts])
    assert np.array_equal(labels, one.labels_)
    got = two.select_assigned(labels, 150, quality=quality, distances=distances)
    assert np.array_equal(got, expected)
    # the function form with the same rule and seed
    assert np.array_equal(kmq_select(labels, 150, quality=quality, distances=distances, n_clusters=12,
                                     within=within, random_state=3), expected)


def test_two_pass_matches_the_one_shot_default_path(blobs):
    # scikit-learn's full KMeans (the default up to 200k rows) labels each row by its nearest centre,
    # so assign() reproduces it and the two-pass selection equals the one-shot one
    X, _, quality = blobs
    sel = KMQSelector(6, kmeans_n_init=2, kmeans_backend="sklearn", random_state=0).fit(X, quality=quality)
    expected = sel.select(90)
    labels = np.concatenate([sel.assign(part) for part in np.array_split(X, 4)])
    assert np.array_equal(sel.select_assigned(labels, 90, quality=quality), expected)


def test_fit_on_a_sample_then_assign_the_corpus(blobs):
    X, truth, quality = blobs
    sample = np.random.default_rng(1).choice(X.shape[0], 300, replace=False)
    sel = KMQSelector(6, kmeans_n_init=3, kmeans_backend="sklearn", random_state=0).fit(X[sample],
                                                                                      quality=quality[sample])
    whole = sel.assign(X)
    assert adjusted_rand_score(truth, whole) == 1.0
    by_shard = np.concatenate([sel.assign(part) for part in np.array_split(X, 3)])
    assert np.array_equal(whole, by_shard)
    # a worker needs only the centroids, not the selector and its fitted rows
    centres = sel.cluster_centers_.copy()
    worker = np.concatenate([nearest_centroid(part, centres, backend="sklearn")[0] for part in np.array_split(X, 3)])
    assert np.array_equal(worker, whole)
    idx = sel.select_assigned(by_shard, 120, quality=quality)
    assert len(np.unique(idx)) == 120 and np.bincount(truth[idx], minlength=6).tolist() == [20] * 6


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_fit_labels_the_pool_only_when_a_selection_needs_it(blobs, backend, monkeypatch):
    # fit() learns the centroids; labelling every fitted row is a second pass that the two-pass
    # path (fit on a sample, assign the corpus) never uses, so it waits for select()
    from diversa.data.select import kmq

    X, _, quality = blobs
    calls = []
    label_rows = kmq.nearest_centroid
    monkeypatch.setattr(kmq, "nearest_centroid", lambda *a, **kw: calls.append(1) or label_rows(*a, **kw))
    sel = KMQSelector(6, kmeans_algorithm="sample", kmeans_n_init=2, kmeans_backend=backend,
                      random_state=0).fit(X, quality=quality)
    assert calls == []
    chosen = sel.select(90)
    assert calls == [1]
    labels, _ = cluster_embeddings(X, 6, n_init=2, algorithm="sample", backend=backend, random_state=0)
    assert np.array_equal(sel.labels_, labels)
    assert np.array_equal(chosen, sel.select_assigned(sel.assign(X), 90, quality=quality))
    sel.select(60)
    assert calls == [1, 1]  # cluster_embeddings above; the selector's labels are cached


def test_cluster_embeddings_sample_algorithm(blobs):
    X, truth, _ = blobs
    labels, centres = cluster_embeddings(X, 6, n_init=3, algorithm="sample", backend="sklearn", random_state=0)
    assert adjusted_rand_score(truth, labels) == 1.0 and centres.shape == (6, 8)


def test_without_faiss_auto_falls_back_to_sklearn(blobs, monkeypatch):
    X, _, quality = blobs
    monkeypatch.setattr(clustering, "faiss_available", lambda: False)
    assert clustering.resolve_backend("auto") == "sklearn"
    km = SampledKMeans(6, points_per_centroid=40, n_init=2, random_state=0).fit(X)
    assert km.backend_ == "sklearn"
    with pytest.raises(ImportError, match="scale"):
        SampledKMeans(6, backend="faiss").fit(X)
    with pytest.raises(ImportError, match="faiss"):
        KMQSelector(6, kmeans_backend="faiss").fit(X, quality=quality)


def test_bad_input_names_the_argument(blobs):
    X, _, quality = blobs
    sel = KMQSelector(6, kmeans_n_init=1, kmeans_backend="sklearn", random_state=0).fit(X, quality=quality)
    labels = sel.assign(X)
    with pytest.raises(ValueError, match="batch"):
        sel.assign(X[:, :5])
    with pytest.raises(ValueError, match="batch"):
        sel.assign(np.full((3, 8), np.nan))
    bad_q = quality.copy()
    bad_q[4] = np.nan
    with pytest.raises(ValueError, match="quality"):
        sel.select_assigned(labels, 10, quality=bad_q)
    with pytest.raises(ValueError, match="quality"):
        kmq_select(labels, 10, quality=quality[:-1])
    with pytest.raises(ValueError, match="budget"):
        kmq_select(labels, X.shape[0] + 1, quality=quality)
    with pytest.raises(ValueError, match="labels"):
        kmq_select(labels, 10, quality=quality, n_clusters=3)
    with pytest.raises(TypeError, match="labels"):
        kmq_select(labels.astype(float), 10, quality=quality)
    with pytest.raises(ValueError, match="distances"):
        kmq_select(labels, 10, within="closest")
    with pytest.raises(ValueError, match="allocation"):
        kmq_select(labels, 10, quality=quality, allocation="even")
    with pytest.raises(ValueError, match="n_clusters"):
        KMQSelector(None, kmeans_backend="sklearn").fit(X, quality=quality).assign(X)
    with pytest.raises(ValueError, match="kmeans_backend"):
        KMQSelector(6, kmeans_backend="gpu").fit(X, quality=quality)
    with pytest.raises(ValueError, match="kmeans_algorithm"):
        KMQSelector(6, kmeans_algorithm="fast").fit(X, quality=quality)
    with pytest.raises(ValueError, match="backend"):
        nearest_centroid(X, X[:3], backend="gpu")
    with pytest.raises(ValueError, match="n_clusters"):
        SampledKMeans(10_000, backend="sklearn").fit(X)
    with pytest.raises(ValueError, match="points_per_centroid"):
        SampledKMeans(6, points_per_centroid=0, backend="sklearn").fit(X)
    with pytest.raises(ValueError, match="X"):
        SampledKMeans(6, backend="sklearn").fit(X[:10]).predict(X[:, :3])
