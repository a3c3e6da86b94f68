"""QuaDMix: joint quality and domain-mix sampling with a searched parameterised function.

Liu, Zhou, Liu, Yu, Zhang, Lin, Yu, Zhang, Zhou, Wang, Cao, "QuaDMix:
Quality-Diversity Balanced Data Selection for Efficient LLM Pretraining",
arXiv:2504.16511.

Every document gets an expected sampling count from one function of its
domain and of its within-domain rank under a domain-specific weighted merge of
several quality criteria (Eq. 1-3). The (N + 4) M parameters (merge weights
``alpha_m`` and ``lambda_m, omega_m, eta_m, eps_m`` for each of M domains) are
tuned RegMix-style: many small proxy models trained on datasets sampled with
parameters from the prior of Algorithm 1, a LightGBM regressor from
parameters to proxy validation loss, and a search of the regressor over fresh
prior draws, averaging the top 10.

Conventions: the functions on raw criteria (:func:`quadmix_sampling_values`)
follow the paper (``q`` SMALLER = better, rank 0 = best). The selector and the
search take diversa's ``quality`` (HIGHER = better, as every selector) and
negate it.

Resolutions of the spec: criteria are normalised by their global percentile
rank (``normalize="rank"``, option ``"zscore"``); ``lambda = 1000 * u``
(``lambda_scale="linear"``; ``"log"`` reads the paper's "103 lambda" as
``10 ** (3 u)``); a proxy dataset is brought to a fixed quota by subsampling
the realised multiset uniformly (too large) or cycling through it (too small);
``QuaDMixSelector.select`` counts the budget in documents and returns a
multiset (repeated indices are QuaDMix's up-sampling of the best documents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata, spearmanr
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_random_state

from ._base import BaseSelector, check_domains


@dataclass
class QuaDMixParams:
    """One parameter set theta: ``alpha`` (M, N) merge weights (rows on the simplex) and the
    per-domain sampling-function parameters ``lam, omega, eta, eps`` (M,) each."""

    alpha: np.ndarray
    lam: np.ndarray
    omega: np.ndarray
    eta: np.ndarray
    eps: np.ndarray

    @property
    def n_domains(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def n_criteria(self) -> int:
        return int(self.alpha.shape[1])

    def to_vector(self) -> np.ndarray:
        """Flat (N + 4) M vector: per domain ``[alpha_m, lam_m, omega_m, eta_m, eps_m]``."""
        rest = np.column_stack([self.lam, self.omega, self.eta, self.eps])
        return np.hstack([self.alpha, rest]).ravel()

    @classmethod
    def from_vector(cls, v, n_criteria: int, n_domains: int) -> QuaDMixParams:
        """Inverse of :meth:`to_vector`."""
        v = np.asarray(v, dtype=float)
        if v.shape != ((n_criteria + 4) * n_domains,):
            raise ValueError(f"v must have (n_criteria + 4) * n_domains = {(n_criteria + 4) * n_domains} "
                             f"entries, got shape {v.shape}")
        m = v.reshape(n_domains, n_criteria + 4)
        return cls(m[:, :n_criteria].copy(), m[:, n_criteria].copy(), m[:, n_criteria + 1].copy(),
                   m[:, n_criteria + 2].copy(), m[:, n_criteria + 3].copy())


def sample_quadmix_params(n_criteria: int, n_domains: int, size: int = 1, *, lambda_scale="linear",
                          random_state=None) -> list[QuaDMixParams]:
    """``size`` draws from the parameter prior of Algorithm 1 (arXiv:2504.16511).

    Global ``a ~ U(0,1)^N`` normalised; per domain ``b ~ U(0,1)^N``,
    ``alpha_m = a b / sum(a b)``, and ``(lam, omega, eta, eps) ~ U(0,1)^4``
    rescaled to ``lam * 1000`` (or ``10 ** (3 lam)``), ``omega * 0.1``, ``eta``,
    ``eps / 1000``.
    """
    for name, v in (("n_criteria", n_criteria), ("n_domains", n_domains), ("size", size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if lambda_scale not in ("linear", "log"):
        raise ValueError(f"lambda_scale must be 'linear' or 'log', got {lambda_scale!r}")
    rng = check_random_state(random_state)
    out = []
    for _ in range(size):
        a = rng.uniform(size=n_criteria)
        a = a / a.sum()
        alpha = np.empty((n_domains, n_criteria))
        raw = np.empty((n_domains, 4))
        for m in range(n_domains):
            b = rng.uniform(size=n_criteria) * a
            alpha[m] = b / b.sum()
            raw[m] = rng.uniform(size=4)
        lam = 1000.0 * raw[:, 0] if lambda_scale == "linear" else 10.0 ** (3.0 * raw[:, 0])
        out.append(QuaDMixParams(alpha, lam, 0.1 * raw[:, 1], raw[:, 2].copy(), raw[:, 3] / 1000.0))
    return out


def _check_q(q, domains, params, tokens):
    q = np.asarray(q, dtype=float)
    if q.ndim == 1:
        q = q[:, None]
    if q.ndim != 2 or q.shape[0] == 0 or not np.isfinite(q).all():
        raise ValueError("q must be a finite (n, N) array of quality criteria")
    n = q.shape[0]
    if q.shape[1] != params.n_criteria:
        raise ValueError(f"q has {q.shape[1]} criteria but the parameters have {params.n_criteria}")
    d = np.asarray(domains)
    if d.shape != (n,) or not np.issubdtype(d.dtype, np.integer):
        raise ValueError(f"domains must be {n} integer codes")
    if d.min() < 0 or d.max() >= params.n_domains:
        raise ValueError(f"domains must lie in 0..{params.n_domains - 1}")
    t = np.ones(n) if tokens is None else np.asarray(tokens, dtype=float)
    if t.shape != (n,) or not np.isfinite(t).all() or np.any(t < 0):
        raise ValueError("tokens must be n non-negative token counts")
    return q, d, t


def normalize_criteria(q, normalize="rank") -> np.ndarray:
    """sigma(q_n): global percentile rank ``rankdata(q, "max") / n`` (0 = best for smaller-is-better
    q) or z-score, per column."""
    q = np.asarray(q, dtype=float)
    if normalize == "rank":
        return np.column_stack([rankdata(q[:, j], method="max") / q.shape[0] for j in range(q.shape[1])])
    if normalize == "zscore":
        sd = q.std(axis=0)
        return (q - q.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    raise ValueError(f"normalize must be 'rank' or 'zscore', got {normalize!r}")


def merged_rank(qbar, domains, tokens=None, *, percentile_subsample=None, random_state=None) -> np.ndarray:
    """Eq. 2: token-weighted within-domain percentile of the merged score ``qbar`` (smaller =
    better): the share of the domain's tokens with ``qbar' <= qbar``. With
    ``percentile_subsample`` the map is estimated on that many documents per domain and
    interpolated."""
    qbar = np.asarray(qbar, dtype=float)
    d = np.asarray(domains)
    t = np.ones(qbar.size) if tokens is None else np.asarray(tokens, dtype=float)
    rng = check_random_state(random_state)
    out = np.empty(qbar.size)
    for m in np.unique(d):
        idx = np.flatnonzero(d == m)
        ref = idx
        if percentile_subsample is not None and idx.size > percentile_subsample:
            ref = rng.choice(idx, size=int(percentile_subsample), replace=False)
        order = np.argsort(qbar[ref], kind="stable")
        sq = qbar[ref][order]
        cum = np.cumsum(t[ref][order])
        total = cum[-1] if cum[-1] > 0 else 1.0
        if ref is idx:
            pos = np.searchsorted(sq, qbar[idx], side="right") - 1
            out[idx] = cum[pos] / total
        else:
            out[idx] = np.clip(np.interp(qbar[idx], sq, cum / total), 0.0, 1.0)
    return out


def sampling_function(rbar, lam, omega, eta, eps) -> np.ndarray:
    """Eq. 3: ``(2 / (1 + exp(-lam (omega - rbar)))) ** eta + eps`` for ``rbar <= omega``,
    ``eps`` above (parameters broadcast against ``rbar``)."""
    rbar = np.asarray(rbar, dtype=float)
    lam, omega, eta, eps = (np.broadcast_to(np.asarray(v, dtype=float), rbar.shape) for v in (lam, omega, eta, eps))
    kept = rbar <= omega
    base = 2.0 / (1.0 + np.exp(-lam * np.where(kept, omega - rbar, 0.0)))
    return np.where(kept, base ** eta + eps, eps)


def quadmix_sampling_values(q, domains, params: QuaDMixParams, *, tokens=None, normalize="rank",
                            percentile_subsample=None, random_state=None) -> np.ndarray:
    """Expected sampling count (n,) of every document: normalise the criteria ``q`` (n, N;
    smaller = better), merge them with the domain's ``alpha`` (Eq. 1), rank within the domain
    (Eq. 2) and apply the domain's sampling function (Eq. 3). ``domains`` are codes 0..M-1."""
    q, d, t = _check_q(q, domains, params, tokens)
    sigma = normalize_criteria(q, normalize)
    qbar = np.einsum("ij,ij->i", sigma, params.alpha[d])
    rbar = merged_rank(qbar, d, t, percentile_subsample=percentile_subsample, random_state=random_state)
    return sampling_function(rbar, params.lam[d], params.omega[d], params.eta[d], params.eps[d])


