import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state

from diversa.learners.ncd import estimate_k_silhouette, estimate_n_clusters


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=150, centers=3, cluster_std=0.4, random_state=0)
    return X


@pytest.mark.parametrize("index", ["silhouette", "calinski_harabasz", "davies_bouldin"])
def test_finds_three_well_separated_blobs(blobs, index):
    est = estimate_n_clusters(blobs, (2, 5), index=index, n_repeats=2, n_init=2, random_state=0)
    assert est.n_clusters == 3 and est.index == index
    assert est.scores.shape == (4, 2) and list(est.k_values) == list(range(2, 6))


def test_silhouette_scores_are_scikit_learns(blobs):
    est = estimate_k_silhouette(blobs[:60], (2, 3), n_repeats=2, random_state=5)
    blobs = blobs[:60]
    rng = check_random_state(5)
    for i, k in enumerate(est.k_values):
        for r in range(2):
            labels = KMeans(n_clusters=int(k), n_init=10, random_state=rng.randint(2**31 - 1)).fit_predict(blobs)
            assert est.scores[i, r] == pytest.approx(silhouette_score(blobs, labels))
    assert est.n_clusters == est.k_values[np.argmax(est.scores.mean(axis=1))]


def test_k_max_is_capped_below_the_number_of_rows():
    est = estimate_n_clusters(np.arange(12.0).reshape(6, 2), (2, 30), n_repeats=1, n_init=1, random_state=0)
    assert est.k_values.max() == 5


@pytest.mark.parametrize("k_range", [(1, 5), (0, 3), (5, 3), (2.5, 4), 3])
def test_bad_k_range(blobs, k_range):
    with pytest.raises(ValueError, match="k_range"):
        estimate_n_clusters(blobs, k_range)


def test_bad_input(blobs):
    with pytest.raises(ValueError, match="index"):
        estimate_n_clusters(blobs, index="dunn")
    with pytest.raises(ValueError, match="Z"):
        estimate_n_clusters(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="rows"):
        estimate_n_clusters(blobs[:2], (2, 5))
    with pytest.raises(ValueError, match="n_repeats"):
        estimate_n_clusters(blobs, n_repeats=0)
