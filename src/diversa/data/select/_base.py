"""Shared validation, budgets and the selector base class of ``diversa.data.select``."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted, check_random_state


def resolve_budget(budget, n: int) -> int:
    """Number of rows a ``budget`` asks for out of ``n``: an int count in [1, n], or a
    float fraction in (0, 1] (rounded, at least 1)."""
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        raise TypeError(f"budget must be an int count or a float fraction, got {budget!r}")
    if isinstance(budget, numbers.Integral):
        b = int(budget)
    else:
        if not 0.0 < float(budget) <= 1.0:
            raise ValueError(f"budget as a fraction must lie in (0, 1], got {budget}")
        b = max(1, round(float(budget) * n))
    if not 1 <= b <= n:
        raise ValueError(f"budget must lie in [1, {n}] (the number of rows), got {budget}")
    return b


def gumbel_top_k(log_weights, k: int, random_state=None) -> np.ndarray:
    """Indices of ``k`` draws without replacement with ``p`` proportional to ``exp(log_weights)``.

    The Gumbel-top-k trick (Kool, van Hoof and Welling, "Stochastic Beams and Where to Find Them",
    ICML 2019): perturb each log weight with standard Gumbel noise and keep the ``k`` largest, in
    draw order. ``log_weights`` (n,); ``random_state`` is an int, None or a
    ``np.random.RandomState`` (advanced by one ``gumbel(size=n)`` draw). Returns int64 (k,).
    """
    keys = np.asarray(log_weights, dtype=float)
    if keys.ndim != 1:
        raise ValueError(f"log_weights must be a 1-D array, got shape {keys.shape}")
    if np.isnan(keys).any():
        raise ValueError("log_weights contains NaN")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= keys.size:
        raise ValueError(f"k must be an int in [0, {keys.size}], got {k!r}")
    rng = check_random_state(random_state)
    return np.argsort(-(keys + rng.gumbel(size=keys.size)), kind="stable")[:int(k)]


def allocate_budget(sizes, budget: int, mode: str = "equal") -> np.ndarray:
    """Split an integer ``budget`` over groups of the given ``sizes``; exact sum, capped sizes.

    ``"equal"``: ``floor(b/k)`` each, one more for the ``b mod k`` largest
    groups, capped at the group size, leftovers water-filled into groups with
    spare members (largest spare first). ``"proportional"``: largest-remainder
    rounding of ``b * size / n``, same capping. Returns int64 (k,).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.ndim != 1 or sizes.size == 0 or np.any(sizes < 0):
        raise ValueError("sizes must be a non-empty 1-D array of non-negative counts")
    budget = int(budget)
    if not 0 <= budget <= sizes.sum():
        raise ValueError(f"budget must lie in [0, {int(sizes.sum())}], got {budget}")
    k = sizes.size
    order = np.argsort(-sizes, kind="stable")
    if mode == "equal":
        alloc = np.full(k, budget // k, dtype=np.int64)
        alloc[order[:budget % k]] += 1
    elif mode == "proportional":
        exact = budget * sizes / sizes.sum()
        alloc = np.floor(exact).astype(np.int64)
        rest = budget - alloc.sum()
        alloc[np.argsort(-(exact - alloc), kind="stable")[:rest]] += 1
    else:
        raise ValueError(f"mode must be 'equal' or 'proportional', got {mode!r}")
    alloc = np.minimum(alloc, sizes)
    while alloc.sum() < budget:
        spare = sizes - alloc
        left = budget - alloc.sum()
        open_groups = np.argsort(-spare, kind="stable")[: int(np.count_nonzero(spare))]
        # one round of water-filling: at most one share of the remainder per open group
        share = max(1, left // len(open_groups))
        for g in open_groups:
            take = min(share, spare[g], budget - alloc.sum())
            alloc[g] += take
            if alloc.sum() == budget:
                break
    return alloc


def check_embeddings(X, name: str = "X") -> np.ndarray:
    """A finite 2-D float array (n, d) with at least one row."""
    try:
        return check_array(X, dtype=[np.float64, np.float32], input_name=name)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


def check_vector(values, n: int, name: str, *, dtype=float) -> np.ndarray | None:
    """``None`` or a finite 1-D array of length ``n``."""
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with {n} entries (one per row of X), got shape {arr.shape}")
    if dtype is float:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric") from None
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_domains(domains, n: int) -> np.ndarray | None:
    """``None`` or integer codes 0..M-1 (labels of any hashable type are encoded in sorted order)."""
    arr = check_vector(domains, n, "domains", dtype=object)
    if arr is None:
        return None
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in arr):
        raise ValueError("domains contains missing values")
    _, codes = np.unique(arr.astype(str) if arr.dtype == object else arr, return_inverse=True)
    return codes.astype(np.int64)


class BaseSelector(BaseEstimator):
    """Base of the subset selectors: ``fit(X, quality=None, domains=None)`` then ``select(budget)``.

    ``X`` (n, d) are embeddings, ``quality`` (n,) higher-is-better scores,
    ``domains`` (n,) domain labels. ``select`` returns int64 row indices
    without repeats, reproducible for a fixed ``random_state``; ``fit_select``
    does both.
    """

    _needs_quality = False
    _needs_domains = False

    def _validate(self, X, quality, domains):
        X = check_embeddings(X)
        n = X.shape[0]
        quality = check_vector(quality, n, "quality")
        domains = check_domains(domains, n)
        if self._needs_quality and quality is None:
            raise ValueError(f"{type(self).__name__} needs quality scores: pass quality=")
        if self._needs_domains and domains is None:
            raise ValueError(f"{type(self).__name__} needs domain labels: pass domains=")
        self.n_samples_ = n
        self.n_features_in_ = X.shape[1]
        self.quality_ = quality
        self.domains_ = domains
        return X, quality, domains

    def fit(self, X, y=None, *, quality=None, domains=None):
        """Validate and store the pool; returns self."""
        self._validate(X, quality, domains)
        return self

    def _rng(self):
        # a fresh generator per select() call so repeated calls are reproducible
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            return rs
        return check_random_state(rs)

    def select(self, budget) -> np.ndarray:
        """Indices of ``budget`` selected rows (int count or fraction of the pool)."""
        check_is_fitted(self, "n_samples_")
        b = resolve_budget(budget, self.n_samples_)
        idx = np.asarray(self._select(b), dtype=np.int64)
        return idx

    def fit_select(self, X, budget, *, quality=None, domains=None) -> np.ndarray:
        """``fit`` then ``select``."""
        return self.fit(X, quality=quality, domains=domains).select(budget)
