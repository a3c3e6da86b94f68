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
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.utils.validation import check_is_fitted

from ._base import BaseSelector, allocate_budget, check_vector, gumbel_top_k

_AUTO_GRID = (8, 16, 32, 64)


def cluster_embeddings(X, n_clusters, *, n_init=5, max_iter=300, algorithm="auto", random_state=0):
    """k-means labels (n,) and centres (k, d) with scikit-learn; ``algorithm="minibatch"`` (or
    "auto" above 200,000 rows) uses ``MiniBatchKMeans`` for large pools."""
    if algorithm not in ("auto", "full", "minibatch"):
        raise ValueError(f"algorithm must be 'auto', 'full' or 'minibatch', got {algorithm!r}")
    if algorithm == "minibatch" or (algorithm == "auto" and X.shape[0] > 200_000):
        km = MiniBatchKMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, batch_size=4096,
                             random_state=random_state).fit(X)
    else:
        km = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=random_state).fit(X)
    return km.labels_.astype(np.int64), km.cluster_centers_


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
    kmeans_n_init, kmeans_max_iter, kmeans_algorithm : k-means settings.
    random_state : int, RandomState or None (seeds k-means and the draws).

    After ``select``: ``labels_`` (n,), ``cluster_centers_`` (k, d),
    ``budgets_`` (k,), ``selected_indices_``.
    """

    def __init__(self, n_clusters=None, *, allocation="equal", within="quality", temperature=1.0,
                 kmeans_n_init=5, kmeans_max_iter=300, kmeans_algorithm="auto", random_state=None):
        self.n_clusters = n_clusters
        self.allocation = allocation
        self.within = within
        self.temperature = temperature
        self.kmeans_n_init = kmeans_n_init
        self.kmeans_max_iter = kmeans_max_iter
        self.kmeans_algorithm = kmeans_algorithm
        self.random_state = random_state

    def fit(self, X, y=None, *, quality=None, domains=None, labels=None):
        """Store the pool ``X`` (n, d); ``labels`` (n,) reuses a precomputed clustering
        (e.g. from faiss) instead of running k-means."""
        if self.allocation not in ("equal", "proportional"):
            raise ValueError(f"allocation must be 'equal' or 'proportional', got {self.allocation!r}")
        if self.within not in ("quality", "random", "closest", "median"):
            raise ValueError(f"within must be one of quality, random, closest, median, got {self.within!r}")
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {self.temperature!r}")
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

    def _kmeans(self, k):
        if k not in self._cache:
            self._cache[k] = cluster_embeddings(self._X, k, n_init=self.kmeans_n_init,
                                                max_iter=self.kmeans_max_iter,
                                                algorithm=self.kmeans_algorithm, random_state=self._seed())
        return self._cache[k]

    def _select(self, b):
        check_is_fitted(self, "n_samples_")
        rng = self._rng()
        labels, centers = self._clusters(b)
        k = centers.shape[0]
        sizes = np.bincount(labels, minlength=k)
        budgets = allocate_budget(sizes, b, self.allocation)
        out = []
        # members of every cluster from one stable sort: O(n log n) instead of O(n k)
        grouped = np.argsort(labels, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        for j in range(k):
            take = int(budgets[j])
            if take == 0:
                continue
            members = grouped[starts[j]:starts[j + 1]]
            if self.within == "quality":
                pick = gumbel_top_k(self.quality_[members] / self.temperature, int(take), rng)
            elif self.within == "random":
                pick = rng.permutation(members.size)[:take]
            else:
                dist = np.linalg.norm(self._X[members] - centers[j], axis=1)
                if self.within == "median":
                    dist = np.abs(dist - np.median(dist))
                pick = np.argsort(dist, kind="stable")[:take]
            out.append(members[pick])
        self.labels_, self.cluster_centers_, self.budgets_ = labels, centers, budgets
        self.selected_indices_ = np.concatenate(out)
        return self.selected_indices_


class KCenterGreedySelector(BaseSelector):
    """k-Center greedy: farthest-first traversal (first centre uniform at random), the
    baseline of arXiv:2409.11378 Table 2. O(n * budget * d)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y=None, *, quality=None, domains=None):
        self._X, _, _ = self._validate(X, quality, domains)
        return self

    def _select(self, b):
        X = self._X
        first = int(self._rng().randint(X.shape[0]))
        chosen = [first]
        dist = np.linalg.norm(X - X[first], axis=1)
        dist[first] = -1.0
        for _ in range(b - 1):
            nxt = int(np.argmax(dist))
            chosen.append(nxt)
            dist = np.minimum(dist, np.linalg.norm(X - X[nxt], axis=1))
            dist[chosen] = -1.0
        return np.array(chosen)


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
                 random_state=None):
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
