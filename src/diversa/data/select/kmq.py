"""k-means quality selection (kMQ) and its iterative refinement.

Yu, Chen, Ahmadian, Fadaee, "Diversify and Conquer: Diversity-Centric Data
Selection with Iterative Refinement", arXiv:2409.11378 (official code:
for-ai/iterative-data-selection).

Ranking a pool by a per-example quality score concentrates a budget on a few
modes of the data. kMQ clusters the embeddings with k-means and takes a share
of the budget from every cluster (diversity first), drawing within a cluster
with probability ``softmax(quality / temperature)``. The iterative variant
spends the budget over rounds: after each round a model is trained on the
selection so far, a scorer measures on the selected items how far the model's
output is from the gold answer, and the clusters are re-weighted for the next
draw, so clusters made of data the model cannot learn from lose budget.

Resolutions of the spec (paper vs. released code):

* per-cluster budget: ``allocation="equal"`` (the released selector) by
  default, ``"proportional"`` (paper section 2.1) available; both always hit
  the exact budget (see :func:`~diversa.data.select.allocate_budget`);
* within-cluster draw WITHOUT replacement (the code), implemented as
  Gumbel-top-k on ``quality / temperature``, which equals successive
  weighted draws and stays defined as the temperature goes to 0;
* number of clusters: ``n_clusters=None`` gives ``max(2, round(b / 10))``;
  ``"auto"`` takes the best silhouette over {8, 16, 32, 64} with ``k <= b / 5``;
* iterative weights: ``weight_update="softmax"`` (the code) by default,
  ``"paper"`` = Eq. 6 with scores clipped at 1e-6; clusters with no scored
  item get the median cluster score; each round retrains from scratch on the
  cumulative selection (``train_fn`` receives all indices so far); round 1
  draws with kMQ (the paper), ``init="kmeans_random"`` follows the code.

At corpus scale kMQ runs in two passes: k-means is fitted on a seeded sample
(faiss when installed, scikit-learn otherwise; :mod:`.clustering`), every shard
is labelled by :meth:`KMQSelector.assign`, and :func:`kmq_select` applies the
per-cluster quota and the within-cluster draw to the gathered per-row
(cluster, quality) pairs alone, with the same result as one process.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.utils.validation import check_is_fitted, check_random_state

from ._base import BaseSelector, allocate_budget, check_vector, gumbel_top_k, resolve_budget
from .clustering import (ASSIGN_BATCH_ROWS, BACKENDS, SampledKMeans, check_rows, nearest_centroid, resolve_backend,
                         search_nearest)
from .kcenter import KCenterGreedySelector  # noqa: F401  (still importable from kmq)

_AUTO_GRID = (8, 16, 32, 64)


#: Above this many rows ``kmeans_algorithm="auto"`` fits on a sample and assigns in batches.
FULL_KMEANS_MAX_ROWS = 200_000


def cluster_embeddings(X, n_clusters, *, n_init=5, max_iter=300, algorithm="auto", backend="auto",
                       random_state=0):
    """k-means labels int64 (n,) and centres (k, d) of the rows of ``X`` (n, d).

    ``algorithm``: ``"full"`` runs scikit-learn's ``KMeans`` on every row;
    ``"minibatch"`` its ``MiniBatchKMeans``; ``"sample"`` fits on a seeded sample
    of at most 256 rows per centroid with ``backend`` (``"auto"``: faiss when
    installed, else scikit-learn; see :mod:`diversa.data.select.clustering`)
    and assigns every row to its nearest centre in batches. ``"auto"`` is
    ``"full"`` up to 200,000 rows and ``"sample"`` above (it used
    ``"minibatch"`` there before the sampled fit existed).
    """
    centers, labels = _fit_kmeans(X, n_clusters, n_init=n_init, max_iter=max_iter, algorithm=algorithm,
                                  backend=backend, random_state=random_state)
    return (nearest_centroid(X, centers, backend=backend)[0] if labels is None else labels), centers


def _fit_kmeans(X, n_clusters, *, n_init, max_iter, algorithm, backend, random_state):
    # centres (k, d) and the labels (n,) where the fit computes them anyway; None for the sampled
    # fit, whose labelling of every row is a second pass that two-pass users (fit, then assign
    # batches) never need: on a 1.28M-row sample with k = 5,000 it costs ~40 s
    if algorithm not in ("auto", "full", "minibatch", "sample"):
        raise ValueError(f"algorithm must be 'auto', 'full', 'minibatch' or 'sample', got {algorithm!r}")
    if algorithm == "auto":
        algorithm = "sample" if X.shape[0] > FULL_KMEANS_MAX_ROWS else "full"
    if algorithm == "sample":
        km = SampledKMeans(n_clusters, n_init=n_init, max_iter=max_iter, backend=backend,
                           random_state=random_state).fit(X)
        return km.cluster_centers_, None
    if algorithm == "minibatch":
        km = MiniBatchKMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, batch_size=4096,
                             random_state=random_state).fit(X)
    else:
        km = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=random_state).fit(X)
    return km.cluster_centers_, km.labels_.astype(np.int64)


def _kmq_draw(labels, b, *, n_clusters, quality, distances, allocation, within, temperature, rng):
    # the per-cluster quota and the within-cluster draw: the whole selection rule of kMQ, a
    # function of per-row (cluster, quality[, distance]) alone, so one process and a gather
    # of per-shard labels give the same subset
    sizes = np.bincount(labels, minlength=n_clusters)
    budgets = allocate_budget(sizes, b, allocation)
    out = []
    # members of every cluster from one stable sort: O(n log n) instead of O(n k)
    grouped = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for j in range(n_clusters):
        take = int(budgets[j])
        if take == 0:
            continue
        members = grouped[starts[j]:starts[j + 1]]
        if within == "quality":
            pick = gumbel_top_k(quality[members] / temperature, int(take), rng)
        elif within == "random":
            pick = rng.permutation(members.size)[:take]
        else:
            dist = distances[members]
            if within == "median":
                dist = np.abs(dist - np.median(dist))
            pick = np.argsort(dist, kind="stable")[:take]
        out.append(members[pick])
    return np.concatenate(out).astype(np.int64), budgets


def _check_draw_rule(allocation, within, temperature):
    if allocation not in ("equal", "proportional"):
        raise ValueError(f"allocation must be 'equal' or 'proportional', got {allocation!r}")
    if within not in ("quality", "random", "closest", "median"):
        raise ValueError(f"within must be one of quality, random, closest, median, got {within!r}")
    if isinstance(temperature, bool) or not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")


def kmq_select(labels, budget, *, quality=None, n_clusters=None, distances=None, allocation="equal",
               within="quality", temperature=1.0, random_state=None) -> np.ndarray:
    """The global step of two-pass kMQ: select ``budget`` rows from their clusters and qualities alone.

    ``labels`` int (n,) cluster of each row (e.g. the concatenated
    :meth:`KMQSelector.assign` of every shard, in row order), ``quality`` (n,)
    higher-is-better scores (needed by ``within="quality"``), ``distances`` (n,)
    distance of each row to its centroid (needed by ``"closest"`` and
    ``"median"``), ``n_clusters`` k (default ``labels.max() + 1``; pass the
    number of centroids so empty clusters count as in one process). The rule is
    the one of :class:`KMQSelector` (arXiv:2409.11378 section 2.1 with the
    spec's exact-budget allocation), and so is the draw for a given
    ``random_state``. Returns int64 row indices into the concatenation, by
    cluster then draw order.
    """
    _check_draw_rule(allocation, within, temperature)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array of cluster ids, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integer cluster ids, got dtype {labels.dtype}")
    n = labels.size
    if n_clusters is None:
        n_clusters = int(labels.max()) + 1
    elif isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ValueError(f"n_clusters must be a positive int, got {n_clusters!r}")
    if labels.min() < 0 or labels.max() >= n_clusters:
        raise ValueError(f"labels must lie in 0..{n_clusters - 1} (n_clusters={n_clusters})")
    quality = check_vector(quality, n, "quality")
    distances = check_vector(distances, n, "distances")
    if within == "quality" and quality is None:
        raise ValueError("within='quality' needs quality scores: pass quality=")
    if within in ("closest", "median") and distances is None:
        raise ValueError(f"within={within!r} needs each row's distance to its centroid: pass distances=")
    b = resolve_budget(budget, n)
    idx, _ = _kmq_draw(labels.astype(np.int64), b, n_clusters=int(n_clusters), quality=quality,
                       distances=distances, allocation=allocation, within=within, temperature=temperature,
                       rng=check_random_state(random_state))
    return idx


class KMQSelector(BaseSelector):
    """k-means quality selection: a per-cluster budget, quality-weighted draws within clusters.

    Parameters
    ----------
    n_clusters : int, "auto" or None
        k; None means ``max(2, round(budget / 10))``, "auto" the silhouette rule.
    allocation : {"equal", "proportional"}
    within : {"quality", "random", "closest", "median"}
        quality: p proportional to ``exp(quality / temperature)`` (kMQ);
        random: uniform (kM-Random); closest: nearest to the centroid
        (kM-Closest); median: distance to the centroid nearest the cluster's
        median distance (kM-Median).
    temperature : float
    kmeans_n_init, kmeans_max_iter : k-means settings.
    kmeans_algorithm : {"auto", "full", "minibatch", "sample"}
        see :func:`cluster_embeddings`; ``"auto"`` runs scikit-learn's
        ``KMeans`` on every row up to 200,000 rows and the sampled fit (at most
        256 rows per centroid) with batched assignment above.
    kmeans_backend : {"auto", "faiss", "sklearn"}
        library of the sampled fit and of :meth:`assign` (``"auto"``: faiss
        when installed, ``pip install 'diversa[scale]'``).
    random_state : int, RandomState or None (seeds k-means and the draws).

    With an int ``n_clusters``, ``fit`` learns ``cluster_centers_`` (k, d).
    After ``select``: ``labels_`` (n,), ``cluster_centers_`` (k, d),
    ``budgets_`` (k,), ``selected_indices_``.

    Two-pass use at corpus scale (arXiv:2409.11378 kMQ with the same rule):
    ``sel = KMQSelector(k, kmeans_algorithm="sample", random_state=0).fit(sample)``,
    then ``labels = [sel.assign(shard) for shard in shards]`` in any
    process, then ``sel.select_assigned(np.concatenate(labels), budget,
    quality=np.concatenate(qualities))``: only the per-row (cluster, quality)
    pairs meet, and the subset equals the one-process ``fit(X).select(budget)``
    when ``sample`` is ``X``.
    """

    def __init__(self, n_clusters=None, *, allocation="equal", within="quality", temperature=1.0,
                 kmeans_n_init=5, kmeans_max_iter=300, kmeans_algorithm="auto", kmeans_backend="auto",
                 random_state=None):
        self.n_clusters = n_clusters
        self.allocation = allocation
        self.within = within
        self.temperature = temperature
        self.kmeans_n_init = kmeans_n_init
        self.kmeans_max_iter = kmeans_max_iter
        self.kmeans_algorithm = kmeans_algorithm
        self.kmeans_backend = kmeans_backend
        self.random_state = random_state

    def fit(self, X, y=None, *, quality=None, domains=None, labels=None):
        """Store the pool ``X`` (n, d); ``labels`` (n,) reuses a precomputed clustering
        (e.g. from faiss) instead of running k-means."""
        _check_draw_rule(self.allocation, self.within, self.temperature)
        if self.kmeans_algorithm not in ("auto", "full", "minibatch", "sample"):
            raise ValueError("kmeans_algorithm must be 'auto', 'full', 'minibatch' or 'sample', "
                             f"got {self.kmeans_algorithm!r}")
        if self.kmeans_backend not in BACKENDS:
            raise ValueError(f"kmeans_backend must be one of {', '.join(BACKENDS)}, got {self.kmeans_backend!r}")
        resolve_backend(self.kmeans_backend)  # ImportError now, not at select, when faiss is missing
        k = self.n_clusters
        if not (k is None or k == "auto" or (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1)):
            raise ValueError(f"n_clusters must be a positive int, 'auto' or None, got {k!r}")
        X, quality, domains = self._validate(X, quality, domains)
        if isinstance(k, (int, np.integer)) and k > X.shape[0]:
            raise ValueError(f"n_clusters={k} exceeds the number of rows ({X.shape[0]})")
        if self.within == "quality" and quality is None:
            raise ValueError("within='quality' needs quality scores: pass quality=")
        self._X = X
        self._cache = {}
        if labels is not None:
            lab = check_vector(labels, X.shape[0], "labels", dtype=object)
            _, lab = np.unique(lab, return_inverse=True)
            centers = np.stack([X[lab == j].mean(axis=0) for j in range(lab.max() + 1)])
            self._fixed = (lab.astype(np.int64), centers)
        else:
            self._fixed = None
        for attr in ("cluster_centers_", "labels_", "budgets_", "selected_indices_"):
            self.__dict__.pop(attr, None)
        if self._fixed is not None:
            self.cluster_centers_ = self._fixed[1]
        elif isinstance(k, (int, np.integer)):
            # the centroids do not depend on the budget: learn them now, so assign() works
            self.cluster_centers_ = self._kmeans(int(k), labels=False)[1]
        return self

    def _seed(self):
        rs = self.random_state
        return rs if isinstance(rs, (int, np.integer)) or rs is None else int(self._rng().randint(2**31 - 1))

    def _clusters(self, b):
        if self._fixed is not None:
            return self._fixed
        n = self._X.shape[0]
        if self.n_clusters == "auto":
            grid = [k for k in _AUTO_GRID if k <= max(b / 5, _AUTO_GRID[0]) and k < n] or [min(2, n)]
            best = None
            for k in grid:
                lab, _cen = self._kmeans(k)
                if len(np.unique(lab)) < 2:
                    continue
                score = silhouette_score(self._X, lab, sample_size=min(2000, n), random_state=0)
                if best is None or score > best[0]:
                    best = (score, k)
            self.silhouette_k_ = best[1] if best else grid[0]
            return self._kmeans(self.silhouette_k_)
        k = self.n_clusters if self.n_clusters is not None else max(2, round(b / 10))
        return self._kmeans(min(k, n))

    def _kmeans(self, k, *, labels: bool = True):
        # (labels, centres) of k clusters of the pool; fit() asks for the centres alone, and the
        # pool's labels are computed once, when a selection first needs them
        if k not in self._cache:
            centers, pool_labels = _fit_kmeans(self._X, k, n_init=self.kmeans_n_init, max_iter=self.kmeans_max_iter,
                                               algorithm=self.kmeans_algorithm, backend=self.kmeans_backend,
                                               random_state=self._seed())
            self._cache[k] = (pool_labels, centers)
        if labels and self._cache[k][0] is None:
            centers = self._cache[k][1]
            self._cache[k] = (nearest_centroid(self._X, centers, backend=self.kmeans_backend)[0], centers)
        return self._cache[k]

    def _select(self, b):
        check_is_fitted(self, "n_samples_")
        rng = self._rng()
        labels, centers = self._clusters(b)
        distances = None
        if self.within in ("closest", "median"):
            # float64 as in kmq_select, so the median rule ranks float32 pools identically in one
            # process and from gathered shards
            distances = np.linalg.norm(self._X - centers[labels], axis=1).astype(np.float64)
        selected, budgets = _kmq_draw(labels, b, n_clusters=centers.shape[0], quality=self.quality_,
                                      distances=distances, allocation=self.allocation, within=self.within,
                                      temperature=self.temperature, rng=rng)
        self.labels_, self.cluster_centers_, self.budgets_ = labels, centers, budgets
        self.selected_indices_ = selected
        return self.selected_indices_

    def assign(self, batch, *, return_distance: bool = False):
        """Cluster of each row of a ``batch`` (m, d) of the corpus: int64 (m,), and with
        ``return_distance`` the Euclidean distance to its centroid (m,).

        The first pass of two-pass kMQ: ``fit`` learns the centroids on a
        sample, ``assign`` labels every shard or chunk (in any process), and
        :meth:`select_assigned` (or :func:`kmq_select`) selects from the
        gathered labels and qualities, never the embeddings. Needs an int
        ``n_clusters`` (or ``labels=`` at fit), since the default k depends on
        the budget. The selector keeps the rows it was fitted on; to label shards
        in other processes, send them ``cluster_centers_`` alone and call
        :func:`~diversa.data.select.nearest_centroid` there (the same labels).
        """
        check_is_fitted(self, "n_samples_")
        if not hasattr(self, "cluster_centers_"):
            raise ValueError("assign needs centroids, learnt at fit only when n_clusters is an int "
                             f"(or labels= is given); got n_clusters={self.n_clusters!r}")
        batch = check_rows(batch, "batch")
        if batch.shape[1] != self.n_features_in_:
            raise ValueError(f"batch has {batch.shape[1]} features but KMQSelector was fitted on "
                             f"{self.n_features_in_}")
        labels, dist = search_nearest(batch, self.cluster_centers_, backend=self.kmeans_backend,
                                      batch_size=ASSIGN_BATCH_ROWS, name="batch")
        return (labels, dist) if return_distance else labels

    def select_assigned(self, labels, budget, *, quality=None, distances=None) -> np.ndarray:
        """The global step of two-pass kMQ with this selector's rule and seed: ``budget`` row
        indices into the concatenated ``labels`` (n,) from :meth:`assign`, given each row's
        ``quality`` (n,) (or ``distances`` (n,) for ``within="closest"``/``"median"``).
        Equals ``fit(X).select(budget)`` when ``labels`` are those of ``X``."""
        check_is_fitted(self, "cluster_centers_")
        rng = self._rng()
        return kmq_select(labels, budget, quality=quality, n_clusters=self.cluster_centers_.shape[0],
                          distances=distances, allocation=self.allocation, within=self.within,
                          temperature=self.temperature, random_state=rng)


def update_cluster_weights(scores, labels, prev_weights, *, mode="softmax") -> np.ndarray:
    """New cluster weights from per-item scores S (arXiv:2409.11378 Eq. 5-6).

    ``scores`` (m,) S_i of the scored items, ``labels`` (m,) their clusters,
    ``prev_weights`` (k,). Cluster score s_j = mean S over its scored items (the
    median of the scored clusters where none was scored). ``"softmax"``:
    ``exp(s_j) / sum exp(s)`` (the released code); ``"paper"``:
    ``w_j * max(s_j, 1e-6)`` renormalised (Eq. 6). Returns (k,) summing to 1.
    """
    prev = np.asarray(prev_weights, dtype=float)
    if prev.ndim != 1 or prev.size == 0 or np.any(prev < 0) or not np.isfinite(prev).all():
        raise ValueError("prev_weights must be a non-empty 1-D array of non-negative weights")
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels)
    if scores.ndim != 1 or scores.shape != labels.shape or scores.size == 0:
        raise ValueError("scores and labels must be 1-D arrays of the same non-zero length")
    if not np.isfinite(scores).all():
        raise ValueError("scores contains NaN or infinite values")
    k = prev.size
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must lie in 0..{k - 1}")
    counts = np.bincount(labels, minlength=k)
    sums = np.bincount(labels, weights=scores, minlength=k)
    seen = counts > 0
    s = np.empty(k)
    s[seen] = sums[seen] / counts[seen]
    s[~seen] = np.median(s[seen])
    if mode == "softmax":
        w = np.exp(s - s.max())
    elif mode == "paper":
        w = prev * np.maximum(s, 1e-6)
    else:
        raise ValueError(f"mode must be 'softmax' or 'paper', got {mode!r}")
    return w / w.sum()


class IterativeKMQSelector(KMQSelector):
    """Iterative kMQ (arXiv:2409.11378 Algorithm 1): the budget is spent over ``n_rounds``.

    ``train_fn(indices) -> model`` trains on the cumulative selection;
    ``score_fn(model, indices) -> S`` (len(indices),) scores the selected items
    (Eq. 4: score of the gold answer minus score of the model's answer). Round 1
    draws ``b // n_rounds`` with kMQ (``init="kmq"``) or uniformly within
    clusters with equal allocation (``init="kmeans_random"``); later rounds draw
    cluster counts ~ Multinomial(b_round, w) (capped at the unselected members,
    the deficit redrawn among clusters with room) and uniform members. The last
    round absorbs the rounding of ``b / n_rounds``.

    After ``select``: ``selected_indices_``, ``round_indices_`` (list of arrays),
    ``cluster_weights_history_`` (n_rounds + 1, k), ``labels_``, ``cluster_centers_``.
    """

    def __init__(self, train_fn=None, score_fn=None, n_clusters=None, *, n_rounds=3, weight_update="softmax",
                 init="kmq", temperature=1.0, kmeans_n_init=5, kmeans_max_iter=300, kmeans_algorithm="auto",
                 kmeans_backend="auto", random_state=None):
        self.train_fn = train_fn
        self.score_fn = score_fn
        self.n_clusters = n_clusters
        self.n_rounds = n_rounds
        self.weight_update = weight_update
        self.init = init
        self.temperature = temperature
        self.kmeans_n_init = kmeans_n_init
        self.kmeans_max_iter = kmeans_max_iter
        self.kmeans_algorithm = kmeans_algorithm
        self.kmeans_backend = kmeans_backend
        self.random_state = random_state

    # the draw rules are fixed by the algorithm, not user parameters
    allocation = "equal"

    @property
    def within(self):
        return "quality" if self.init == "kmq" else "random"

    def fit(self, X, y=None, *, quality=None, domains=None, labels=None):
        if not callable(self.train_fn) or not callable(self.score_fn):
            raise TypeError("train_fn and score_fn must be callables")
        if isinstance(self.n_rounds, bool) or not isinstance(self.n_rounds, (int, np.integer)) or self.n_rounds < 1:
            raise ValueError(f"n_rounds must be a positive int, got {self.n_rounds!r}")
        if self.init not in ("kmq", "kmeans_random"):
            raise ValueError(f"init must be 'kmq' or 'kmeans_random', got {self.init!r}")
        if self.weight_update not in ("softmax", "paper"):
            raise ValueError(f"weight_update must be 'softmax' or 'paper', got {self.weight_update!r}")
        return super().fit(X, quality=quality, domains=domains, labels=labels)

    def _select(self, b):
        if b < self.n_rounds:
            raise ValueError(f"budget ({b}) must be at least n_rounds ({self.n_rounds})")
        rng = self._rng()
        per_round = [b // self.n_rounds] * self.n_rounds
        per_round[-1] += b - sum(per_round)
        first = KMQSelector._select(self, per_round[0])
        labels, k = self.labels_, self.cluster_centers_.shape[0]
        taken = np.zeros(labels.size, dtype=bool)
        taken[first] = True
        rounds = [first]
        weights = np.full(k, 1.0 / k)
        history = [weights]
        for r in range(self.n_rounds):
            chosen = np.concatenate(rounds)
            model = self.train_fn(chosen)
            scores = np.asarray(self.score_fn(model, chosen), dtype=float)
            if scores.shape != chosen.shape:
                raise ValueError(f"score_fn must return one score per index ({chosen.size}), got {scores.shape}")
            weights = update_cluster_weights(scores, labels[chosen], weights, mode=self.weight_update)
            history.append(weights)
            if r == self.n_rounds - 1:
                break
            spare = np.bincount(labels[~taken], minlength=k)
            counts = np.zeros(k, dtype=np.int64)
            need = per_round[r + 1]
            while need > 0:
                room = spare - counts
                w = np.where(room > 0, weights, 0.0)
                w = w / w.sum() if w.sum() > 0 else (room > 0) / np.count_nonzero(room > 0)
                counts += np.minimum(rng.multinomial(need, w), room)
                need = per_round[r + 1] - counts.sum()
            new = []
            for j in np.flatnonzero(counts):
                free = np.flatnonzero((labels == j) & ~taken)
                new.append(rng.choice(free, size=int(counts[j]), replace=False))
            new = np.concatenate(new)
            taken[new] = True
            rounds.append(new)
        self.round_indices_ = rounds
        self.cluster_weights_history_ = np.vstack(history)
        self.selected_indices_ = np.concatenate(rounds)
        return self.selected_indices_
