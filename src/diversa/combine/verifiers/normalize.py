"""Dataset-statistics preprocessing of weak-verifier scores (Weaver steps 1-4).

Saad-Falcon et al., "Shrinking the Generation-Verification Gap with Weak Verifiers",
arXiv:2506.18203 (spec ``ensemble.md#weaver``, Algorithm steps 1-4): verifiers emit scores on
different scales and formats, so each one is normalised by statistics of its own column,
binarised at a threshold, and degenerate verifiers (almost always "yes" or "no") are filtered by
their vote marginals before the label model sees them.

* :func:`majority_vote_verifier` -- answer frequency within a query, min-max scaled within the
  query (all ones when every answer is equally frequent).
* :func:`normalize_verifier_scores` -- ``minmax`` (columns already inside [0, 1] are left
  unchanged, as in the official code), ``quantile`` or ``winsorize``, over all problems or per
  problem; a constant column maps to 0.5 (documented RESOLUTION); NaN -> 0 or the per-query mean.
* :func:`binarize_verifier_scores` -- a fixed threshold ``1[x >= t]`` or ``"cb"``: per verifier
  the value at sorted index ``ceil((1 - cb) n) - 1`` is the threshold and ``1[x >= t]`` votes, so
  without ties the positive rate is within 1/n (one value, the threshold itself) of the class
  balance. Columns with values in {0, 1} are binary judges and are never re-thresholded.
* :func:`filter_verifiers` -- rules "all" (0.1 < m_v < 0.9), "small" (m_v > 0.5), "large"
  (m_v < 0.5), "adaptive" and None.

All functions accept ``(Q, N, V)`` arrays; ragged pools are padded with NaN by
:func:`pad_pools`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.preprocessing import QuantileTransformer

__all__ = [
    "VerifierNormalizer",
    "binarize_verifier_scores",
    "filter_verifiers",
    "is_binary_column",
    "majority_vote_verifier",
    "normalize_verifier_scores",
    "pad_pools",
]


def pad_pools(S, name: str = "S", ndim_item: int = 2):
    """Return ``(array (Q, N, ...), valid mask (Q, N), ragged flag)`` from an array or a list of pools."""
    if isinstance(S, np.ndarray) or not isinstance(S, (list, tuple)):
        arr = np.asarray(S, dtype=float) if not isinstance(S, str) else None
        if arr is None or arr.ndim != ndim_item + 1:
            raise TypeError(f"{name} must be a {ndim_item + 1}-D array or a list of {ndim_item}-D arrays.")
        return arr, np.ones(arr.shape[:2], dtype=bool), False
    items = [np.asarray(s, dtype=float) for s in S]
    if not items or any(s.ndim != ndim_item for s in items):
        raise TypeError(f"{name} must be a {ndim_item + 1}-D array or a non-empty list of {ndim_item}-D arrays.")
    tail = items[0].shape[1:]
    if any(s.shape[1:] != tail for s in items):
        raise ValueError(f"{name}: every pool must have the same trailing shape {tail}.")
    nmax = max(s.shape[0] for s in items)
    out = np.full((len(items), nmax) + tail, np.nan)
    valid = np.zeros((len(items), nmax), dtype=bool)
    for i, s in enumerate(items):
        out[i, :s.shape[0]] = s
        valid[i, :s.shape[0]] = True
    return out, valid, True


def majority_vote_verifier(answers, no_answer: int = -1, valid=None) -> np.ndarray:
    """Per-candidate answer frequency within its query, min-max scaled within the query, (Q, N)."""
    A = np.asarray(answers)
    if A.ndim != 2:
        raise TypeError("answers must be a 2-D array (Q, N).")
    valid = np.ones(A.shape, dtype=bool) if valid is None else valid
    out = np.full(A.shape, np.nan)
    for i in range(A.shape[0]):
        a = A[i, valid[i]]
        _vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
        f = counts / a.size
        lo, hi = f.min(), f.max()
        out[i, valid[i]] = 1.0 if hi == lo else (f[inv] - lo) / (hi - lo)
    return out


def is_binary_column(x: np.ndarray) -> bool:
    """True when the finite values of ``x`` are a subset of {0, 1}."""
    f = x[np.isfinite(x)]
    return bool(f.size) and bool(np.all((f == 0) | (f == 1)))


class VerifierNormalizer:
    """Per-verifier normalisation fitted on one score tensor and re-applied to others.

    ``method`` in {"minmax", "quantile", "winsorize", None}; ``scope`` "all_problems" uses
    statistics of the whole column (stored at ``fit``), "per_problem" normalises each query on
    its own (nothing is stored).
    """

    def __init__(self, method="minmax", scope="all_problems", nan_replacement=0, skip_if_unit_interval=True,
                 random_state=None):
        if method not in ("minmax", "quantile", "winsorize", None):
            raise ValueError(f"method must be 'minmax', 'quantile', 'winsorize' or None, got {method!r}.")
        if scope not in ("all_problems", "per_problem"):
            raise ValueError(f"scope must be 'all_problems' or 'per_problem', got {scope!r}.")
        if not (nan_replacement == "mean" or isinstance(nan_replacement, (int, float))):
            raise ValueError(f"nan_replacement must be a number or 'mean', got {nan_replacement!r}.")
        self.method, self.scope = method, scope
        self.nan_replacement, self.skip_if_unit_interval = nan_replacement, skip_if_unit_interval
        self.random_state = random_state

    def _col_stats(self, x):
        f = x[np.isfinite(x)]
        if f.size == 0:
            return ("const",)
        if self.skip_if_unit_interval and f.min() >= 0 and f.max() <= 1:
            return ("skip",)
        if self.method == "quantile":
            qt = QuantileTransformer(n_quantiles=min(f.size, 100), output_distribution="uniform",
                                     random_state=self.random_state)
            qt.fit(f.reshape(-1, 1))
            return ("quantile", qt)
        lo, hi = (np.percentile(f, 5), np.percentile(f, 95)) if self.method == "winsorize" else (f.min(), f.max())
        if hi == lo:
            lo, hi = f.min(), f.max()
        if hi == lo:
            return ("const",)
        return ("minmax", lo, hi)

    @staticmethod
    def _apply_stats(x, st):
        if st[0] == "skip":
            return x.copy()
        if st[0] == "const":
            return np.where(np.isfinite(x), 0.5, np.nan)
        if st[0] == "quantile":
            out = np.full(x.shape, np.nan)
            m = np.isfinite(x)
            if m.any():
                out[m] = st[1].transform(x[m].reshape(-1, 1)).ravel()
            return out
        return np.clip((x - st[1]) / (st[2] - st[1]), 0.0, 1.0)

    def fit(self, S):
        S = np.asarray(S, dtype=float)
        if S.ndim != 3:
            raise TypeError("S must be a 3-D array (Q, N, V).")
        self.stats_ = None
        if self.method is not None and self.scope == "all_problems":
            self.stats_ = [self._col_stats(S[:, :, v]) for v in range(S.shape[2])]
        self.n_verifiers_ = S.shape[2]
        return self

    def transform(self, S, valid=None):
        S = np.asarray(S, dtype=float)
        if S.ndim != 3 or S.shape[2] != self.n_verifiers_:
            raise ValueError(f"S must be 3-D with {self.n_verifiers_} verifiers, got shape {S.shape}.")
        out = S.copy()
        if self.method is not None:
            for v in range(S.shape[2]):
                if self.scope == "all_problems":
                    out[:, :, v] = self._apply_stats(S[:, :, v], self.stats_[v])
                else:
                    for i in range(S.shape[0]):
                        out[i, :, v] = self._apply_stats(S[i, :, v], self._col_stats(S[i, :, v]))
        nan = ~np.isfinite(out)
        if nan.any():
            if self.nan_replacement == "mean":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    fill = np.nanmean(out, axis=1, keepdims=True)
                fill = np.where(np.isfinite(fill), fill, 0.0)
                out = np.where(nan, np.broadcast_to(fill, out.shape), out)
            else:
                out[nan] = float(self.nan_replacement)
        if valid is not None:
            out[~valid] = np.nan
        return out


def normalize_verifier_scores(S, method="minmax", scope="all_problems", nan_replacement=0,
                              skip_if_unit_interval=True, random_state=None) -> np.ndarray:
    """Normalise each verifier column of ``S (Q, N, V)`` into [0, 1] (see module docstring)."""
    arr, valid, _ = pad_pools(S)
    norm = VerifierNormalizer(method, scope, nan_replacement, skip_if_unit_interval, random_state)
    return norm.fit(np.where(valid[:, :, None], arr, np.nan)).transform(arr, valid)


def _check_cb(class_balance):
    if isinstance(class_balance, bool) or not isinstance(class_balance, (int, float, np.floating, np.integer)):
        raise TypeError(f"class_balance must be a float in (0, 1), got {type(class_balance).__name__}.")
    if not 0 < class_balance < 1:
        raise ValueError(f"class_balance must lie in (0, 1), got {class_balance}.")
    return float(class_balance)


def cb_thresholds(S_norm, class_balance):
    """Per-verifier ``"cb"`` thresholds (NaN for binary columns, which are left untouched)."""
    cb = _check_cb(class_balance)
    th = np.full(S_norm.shape[2], np.nan)
    for v in range(S_norm.shape[2]):
        col = S_norm[:, :, v]
        if is_binary_column(col):
            continue
        f = np.sort(col[np.isfinite(col)])
        th[v] = f[max(math.ceil((1.0 - cb) * f.size) - 1, 0)]
    return th


def apply_thresholds(S_norm, thresholds) -> np.ndarray:
    """Votes ``1[x >= t]`` per verifier; NaN thresholds mark binary columns (vote = value)."""
    votes = np.zeros(S_norm.shape, dtype=np.int8)
    for v, t in enumerate(thresholds):
        col = np.nan_to_num(S_norm[:, :, v], nan=0.0)
        if np.isnan(t):
            votes[:, :, v] = col >= 0.5
        else:
            votes[:, :, v] = col >= t
    return votes


def binarize_verifier_scores(S_norm, threshold=0.5, class_balance=None) -> np.ndarray:
    """Binary votes ``int8 (Q, N, V)`` from normalised scores (fixed threshold or ``"cb"``)."""
    arr, valid, _ = pad_pools(S_norm, name="S_norm")
    if isinstance(threshold, str):
        if threshold != "cb":
            raise ValueError(f"threshold must be a float or 'cb', got {threshold!r}.")
        if class_balance is None:
            raise ValueError("class_balance is required for threshold='cb'.")
        th = cb_thresholds(np.where(valid[:, :, None], arr, np.nan), class_balance)
    else:
        th = np.array([np.nan if is_binary_column(arr[:, :, v]) else float(threshold) for v in range(arr.shape[2])])
    return apply_thresholds(arr, th)


def filter_verifiers(votes, rule="all", class_balance=None, low=0.1, high=0.9, fallback_all=False,
                     valid=None) -> np.ndarray:
    """Indices of verifiers whose vote marginal passes ``rule`` (see module docstring)."""
    V = np.asarray(votes)
    if V.ndim not in (2, 3):
        raise TypeError("votes must be a 2-D (n, m) or 3-D (Q, N, V) array.")
    flat = V.reshape(-1, V.shape[-1]) if valid is None else V[valid]
    if not np.all((flat == 0) | (flat == 1)):
        raise ValueError("votes must contain only 0 and 1.")
    m = flat.mean(axis=0)
    eff = rule
    if rule == "adaptive":
        cb = _check_cb(class_balance) if class_balance is not None else None
        if cb is None:
            raise ValueError("class_balance is required for rule='adaptive'.")
        eff = "large" if cb < 0.2 else "small" if cb > 0.8 else "all"
    if eff is None:
        keep = np.ones(m.size, dtype=bool)
    elif eff == "all":
        keep = (m > low) & (m < high)
    elif eff == "small":
        keep = m > 0.5
    elif eff == "large":
        keep = m < 0.5
    else:
        raise ValueError(f"rule must be 'all', 'small', 'large', 'adaptive' or None, got {rule!r}.")
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        if not fallback_all:
            raise ValueError(f"filter rule {rule!r} removed every verifier (marginals {np.round(m, 3).tolist()}).")
        idx = np.arange(m.size)
    return idx
