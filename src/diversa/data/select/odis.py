"""ODiS: orthogonal-dimension selection of high-quality, diverse data.

He, Liu, Lin, Tang, Cheng, Wang, Li, Cheng, Gong, "Learning from the Best,
Differently: A Diversity-Driven Rethinking on Data Selection",
arXiv:2510.18909.

Selecting by one averaged quality score concentrates the selection because
the scoring dimensions are correlated. ODiS scores documents on several
dimensions, decorrelates the scores with PCA, trains one regressor per
principal component (so the whole corpus can be scored from its text
embeddings), and takes the top documents separately along each component; the
union is high-quality and diverse, and the per-component top sets barely
overlap.

The paper's body was not available to the spec authors; these choices are
the spec's ASSUMPTIONs (implemented as parameters):

* PCA on standardised dimensions (the correlation matrix); each component's
  sign is flipped so its loadings sum to >= 0 ("top" = better on average);
* scorer: ``RidgeCV(alphas=logspace(-3, 3, 13))`` on embeddings (the paper
  fine-tunes RoBERTa), held-out R^2 per component on 20% of the annotated rows;
  the scorers rank only the rows without annotation (annotated rows keep their
  true component scores);
  ``scorer="mlp"`` and ``scorer="oracle"`` (true component scores, analysis only);
* budget per component: ``quota="equal"`` (or ``"variance"``); ``dedup="fill"``
  round-robins the components, each taking its best not-yet-selected row until
  its quota is met (exact budget, no repeats); ``dedup="union"`` unites the
  independent top sets (may be smaller than the budget);
* optional joint-score floor (``floor_quantile``) and softmax sampling with a
  temperature instead of top-q (``sampling="softmax"``).
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, check_random_state

from ._base import BaseSelector, allocate_budget, check_embeddings, gumbel_top_k


def selection_overlap(sets, tokens=None) -> np.ndarray:
    """Pairwise overlap of index sets: ``O[a, b] = |T_a & T_b| / |T_a|`` (K x K), or the
    token-weighted ``sum_{T_a & T_b} t / sum_{T_a} t`` when ``tokens`` (n,) is given."""
    sets = [np.unique(np.asarray(s, dtype=np.int64)) for s in sets]
    if not sets or any(s.size == 0 for s in sets):
        raise ValueError("sets must be a non-empty list of non-empty index arrays")
    t = None if tokens is None else np.asarray(tokens, dtype=float)
    if t is not None and (t.ndim != 1 or np.any(t < 0)):
        raise ValueError("tokens must be a 1-D array of non-negative counts")
    K = len(sets)
    out = np.empty((K, K))
    for a in range(K):
        for b in range(K):
            common = np.intersect1d(sets[a], sets[b], assume_unique=True)
            out[a, b] = common.size / sets[a].size if t is None else t[common].sum() / max(t[sets[a]].sum(), 1e-12)
    return out


def pc_average_select(scores, n_select, *, mode="top", temperature=None, random_state=None) -> np.ndarray:
    """Baseline: select by the mean of the component scores (n, K). ``"top"``: the
    ``n_select`` highest; ``"sample"``: p proportional to ``exp(mean / temperature)`` without
    replacement, temperature default = sd of the mean score (spec ASSUMPTION)."""
    scores = check_embeddings(scores, "scores")
    n = scores.shape[0]
    if isinstance(n_select, bool) or not isinstance(n_select, (int, np.integer)) or not 1 <= n_select <= n:
        raise ValueError(f"n_select must be an int in [1, {n}], got {n_select!r}")
    mean = scores.mean(axis=1)
    if mode == "top":
        return np.argsort(-mean, kind="stable")[:n_select]
    if mode != "sample":
        raise ValueError(f"mode must be 'top' or 'sample', got {mode!r}")
    tau = float(mean.std()) if temperature is None else float(temperature)
    if not tau > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    return gumbel_top_k(mean / tau, n_select, check_random_state(random_state))


class ODiSSelector(BaseSelector):
    """Orthogonal-dimension selection (ODiS).

    ``fit(X, quality=S)``: ``X`` (n, d) embeddings of the corpus, ``S`` (n, D)
    raw dimension scores (higher = better) where a row holding a NaN is not
    annotated, so only part of the pool need be annotated. The scaler, PCA and
    regressors are fitted on the annotated rows; ``scores_`` holds the true
    component scores of annotated rows and the regressors' predictions for the
    others. After fit: ``pca_``, ``scaler_``, ``loadings_`` (D, K),
    ``scorers_``, ``scorer_r2_`` (K,), ``scores_`` (n, K), ``annotated_`` (n,)
    bool. After ``select``: ``selected_indices_``, ``per_component_indices_``
    (independent top sets), ``overlap_`` (K, K).
    """

    def __init__(self, n_components=4, *, quota="equal", dedup="fill", sampling="top", temperature=None,
                 floor_quantile=None, scorer="ridge", random_state=None):
        self.n_components = n_components
        self.quota = quota
        self.dedup = dedup
        self.sampling = sampling
        self.temperature = temperature
        self.floor_quantile = floor_quantile
        self.scorer = scorer
        self.random_state = random_state

    def _check_params(self):
        for name, value, allowed in (("quota", self.quota, ("equal", "variance")),
                                     ("dedup", self.dedup, ("fill", "union")),
                                     ("sampling", self.sampling, ("top", "softmax")),
                                     ("scorer", self.scorer, ("ridge", "mlp", "oracle"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        K = self.n_components
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"n_components must be a positive int, got {K!r}")
        if self.floor_quantile is not None and not 0.0 <= self.floor_quantile < 1.0:
            raise ValueError(f"floor_quantile must lie in [0, 1), got {self.floor_quantile!r}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature!r}")

    def fit(self, X, y=None, *, quality=None, domains=None):
        self._check_params()
        X = check_embeddings(X)
        n = X.shape[0]
        if quality is None:
            raise ValueError("ODiSSelector needs the dimension scores: pass quality= (n, D), NaN rows unannotated")
        S = np.asarray(quality, dtype=float)
        if S.ndim == 1:
            S = S[:, None]
        if S.ndim != 2 or S.shape[0] != n:
            raise ValueError(f"quality must have shape (n, D) with n = {n} rows, got {S.shape}")
        if np.isinf(S).any():
            raise ValueError("quality contains infinite values")
        K, D = self.n_components, S.shape[1]
        if K > D:
            raise ValueError(f"n_components={K} exceeds the number of score dimensions ({D})")
        annotated = ~np.isnan(S).any(axis=1)
        n_ann = int(annotated.sum())
        if n_ann < K + 1 or n_ann < 5:
            raise ValueError(f"quality has {n_ann} fully annotated rows; need at least max(5, n_components + 1)")
        self.scaler_ = StandardScaler().fit(S[annotated])
        Z = self.scaler_.transform(S[annotated])
        self.pca_ = PCA(n_components=K, svd_solver="full").fit(Z)
        W = self.pca_.components_.T.copy()
        W *= np.where(W.sum(axis=0) < 0, -1.0, 1.0)
        self.loadings_ = W
        Y = (Z - self.pca_.mean_) @ W
        Xa = X[annotated]
        rng = check_random_state(self.random_state)
        if self.scorer == "oracle":
            if n_ann != n:
                raise ValueError("scorer='oracle' needs every row annotated (no NaN in quality)")
            self.scorers_ = []
            self.scorer_r2_ = np.ones(K)
            self.scores_ = Y
        else:
            perm = rng.permutation(n_ann)
            hold = perm[: max(1, n_ann // 5)]
            train = perm[max(1, n_ann // 5):]
            self.scorers_, r2 = [], []
            for k in range(K):
                r2.append(r2_score(Y[hold, k], self._regressor(rng).fit(Xa[train], Y[train, k]).predict(Xa[hold]))
                          if train.size >= 2 and hold.size >= 2 else np.nan)
                self.scorers_.append(self._regressor(rng).fit(Xa, Y[:, k]))
            self.scorer_r2_ = np.array(r2)
            self.scores_ = self.transform(X)
            # where a row is annotated its true component scores beat any regressor's estimate
            self.scores_[annotated] = Y
        self.annotated_ = annotated
        self.n_samples_ = n
        self.n_features_in_ = X.shape[1]
        self.quality_ = None
        self.domains_ = None
        return self

    def _regressor(self, rng):
        if self.scorer == "mlp":
            return MLPRegressor(hidden_layer_sizes=(128,), early_stopping=True, max_iter=500,
                                random_state=int(rng.randint(2**31 - 1)))
        return RidgeCV(alphas=np.logspace(-3, 3, 13))

    def transform(self, X) -> np.ndarray:
        """Predicted component scores (n, K) of embeddings ``X``."""
        check_is_fitted(self, "scorers_")
        if not self.scorers_:
            raise ValueError("scorer='oracle' has no regressors to score new rows with")
        X = check_embeddings(X)
        return np.column_stack([s.predict(X) for s in self.scorers_])

    def _orderings(self, candidates, rng):
        K = self.scores_.shape[1]
        out = []
        for k in range(K):
            y = self.scores_[candidates, k]
            if self.sampling == "softmax":
                tau = self.temperature if self.temperature is not None else max(float(y.std()), 1e-12)
                order = gumbel_top_k(y / tau, y.size, rng)
            else:
                order = np.argsort(-y, kind="stable")
            out.append(candidates[order])
        return out

    def _select(self, b):
        rng = self._rng()
        K = self.scores_.shape[1]
        candidates = np.arange(self.n_samples_)
        if self.floor_quantile is not None:
            joint = self.scores_.mean(axis=1)
            candidates = np.flatnonzero(joint >= np.quantile(joint, self.floor_quantile))
        if b > candidates.size:
            raise ValueError(f"budget ({b}) exceeds the {candidates.size} rows above the quality floor")
        sizes = np.full(K, candidates.size)
        if self.quota == "variance":
            weights = np.round(self.pca_.explained_variance_ratio_ * 1e6).astype(np.int64) + 1
            quotas = allocate_budget(weights, b, "proportional") if weights.sum() >= b else allocate_budget(sizes, b)
        else:
            quotas = allocate_budget(sizes, b, "equal")
        orders = self._orderings(candidates, rng)
        self.per_component_indices_ = [orders[k][:max(int(quotas[k]), 1)] for k in range(K)]
        self.overlap_ = selection_overlap(self.per_component_indices_)
        if self.dedup == "union":
            merged = np.concatenate([orders[k][:quotas[k]] for k in range(K)])
            _, first = np.unique(merged, return_index=True)
            selected = merged[np.sort(first)]
        else:
            taken = np.zeros(self.n_samples_, dtype=bool)
            pointer = np.zeros(K, dtype=np.int64)
            got = np.zeros(K, dtype=np.int64)
            selected = []
            while len(selected) < b:
                for k in range(K):
                    if got[k] >= quotas[k]:
                        continue
                    while taken[orders[k][pointer[k]]]:
                        pointer[k] += 1
                    idx = orders[k][pointer[k]]
                    taken[idx] = True
                    selected.append(idx)
                    got[k] += 1
            selected = np.array(selected)
        self.selected_indices_ = selected
        return selected