def realize_counts(S, random_state=None) -> np.ndarray:
    """Integer counts ``floor(S) + Bernoulli(S - floor(S))`` (expectation S)."""
    S = np.asarray(S, dtype=float)
    if S.ndim != 1 or not np.isfinite(S).all() or np.any(S < 0):
        raise ValueError("S must be a 1-D array of non-negative finite expected counts")
    rng = check_random_state(random_state)
    base = np.floor(S)
    return (base + (rng.uniform(size=S.size) < S - base)).astype(np.int64)


def fit_counts_to_quota(counts, quota: int, S=None, random_state=None) -> np.ndarray:
    """Bring a realised multiset to exactly ``quota`` items: subsample it uniformly when larger,
    cycle through it when smaller (an empty multiset takes the ``quota`` largest ``S``)."""
    counts = np.asarray(counts, dtype=np.int64)
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))
    total = int(counts.sum())
    if total == 0:
        if S is None or quota > counts.size:
            raise ValueError("the sampled multiset is empty; cannot fill the quota")
        out = np.zeros_like(counts)
        out[np.argsort(-np.asarray(S), kind="stable")[:quota]] = 1
        return out
    full, rest = divmod(int(quota), total)
    out = counts * full
    if rest:
        out = out + rng.multivariate_hypergeometric(counts, rest)
    return out


