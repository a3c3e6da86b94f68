"""Float16 memory maps are labelled batch by batch with the labels of the float32 rows."""

import numpy as np
import pytest

from diversa.data.select import KMQSelector, SampledKMeans, nearest_centroid
from diversa.data.select import clustering

BACKENDS = [pytest.param("faiss", marks=pytest.mark.skipif(not clustering.faiss_available(),
                                                           reason="faiss-cpu is in the test extra")),
            "sklearn"]


@pytest.fixture(scope="module")
def memmap(tmp_path_factory):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5, size=(8, 24))
    X = (centres[rng.integers(0, 8, 3000)] + rng.normal(size=(3000, 24))).astype(np.float16)
    path = tmp_path_factory.mktemp("emb") / "emb.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r"), rng.random(3000)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float16_memmap_gets_the_labels_of_its_float32_rows(memmap, backend):
    X, quality = memmap
    widened = np.asarray(X, dtype=np.float32)
    km = SampledKMeans(8, points_per_centroid=50, backend=backend, batch_size=256, random_state=0).fit(X)
    # fails if the fit or the search read the float16 rows differently from their float32 values
    ref = SampledKMeans(8, points_per_centroid=50, backend=backend, batch_size=256, random_state=0).fit(widened)
    assert np.array_equal(km.cluster_centers_, ref.cluster_centers_) and km.cluster_centers_.dtype == np.float32
    labels, dist = nearest_centroid(X, km.cluster_centers_, backend=backend, batch_size=500)
    ref_labels, ref_dist = nearest_centroid(widened, km.cluster_centers_, backend=backend, batch_size=500)
    assert np.array_equal(labels, ref_labels) and np.array_equal(dist, ref_dist)
    sel = KMQSelector(8, kmeans_algorithm="sample", kmeans_backend=backend, kmeans_n_init=1,
                      random_state=0).fit(widened[:800], quality=quality[:800])
    assert np.array_equal(sel.assign(X), sel.assign(widened))


def test_non_finite_rows_of_a_memmap_name_the_argument(tmp_path):
    X = np.zeros((40, 4), dtype=np.float16)
    X[33, 1] = np.inf
    np.save(tmp_path / "bad.npy", X)
    bad = np.load(tmp_path / "bad.npy", mmap_mode="r")
    sel = KMQSelector(2, within="random", kmeans_backend="sklearn", random_state=0).fit(np.eye(4)[[0, 1, 2, 3, 0, 1]])
    with pytest.raises(ValueError, match="batch contains NaN or infinite"):
        sel.assign(bad)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        nearest_centroid(np.zeros(5, dtype=np.float16), np.eye(2), backend="sklearn")
