"""k-means that scales: centroids fitted on a seeded sample, every row assigned in batches.

Corpus-scale selection is two-pass (see the Scale section of the design):
k-means is fitted once on a sample of the pool, then any batch of rows (a
shard, a chunk of a stream) is labelled by its nearest centroid, so only the
labels, and never the embeddings, have to meet in one place. The sample
follows the faiss guideline of at most ``points_per_centroid`` (256) rows per
centroid: more rows barely move the centroids of k-means but multiply its cost.

Two backends do the work. ``"faiss"`` (``pip install diversa[scale]``, the
``faiss-cpu`` wheel) runs faiss's k-means and its exact flat L2 index;
``"sklearn"`` runs scikit-learn's ``KMeans`` and a blocked numpy nearest-centroid
search. ``"auto"`` takes faiss when it is importable and scikit-learn
otherwise. Both are deterministic for an int seed on a given machine, but
they initialise differently, so they give the same partition only on data
whose clusters are clear (well-separated blobs); pin ``backend`` when a
selection must be reproduced on machines with and without faiss.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, check_random_state

from ._base import check_embeddings

BACKENDS = ("auto", "faiss", "sklearn")
#: Rows per block of the nearest-centroid search: bounds the (rows, k) distance block in memory.
ASSIGN_BATCH_ROWS = 16_384


def faiss_available() -> bool:
    """Whether the optional ``faiss`` module (``faiss-cpu``) can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str) -> str:
    """``"faiss"`` or ``"sklearn"`` for a ``backend`` of ``"auto"``, ``"faiss"`` or ``"sklearn"``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "faiss" if faiss_available() else "sklearn"
    if backend == "faiss" and not faiss_available():
        raise ImportError("backend='faiss' needs the faiss module: pip install 'diversa[scale]' (faiss-cpu)")
    return backend


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _seed_int(random_state) -> int:
    # faiss takes an int seed; a RandomState (or None) is turned into one by a draw
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def sample_rows(n_rows: int, n_clusters: int, points_per_centroid: int | None, random_state=0) -> np.ndarray:
    """Sorted row indices of the seeded k-means training sample: all ``n_rows`` when they are at
    most ``n_clusters * points_per_centroid`` (or ``points_per_centroid`` is None), otherwise that
    many drawn uniformly without replacement. Returns int64 (m,)."""
    if points_per_centroid is None or n_rows <= n_clusters * points_per_centroid:
        return np.arange(n_rows, dtype=np.int64)
    rng = check_random_state(random_state)
    return np.sort(rng.choice(n_rows, size=n_clusters * points_per_centroid, replace=False)).astype(np.int64)


def check_rows(X, name: str = "X"):
    """``X`` as a 2-D float array with at least one row and one column, without copying a
    float ndarray (a float16 memory map stays on disk): the conversion to float32/float64 and
    the finiteness check then happen batch by batch (:func:`nearest_centroid`). Any other
    input goes through :func:`~diversa.data.select._base.check_embeddings`."""
    if not (isinstance(X, np.ndarray) and X.dtype.kind == "f"):
        return check_embeddings(X, name)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array with at least one row and one column, got shape {X.shape}")
    return X


def _widen(rows, name):
    # float16 rows are searched and measured in float32; float32/float64 stay as they are
    block = np.asarray(rows, dtype=np.result_type(rows.dtype, np.float32))
    if not np.isfinite(block).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return block


def nearest_centroid(X, centroids, *, backend: str = "auto", batch_size: int = ASSIGN_BATCH_ROWS):
    """Index and Euclidean distance of the nearest of ``centroids`` (k, d) for each row of ``X`` (n, d).

    Exact search, ``batch_size`` rows at a time, so memory stays at one
    (batch_size, k) block and one batch of rows: ``X`` may be a float16
    memory map (``np.load(path, mmap_mode="r")``), widened to float32 a batch
    at a time. Ties go to the lower centroid index. Returns ``labels`` int64
    (n,) and ``distances`` float64 (n,).
    """
    return search_nearest(X, centroids, backend=backend, batch_size=batch_size, name="X")


def search_nearest(X, centroids, *, backend, batch_size, name):
    """:func:`nearest_centroid` whose errors about the rows name the caller's argument ``name``."""
    backend = resolve_backend(backend)
    batch_size = _positive_int(batch_size, "batch_size")
    X = check_rows(X, name)
    centroids = np.asarray(centroids)
    labels = np.empty(X.shape[0], dtype=np.int64)
    dist = np.empty(X.shape[0], dtype=np.float64)
    if backend == "faiss":
        import faiss

        index = faiss.IndexFlatL2(centroids.shape[1])
        index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    else:
        c = centroids.astype(np.float64)
        c_sq = np.einsum("ij,ij->i", c, c)
    for start in range(0, X.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        block = _widen(X[rows], name)
        if backend == "faiss":
            _, idx = index.search(np.ascontiguousarray(block, dtype=np.float32), 1)
            labels[rows] = idx[:, 0]
        else:
            # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; the ||x||^2 term does not change the argmin
            labels[rows] = np.argmin(c_sq[None, :] - 2.0 * (block.astype(np.float64, copy=False) @ c.T), axis=1)
        # distances from the difference, not from the search's expansion: each row's value then
        # does not depend on the batch it came in, so shards and one process rank the rows of a
        # cluster identically (within="closest"/"median")
        dist[rows] = np.linalg.norm(block - centroids[labels[rows]], axis=1)
    return labels, dist


class SampledKMeans(BaseEstimator):
    """k-means fitted on a seeded sample, then used to label any batch of rows.

    Parameters
    ----------
    n_clusters : int
        k.
    points_per_centroid : int or None
        The training sample holds at most ``n_clusters * points_per_centroid``
        rows (faiss's guideline: 256); None trains on every row.
    n_init : int
        k-means restarts (faiss ``nredo``, scikit-learn ``n_init``); the best inertia is kept.
    max_iter : int
        Lloyd iterations per restart (faiss ``niter``).
    init : {"k-means++", "random"}
        Initial centroids: D^2-weighted seeding (scikit-learn's default; faiss's
        ``KMEANS_PLUS_PLUS``), or rows drawn uniformly (faiss's default, cheaper
        at large k but prone to merging clusters).
    backend : {"auto", "faiss", "sklearn"}
    batch_size : int
        Rows per block of the nearest-centroid search in :meth:`predict`.
    random_state : int, RandomState or None
        Seeds the sample and the k-means initialisation.

    After ``fit``: ``cluster_centers_`` (k, d), ``sample_indices_`` (m,) rows of
    the training sample, ``backend_`` (the backend used), ``n_features_in_``.
    """

    def __init__(self, n_clusters=8, *, points_per_centroid=256, n_init=1, max_iter=25, init="k-means++",
                 backend="auto", batch_size=ASSIGN_BATCH_ROWS, random_state=None):
        self.n_clusters = n_clusters
        self.points_per_centroid = points_per_centroid
        self.n_init = n_init
        self.max_iter = max_iter
        self.init = init
        self.backend = backend
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the centroids on a seeded sample of ``X`` (n, d); returns self."""
        k = _positive_int(self.n_clusters, "n_clusters")
        n_init = _positive_int(self.n_init, "n_init")
        max_iter = _positive_int(self.max_iter, "max_iter")
        if self.points_per_centroid is not None:
            _positive_int(self.points_per_centroid, "points_per_centroid")
        _positive_int(self.batch_size, "batch_size")
        if self.init not in ("k-means++", "random"):
            raise ValueError(f"init must be 'k-means++' or 'random', got {self.init!r}")
        backend = resolve_backend(self.backend)
        X = check_rows(X)
        if k > X.shape[0]:
            raise ValueError(f"n_clusters={k} exceeds the number of rows ({X.shape[0]})")
        rng = check_random_state(self.random_state)
        # the sample is drawn by numpy for both backends, so they train on the same rows; only
        # the sample is read and converted, so X may be a memory map larger than memory
        seed = _seed_int(rng)
        rows = sample_rows(X.shape[0], k, self.points_per_centroid, seed)
        sample = X[rows]
        sample = check_embeddings(sample.astype(np.float32) if sample.dtype == np.float16 else sample)
        if backend == "faiss":
            import faiss

            method = "ClusteringInitMethod_" + ("KMEANS_PLUS_PLUS" if self.init == "k-means++" else "RANDOM")
            if not hasattr(faiss, method):
                raise ImportError(f"init={self.init!r} needs faiss-cpu>=1.15: pip install -U 'diversa[scale]'")
            km = faiss.Kmeans(X.shape[1], k, niter=max_iter, nredo=n_init, seed=seed,
                              init_method=getattr(faiss, method),
                              # the sample is already drawn: stop faiss from subsampling again and
                              # from warning about fewer than 39 rows per centroid
                              max_points_per_centroid=max(sample.shape[0] // k + 1, 1),
                              min_points_per_centroid=1)
            km.train(np.ascontiguousarray(sample, dtype=np.float32))
            centers = km.centroids.astype(sample.dtype)
        else:
            from sklearn.cluster import KMeans

            centers = KMeans(n_clusters=k, init=self.init, n_init=n_init, max_iter=max_iter,
                             random_state=seed).fit(
                sample).cluster_centers_
        self.cluster_centers_ = centers
        self.sample_indices_ = rows
        self.backend_ = backend
        self.n_features_in_ = X.shape[1]
        return self

    def _check_batch(self, X, name):
        check_is_fitted(self, "cluster_centers_")
        X = check_rows(X, name)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {X.shape[1]} features but the centroids have {self.n_features_in_}")
        return X

    def predict(self, X, *, return_distance: bool = False):
        """Nearest-centroid labels int64 (n,) of a batch ``X`` (n, d), and with ``return_distance``
        their Euclidean distances (n,)."""
        X = self._check_batch(X, "X")
        labels, dist = search_nearest(X, self.cluster_centers_, backend=self.backend_,
                                      batch_size=self.batch_size, name="X")
        return (labels, dist) if return_distance else labels

    def fit_predict(self, X, y=None):
        """``fit`` on a sample of ``X``, then label every row of ``X``."""
        return self.fit(X).predict(X)