class QuaDMixSelector(BaseSelector):
    """Sample a multiset with fixed QuaDMix parameters.

    ``fit(X=None, quality=Q, domains=d)``: ``Q`` (n, N) criteria with HIGHER =
    better (negated internally), ``d`` (n,) domain labels (encoded 0..M-1 in
    sorted order, M must match ``params``). ``params`` None draws one set from
    the prior (seeded). ``select(budget)`` returns ``budget`` indices with
    repeats (the realised counts fitted to the quota). After fit:
    ``sampling_values_`` (n,); after select: ``counts_`` (n,).
    """

    def __init__(self, params=None, *, normalize="rank", lambda_scale="linear", tokens=None, random_state=None):
        self.params = params
        self.normalize = normalize
        self.lambda_scale = lambda_scale
        self.tokens = tokens
        self.random_state = random_state

    def fit(self, X=None, y=None, *, quality=None, domains=None):
        if quality is None or domains is None:
            raise ValueError("QuaDMixSelector needs quality= (n, N) and domains= (n,)")
        Q = np.asarray(quality, dtype=float)
        if Q.ndim == 1:
            Q = Q[:, None]
        if Q.ndim != 2 or not np.isfinite(Q).all():
            raise ValueError("quality must be a finite (n, N) array")
        n = Q.shape[0]
        if X is not None and np.asarray(X).shape[0] != n:
            raise ValueError(f"X has {np.asarray(X).shape[0]} rows but quality has {n}")
        codes = check_domains(domains, n)
        M = int(codes.max()) + 1
        params = self.params
        if params is None:
            params = sample_quadmix_params(Q.shape[1], M, lambda_scale=self.lambda_scale,
                                           random_state=self.random_state)[0]
        if not isinstance(params, QuaDMixParams):
            raise TypeError("params must be a QuaDMixParams or None")
        if params.n_domains < M:
            raise ValueError(f"domains has {M} distinct labels but params covers {params.n_domains}")
        self.params_ = params
        self.sampling_values_ = quadmix_sampling_values(-Q, codes, params, tokens=self.tokens,
                                                        normalize=self.normalize)
        self.n_samples_ = n
        self.quality_ = Q
        self.domains_ = codes
        return self

    def _select(self, b):
        rng = self._rng()
        counts = realize_counts(self.sampling_values_, rng)
        self.counts_ = fit_counts_to_quota(counts, b, self.sampling_values_, rng)
        return np.repeat(np.arange(self.n_samples_), self.counts_)


def _default_regressor(random_state):
    try:
        from lightgbm import LGBMRegressor
    except ImportError:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=random_state)
    return LGBMRegressor(n_estimators=300, learning_rate=0.05, num_leaves=15, min_child_samples=10, subsample=0.8,
                         subsample_freq=1, colsample_bytree=0.8, n_jobs=1, random_state=random_state, verbose=-1)


def _proxy_loss(proxy_fn, Q, codes, params, tokens, quota, normalize, seed):
    rng = check_random_state(seed)
    S = quadmix_sampling_values(-Q, codes, params, tokens=tokens, normalize=normalize)
    counts = realize_counts(S, rng)
    if quota is not None:
        counts = fit_counts_to_quota(counts, quota, S, rng)
    return float(proxy_fn(counts))


