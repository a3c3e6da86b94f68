"""Selecting one candidate from a pool: best-of-n, MBR, X-MBR, CHOPs, pointwise judge, baselines.

Khairi et al., "When Life Gives You Samples: The Benefits of Scaling up Inference Compute for
Multilingual LLMs", arXiv:2506.20544 (spec ``ensemble.md#llmonade``, Algorithm step 4-5). All
selectors work on any candidate list given scores or pairwise utilities, are vectorised over
queries and return :class:`SelectResult` ``(index (Q,), n_calls)``.

* :func:`best_of_n` -- argmax of a scorer (reward model); N calls per query.
* :func:`mbr_select` -- minimum Bayes risk: ``score_j = mean_{e in E, e != h_j} u(h_j, e)``
  (``include_self=False`` default, dividing by ``|E| - 1``; ``include_self=True`` averages over all
  of E as ``mbrs`` does). The utility is a ``(Q, N, E)`` array or a callable ``u(i, j, k)``.
* :func:`x_mbr_select` -- cross-lingual MBR: candidates are only the target-language pool, the
  evidence adds M samples from another language; evidence is never selected.
* :func:`chops_select` -- checklist one-pass selection: one judge call per query whatever N.
* :func:`pointwise_judge_select`, :func:`random_select`, :func:`win_rate`, :func:`pass_at_n`;
  :func:`select_argmax`, :func:`majority_vote_select`, :func:`first_sample_select` and
  :func:`selection_accuracy` are re-exported from :mod:`diversa.combine.verifiers`.

Ragged pools (a list of per-query arrays) are padded with NaN and masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diversa.combine.verifiers.normalize import pad_pools
from diversa.combine.verifiers.weaver import (
    first_sample_select,
    majority_vote_select,
    select_argmax,
    selection_accuracy,
)

__all__ = [
    "SelectResult",
    "best_of_n",
    "chops_select",
    "first_sample_select",
    "majority_vote_select",
    "mbr_select",
    "pass_at_n",
    "pointwise_judge_select",
    "random_select",
    "select_argmax",
    "selection_accuracy",
    "win_rate",
    "x_mbr_select",
]


@dataclass(frozen=True)
class SelectResult:
    index: np.ndarray  # (Q,)
    n_calls: int


def best_of_n(rewards, tie_break: str = "first") -> SelectResult:
    """Argmax of per-candidate rewards ``(Q, N)`` (or a list of ``(N_i,)``); one call per candidate."""
    R, valid, _ = pad_pools(rewards, name="rewards", ndim_item=1)
    return SelectResult(select_argmax(np.where(valid, R, np.nan), tie_break=tie_break), int(valid.sum()))


def pointwise_judge_select(ratings) -> SelectResult:
    """Argmax of independent per-candidate judge ratings; one call per candidate."""
    return best_of_n(ratings)


def random_select(n_candidates, random_state=None) -> SelectResult:
    """A uniformly random candidate per query (``n_candidates`` int per query array)."""
    n = np.asarray(n_candidates, dtype=int)
    if n.ndim != 1 or np.any(n < 1):
        raise ValueError("n_candidates must be a 1-D array of ints >= 1.")
    rng = np.random.default_rng(random_state)
    return SelectResult(np.floor(rng.random(n.size) * n).astype(int), 0)


def _utility_array(utility, shape):
    if callable(utility):
        if shape is None or len(shape) != 3:
            raise ValueError("shape=(Q, N, E) is required when utility is a callable.")
        Q, N, E = (int(s) for s in shape)
        return np.array([[[utility(i, j, k) for k in range(E)] for j in range(N)] for i in range(Q)], dtype=float), \
            np.ones((Q, N), dtype=bool)
    U, valid, _ = pad_pools(utility, name="utility", ndim_item=2)
    return U, valid


def _self_mask(N, E, evidence_is_candidate):
    """(N, E) bool: True where evidence column k is candidate j itself."""
    if evidence_is_candidate is None:
        return np.eye(N, E, dtype=bool) if E == N else np.zeros((N, E), dtype=bool)
    m = np.asarray(evidence_is_candidate, dtype=bool)
    if m.shape != (E,) or m.sum() != N:
        raise ValueError(f"evidence_is_candidate must be a bool mask of length {E} with {N} True entries.")
    out = np.zeros((N, E), dtype=bool)
    out[np.arange(N), np.flatnonzero(m)] = True
    return out


def mbr_select(utility, evidence_is_candidate=None, include_self: bool = False, shape=None) -> SelectResult:
    """Minimum-Bayes-risk selection from utilities ``u(h_j, e_k)`` of shape ``(Q, N, E)``.

    ``evidence_is_candidate`` marks the evidence columns that are the candidates themselves (in
    candidate order); None means evidence = candidates when ``E == N`` and disjoint otherwise.
    """
    U, valid = _utility_array(utility, shape)
    _Q, N, E = U.shape
    selfm = _self_mask(N, E, evidence_is_candidate)
    ev_valid = np.isfinite(U) & valid[:, :, None]
    use = ev_valid if include_self else ev_valid & ~selfm[None]
    counts = use.sum(axis=2)
    if np.any(counts[valid] == 0):
        raise ValueError("utility: every candidate needs at least one evidence item besides itself.")
    score = np.where(use, U, 0.0).sum(axis=2) / np.maximum(counts, 1)
    score = np.where(valid, score, np.nan)
    return SelectResult(select_argmax(score), int(use.sum()))


def x_mbr_select(utility_same, utility_cross, include_self: bool = False) -> SelectResult:
    """MBR over candidates H with evidence H plus M cross-lingual samples.

    ``utility_same (Q, N, N)`` scores candidates against each other, ``utility_cross (Q, N, M)``
    against the extra evidence; with ``M = 0`` this is :func:`mbr_select`.
    """
    S = np.asarray(utility_same, dtype=float)
    C = np.asarray(utility_cross, dtype=float)
    if S.ndim != 3 or S.shape[1] != S.shape[2]:
        raise ValueError(f"utility_same must have shape (Q, N, N), got {S.shape}.")
    if C.ndim != 3 or C.shape[:2] != S.shape[:2]:
        raise ValueError(f"utility_cross must have shape (Q, N, M) = {S.shape[:2] + ('M',)}, got {C.shape}.")
    N = S.shape[1]
    mask = np.concatenate([np.ones(N, dtype=bool), np.zeros(C.shape[2], dtype=bool)])
    return mbr_select(np.concatenate([S, C], axis=2), evidence_is_candidate=mask, include_self=include_self)


def chops_select(judge, pool, n_items: int = 5) -> SelectResult:
    """CHOPs: per query one judge call scoring every candidate against a checklist; argmax.

    ``judge`` implements ``checklist_one_pass(pool, i, n_items) -> (N,)`` and counts its calls in
    ``n_calls`` (e.g. :class:`diversa.datasets.candidate_pools.SimulatedJudge`).
    """
    if not hasattr(judge, "checklist_one_pass"):
        raise TypeError("judge must implement checklist_one_pass(pool, i, n_items).")
    before = int(getattr(judge, "n_calls", 0))
    Q = int(np.asarray(pool.quality).shape[0])
    scores = np.stack([np.asarray(judge.checklist_one_pass(pool, i, n_items), dtype=float) for i in range(Q)])
    calls = int(getattr(judge, "n_calls", before + Q)) - before
    return SelectResult(select_argmax(scores), calls)


def win_rate(q_selected, q_reference) -> float:
    """``mean(1[q_sel > q_ref] + 0.5 * 1[q_sel == q_ref])``."""
    a = np.asarray(q_selected, dtype=float)
    b = np.asarray(q_reference, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"q_selected and q_reference must be 1-D of equal length, got {a.shape} and {b.shape}.")
    return float(np.mean((a > b) + 0.5 * (a == b)))


def pass_at_n(correct) -> float:
    """Fraction of queries with at least one correct candidate (oracle)."""
    C, valid, _ = pad_pools(correct, name="correct", ndim_item=1)
    return float(np.mean(np.any(np.where(valid, np.nan_to_num(C), 0) > 0, axis=1)))
