"""Sampling strategies for building candidate pools: temperature, min-p, hedged and mixed pools.

Khairi et al., "When Life Gives You Samples: The Benefits of Scaling up Inference Compute for
Multilingual LLMs", arXiv:2506.20544 (spec ``ensemble.md#llmonade``, Algorithm steps 1-3).

* :func:`temperature_sample` -- ``softmax(logits / tau)`` sampling, ``tau = 0`` is greedy; optional
  min-p filter (keep tokens with ``p >= min_p * max p``, renormalise).
* :func:`hedged_pool` -- the greedy output (index 0) plus ``n - 1`` samples at ``tau`` (the paper's
  "hedged sampling"); :func:`mixture_temperatures` -- round-robin temperatures for mixed pools.
* :func:`hope_and_risk` -- our definitions of the paper's pool diagnostics:
  ``hope = mean_i [max_j q_ij - q(greedy_i)]``, ``risk = mean_i [min_j q_ij - q(greedy_i)]`` and
  both divided by ``mean_i q(greedy_i)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

__all__ = [
    "HopeRisk",
    "hedged_pool",
    "hope_and_risk",
    "min_p_filter",
    "mixture_temperatures",
    "temperature_sample",
]


def _check_tau(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not np.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}.")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}.")
    return float(temperature)


def _check_n(n, name="n") -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be an int >= 1, got {n!r}.")
    return int(n)


def min_p_filter(probs, min_p: float = 0.1) -> np.ndarray:
    """Zero the entries below ``min_p * max`` along the last axis and renormalise."""
    if not isinstance(min_p, numbers.Real) or not 0 <= min_p <= 1:
        raise ValueError(f"min_p must lie in [0, 1], got {min_p!r}.")
    P = np.asarray(probs, dtype=float)
    if P.ndim < 1 or P.shape[-1] < 1 or np.any(P < 0) or not np.all(np.isfinite(P)):
        raise ValueError("probs must be a finite non-negative array with a last (vocabulary) axis.")
    keep = P >= min_p * P.max(axis=-1, keepdims=True)
    out = np.where(keep, P, 0.0)
    return out / out.sum(axis=-1, keepdims=True)


def temperature_sample(logits, temperature: float, n: int, min_p: float | None = None,
                       generator=None) -> np.ndarray:
    """Draw ``n`` ids per row of ``logits (..., V)`` from ``softmax(logits / tau)``; shape ``(..., n)``.

    ``temperature = 0`` returns the argmax ``n`` times.
    """
    tau = _check_tau(temperature)
    n = _check_n(n)
    L = np.asarray(logits, dtype=float)
    if L.ndim < 1 or L.shape[-1] < 1:
        raise ValueError("logits must have a last (vocabulary) axis of size >= 1.")
    if tau == 0:
        return np.repeat(np.argmax(L, axis=-1)[..., None], n, axis=-1)
    rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
    P = np.exp(log_softmax(L / tau, axis=-1))
    if min_p is not None:
        P = min_p_filter(P, min_p)
    cum = np.cumsum(P, axis=-1)
    u = rng.random(L.shape[:-1] + (n,)) * cum[..., -1:]
    flat_c = cum.reshape(-1, cum.shape[-1])
    flat_u = u.reshape(-1, n)
    ids = np.stack([np.searchsorted(c, row, side="right") for c, row in zip(flat_c, flat_u)])
    return np.minimum(ids, L.shape[-1] - 1).reshape(L.shape[:-1] + (n,))


def mixture_temperatures(taus: Sequence[float], n: int) -> np.ndarray:
    """Temperatures of an ``n``-candidate pool spread round-robin over ``taus``."""
    n = _check_n(n)
    taus = [_check_tau(t) for t in taus]
    if not taus:
        raise ValueError("taus must not be empty.")
    return np.array([taus[j % len(taus)] for j in range(n)])


def hedged_pool(sample_fn: Callable[[float, int], list], n: int = 5, temperature: float = 0.7,
                include_greedy: bool = True) -> list:
    """Pool of ``n`` outputs: the greedy one first (``sample_fn(0, 1)``), then ``n - 1`` at ``tau``.

    ``sample_fn(tau, k)`` must return ``k`` outputs. Without ``include_greedy`` all ``n`` are
    sampled at ``tau`` (the single-temperature pool).
    """
    n = _check_n(n)
    tau = _check_tau(temperature)
    if not callable(sample_fn):
        raise TypeError("sample_fn must be callable (tau, k) -> list of k outputs.")
    pool = list(sample_fn(0.0, 1)) if include_greedy else []
    if len(pool) > 1:
        raise ValueError("sample_fn(0, 1) must return exactly one output.")
    k = n - len(pool)
    if k > 0:
        more = list(sample_fn(tau, k))
        if len(more) != k:
            raise ValueError(f"sample_fn(tau, {k}) returned {len(more)} outputs.")
        pool += more
    return pool


@dataclass(frozen=True)
class HopeRisk:
    hope: float
    risk: float
    rel_hope: float
    rel_risk: float


def hope_and_risk(quality, greedy_quality) -> HopeRisk:
    """Best/worst pool member relative to the greedy output, absolute and relative to its mean."""
    q = np.asarray(quality, dtype=float)
    g = np.asarray(greedy_quality, dtype=float)
    if q.ndim != 2 or g.shape != (q.shape[0],):
        raise ValueError(f"quality must be (Q, N) and greedy_quality (Q,), got {q.shape} and {g.shape}.")
    hope = float(np.mean(q.max(axis=1) - g))
    risk = float(np.mean(q.min(axis=1) - g))
    base = float(g.mean())
    return HopeRisk(hope, risk, hope / base if base else float("nan"), risk / base if base else float("nan"))