class QuaDMixSearch(BaseEstimator):
    """RegMix-style parameter search of QuaDMix (arXiv:2504.16511 section 3.3).

    ``run(quality, domains, proxy_fn)``: draw ``n_proxies`` parameter sets from
    the prior, sample each one's counts (fitted to ``quota`` documents when
    given), record ``proxy_fn(counts) -> loss``; fit ``regressor`` (LightGBM by
    default, scikit-learn's HistGradientBoostingRegressor when LightGBM is
    absent) from parameter vectors to losses, report its held-out MAE and
    Spearman correlation on 20% of the proxies (0 where the predictions are
    constant), refit on all, predict
    ``n_candidates`` fresh prior draws and average the ``top_k`` lowest into
    ``theta_star_``. Proxies run in ``n_jobs`` processes through joblib.
    """

    def __init__(self, n_proxies=3000, n_candidates=100_000, top_k=10, regressor=None, *, lambda_scale="linear",
                 normalize="rank", n_jobs=None, random_state=None):
        self.n_proxies = n_proxies
        self.n_candidates = n_candidates
        self.top_k = top_k
        self.regressor = regressor
        self.lambda_scale = lambda_scale
        self.normalize = normalize
        self.n_jobs = n_jobs
        self.random_state = random_state

    def run(self, quality, domains, proxy_fn, *, tokens=None, quota=None) -> QuaDMixSearch:
        """Run the search; ``quality`` (n, N) higher = better, ``domains`` (n,) labels."""
        from sklearn.base import clone

        if not callable(proxy_fn):
            raise TypeError("proxy_fn must be a callable counts -> loss")
        for name, v, lo in (("n_proxies", self.n_proxies, 10), ("n_candidates", self.n_candidates, 1),
                            ("top_k", self.top_k, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        if self.top_k > self.n_candidates:
            raise ValueError("top_k must not exceed n_candidates")
        Q = np.asarray(quality, dtype=float)
        Q = Q[:, None] if Q.ndim == 1 else Q
        if Q.ndim != 2 or not np.isfinite(Q).all():
            raise ValueError("quality must be a finite (n, N) array")
        codes = check_domains(domains, Q.shape[0])
        N, M = Q.shape[1], int(codes.max()) + 1
        if quota is not None and (isinstance(quota, bool) or not isinstance(quota, (int, np.integer)) or quota < 1):
            raise ValueError(f"quota must be a positive int, got {quota!r}")
        rng = check_random_state(self.random_state)
        thetas = sample_quadmix_params(N, M, self.n_proxies, lambda_scale=self.lambda_scale, random_state=rng)
        seeds = rng.randint(2**31 - 1, size=self.n_proxies)
        losses = Parallel(n_jobs=self.n_jobs)(
            delayed(_proxy_loss)(proxy_fn, Q, codes, th, tokens, quota, self.normalize, s)
            for th, s in zip(thetas, seeds))
        V = np.vstack([th.to_vector() for th in thetas])
        L = np.asarray(losses, dtype=float)
        if not np.isfinite(L).all():
            raise ValueError("proxy_fn returned a non-finite loss")
        base = self.regressor if self.regressor is not None else _default_regressor(int(rng.randint(2**31 - 1)))
        perm = rng.permutation(self.n_proxies)
        hold, train = perm[: self.n_proxies // 5], perm[self.n_proxies // 5:]
        pred = clone(base).fit(V[train], L[train]).predict(V[hold])
        self.regressor_mae_ = float(np.mean(np.abs(pred - L[hold])))
        # constant predictions (or losses) carry no ranking information: report 0, not NaN
        rho = spearmanr(pred, L[hold]).statistic if np.ptp(pred) > 0 and np.ptp(L[hold]) > 0 else 0.0
        self.regressor_spearman_ = float(rho)
        self.regressor_ = clone(base).fit(V, L)
        cands = np.vstack([th.to_vector() for th in sample_quadmix_params(
            N, M, self.n_candidates, lambda_scale=self.lambda_scale, random_state=rng)])
        predicted = self.regressor_.predict(cands)
        best = np.argsort(predicted, kind="stable")[: self.top_k]
        self.thetas_ = V
        self.losses_ = L
        self.theta_star_ = QuaDMixParams.from_vector(cands[best].mean(axis=0), N, M)
        self.predicted_best_loss_ = float(predicted[best].mean())
        return self

    def selector(self, **kwargs) -> QuaDMixSelector:
        """A :class:`QuaDMixSelector` with ``theta_star_``."""
        if not hasattr(self, "theta_star_"):
            raise ValueError("call run() before selector()")
        return QuaDMixSelector(self.theta_star_, normalize=self.normalize, **kwargs)
