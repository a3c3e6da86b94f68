import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from diversa.learners.ncd import NCDKMeans, clustering_accuracy, ncd_kmeans
from diversa.learners.ncd.ncd_kmeans import seed_novel_centroids


@pytest.fixture(scope="module")
def problem():
    """Six blobs: 0-2 known, 3-5 novel."""
    X, y = make_blobs(n_samples=600, centers=6, cluster_std=0.6, random_state=4)
    known = y < 3
    return X[known], y[known], X[~known], y[~known]


def test_without_known_centroids_reaches_scikit_learns_inertia():
    # Anchor: sklearn KMeans (k-means++, n_init=10). Ours seeds by distance and picks the restart by the sum
    # of distances, so compare the inertia both optimise on scikit-learn's terms: squared distances.
    X, _ = make_blobs(n_samples=300, centers=5, cluster_std=1.5, random_state=0)
    ours = ncd_kmeans(X, 5, n_init=10, random_state=0)
    squared = ((X - ours.centers[ours.labels]) ** 2).sum()
    reference = KMeans(n_clusters=5, init="k-means++", n_init=10, random_state=0).fit(X).inertia_
    assert squared <= reference * 1.02
    # and our own inertia is the sum of (unsquared) distances to the nearest centroid
    distances = np.linalg.norm(X[:, None] - ours.centers[None], axis=2)
    assert ours.inertia == pytest.approx(distances.min(axis=1).sum())
    assert np.array_equal(ours.labels, distances.argmin(axis=1))


def test_known_centroids_stay_fixed_and_novel_ids_are_0_to_k(problem):
    X_k, y_k, X_u, y_u = problem
    model = NCDKMeans(n_clusters=3, random_state=0).fit(X_k, y_k, X_u)
    for c in range(3):
        np.testing.assert_allclose(model.known_centroids_[c], X_k[y_k == c].mean(axis=0))
    assert model.cluster_centers_.shape == (3, 2) and set(model.labels_) == {0, 1, 2}
    assert clustering_accuracy(y_u, model.labels_) > 0.95
    np.testing.assert_array_equal(model.predict(X_u), model.labels_)
    assert model.transform(X_u).shape == (len(X_u), 3)
    assert set(model.cluster_novel(X_u[:50], n_clusters=2)) <= {0, 1}


def test_rows_on_a_known_centroid_are_never_seeds():
    # probability proportional to the distance to the nearest known centroid: zero for rows sitting on one
    known = np.array([[0.0, 0.0]])
    X = np.vstack([np.zeros((50, 2)), [[5.0, 5.0], [6.0, 5.0], [5.0, 6.0]]])
    rng = np.random.RandomState(0)
    for _ in range(30):
        seeds = seed_novel_centroids(X, 2, known, rng)
        assert not np.any(np.all(seeds == 0, axis=1))


def test_seeding_uses_the_distance_not_its_square():
    # rows at distances 1 and 3 from the known centroid: drawn 1/4 and 3/4 of the time (squared: 1/10, 9/10)
    known = np.zeros((1, 1))
    X = np.array([[1.0], [3.0]])
    rng = np.random.RandomState(0)
    far = np.mean([seed_novel_centroids(X, 1, known, rng)[0, 0] == 3.0 for _ in range(600)])
    assert far == pytest.approx(0.75, abs=0.05)


def test_semi_supervised_y_matches_the_three_argument_form(problem):
    X_k, y_k, X_u, _ = problem
    X, y = np.vstack([X_k, X_u]), np.concatenate([y_k, np.full(len(X_u), -1)])
    a = NCDKMeans(n_clusters=3, random_state=1).fit(X_k, y_k, X_u)
    b = NCDKMeans(n_clusters=3, random_state=1).fit(X, y)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    c = NCDKMeans(n_clusters=3, unknown_label="novel", random_state=1).fit(
        X, np.where(y == -1, "novel", y.astype(str)))
    np.testing.assert_array_equal(a.labels_, c.labels_)


def test_estimates_the_number_of_novel_classes(problem):
    X_k, y_k, X_u, _ = problem
    model = NCDKMeans(k_range=(2, 6), k_repeats=1, n_init=3, random_state=0).fit(X_k, y_k, X_u)
    assert model.n_novel_classes_ == 3 and model.k_estimate_.n_clusters == 3


def test_no_unlabelled_rows_warns_and_clusters_every_row(problem):
    X_k, y_k, _, _ = problem
    with pytest.warns(UserWarning, match="unlabelled"):
        model = NCDKMeans(n_clusters=2, random_state=0).fit(X_k, y_k)
    assert model.labels_.shape == (len(X_k),)


def test_bad_input(problem):
    X_k, y_k, X_u, _ = problem
    with pytest.raises(ValueError, match="unknown_label"):
        NCDKMeans(n_clusters=3).fit(X_k, np.where(y_k == 0, -1, y_k), X_u)
    with pytest.raises(ValueError, match="X_unlabelled"):
        NCDKMeans(n_clusters=3).fit(X_k, y_k, np.full_like(X_u, np.nan))
    with pytest.raises(ValueError, match="X_unlabelled has 3 features"):
        NCDKMeans(n_clusters=3).fit(X_k, y_k, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="X_unlabelled"):
        NCDKMeans(n_clusters=3).fit(X_k, y_k, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="y is required"):
        NCDKMeans(n_clusters=3).fit(X_k, None, X_u)
    with pytest.raises(ValueError, match="k_range"):
        NCDKMeans(k_range=(1, 4)).fit(X_k, y_k, X_u)
    with pytest.raises(ValueError, match="n_clusters"):
        NCDKMeans(n_clusters=0).fit(X_k, y_k, X_u)
    with pytest.raises(ValueError, match="1 sample"):
        NCDKMeans(n_clusters=3).fit(X_k, y_k, X_u[:1])
    with pytest.raises(ValueError, match="NaN"):
        NCDKMeans(n_clusters=3).fit(np.vstack([X_k, [[np.nan, 0]]]), np.append(y_k, 0), X_u)
