"""Static rankings of models over many benchmarks: the baselines of Swiss-system CSD.

Liu et al., "LLM Swiss Round: Aggregating Multi-Benchmark Performance via
Competitive Swiss-System Dynamics" (arXiv:2512.21010, 2025) compare their
tournament with "static scoring" (the mean score; the mean rank, i.e. Borda /
Friedman average rank) and "static pairwise models" (Bradley-Terry and Elo on
the pairwise outcomes of every benchmark). All take a score matrix of shape
(M models, K benchmarks), higher is better, and return one value per model.

* Bradley-Terry (Bradley & Terry, 1952) by Hunter's (2004) MM iterations on
  the aggregated win counts ``w_ij = sum_k W[i, j, k]`` (ties 0.5 each):
  ``p_i <- sum_j w'_ij / sum_{j != i} n'_ij / (p_i + p_j)`` with
  ``w'_ij = w_ij + a`` (``a = 0.01`` pseudo-wins in each direction of every
  pair, choix's ``alpha``, which keeps an undefeated model finite), normalised
  to geometric mean 1, until ``max |d log p| < 1e-10``.
* Elo (Elo, 1978): every (benchmark, pair) match in a random order, K-factor 4,
  initial rating 1000, scale 400, averaged over 100 random orders.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from diversa.evaluate.ranks import average_ranks
from diversa.evaluate.tournament import ranks_of, validate_scores, win_tensor

__all__ = [
    "StaticRankings",
    "bradley_terry",
    "elo_ratings",
    "mean_rank",
    "mean_score",
    "pairwise_wins",
    "static_rankings",
]


def mean_score(scores) -> np.ndarray:
    """Unweighted mean over benchmarks, shape (M,): the "simple average" of arXiv:2512.21010."""
    scores, _, _ = validate_scores(scores)
    return scores.mean(axis=1)


def mean_rank(scores) -> np.ndarray:
    """Average rank over benchmarks (1 = best, ties averaged), shape (M,); lower is better.

    The Borda/Friedman average rank, via :func:`diversa.evaluate.ranks.average_ranks`.
    """
    scores, _, _ = validate_scores(scores)
    if scores.shape[1] == 1:  # average_ranks needs two datasets; one benchmark is its own ranking
        return stats.rankdata(-scores[:, 0])
    return average_ranks(scores.T)


def pairwise_wins(scores) -> np.ndarray:
    """``w[i, j]``: benchmarks on which model i beats j, ties counting 0.5 each, shape (M, M)."""
    return win_tensor(scores, tie="half").sum(axis=2, dtype=np.float64)


def bradley_terry(wins, prior: float = 0.01, tol: float = 1e-10, max_iter: int = 100_000) -> np.ndarray:
    """Bradley-Terry strengths from a pairwise win-count matrix, shape (M,), geometric mean 1.

    Parameters
    ----------
    wins : (M, M) ``w[i, j]`` wins of i over j (e.g. :func:`pairwise_wins`).
    prior : pseudo-wins added in each direction of every pair (> 0 keeps the MLE finite).
    tol : stop when the largest change of a log-strength is below ``tol``.
    """
    wins = np.asarray(wins, dtype=float)
    if wins.ndim != 2 or wins.shape[0] != wins.shape[1] or wins.shape[0] < 2:
        raise ValueError(f"wins must be a square (M, M) matrix with M >= 2, got shape {wins.shape}.")
    if not np.all(np.isfinite(wins)) or wins.min() < 0:
        raise ValueError("wins must be finite and non-negative.")
    if prior < 0:
        raise ValueError(f"prior must be >= 0, got {prior}.")
    w = wins + prior
    np.fill_diagonal(w, 0.0)
    games = w + w.T
    total_wins = w.sum(axis=1)
    p = np.ones(len(w))
    for _ in range(max_iter):
        denominator = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = total_wins / denominator
        new /= np.exp(np.mean(np.log(new)))
        change = np.max(np.abs(np.log(new) - np.log(p)))
        p = new
        if change < tol:
            break
    return p


def _matches(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (benchmark, i < j) match: i, j and i's result (1 win, 0 loss, 0.5 tie)."""
    m, k = scores.shape
    i, j = np.triu_indices(m, 1)
    diff = scores[i] - scores[j]  # (n_pairs, K)
    outcome = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
    return np.repeat(i, k), np.repeat(j, k), outcome.ravel()


def elo_ratings(scores, k_factor: float = 4.0, initial: float = 1000.0, scale: float = 400.0,
                n_permutations: int = 100, random_state=0) -> np.ndarray:
    """Elo ratings from every pairwise match on every benchmark, averaged over random orders, shape (M,).

    Each of the ``n_permutations`` orders is played sequentially (Elo depends
    on the order); the orders run side by side as vectors.
    """
    scores, _, _ = validate_scores(scores)
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}.")
    m = scores.shape[0]
    first, second, outcome = _matches(scores)
    rng = np.random.default_rng(random_state)
    orders = np.argsort(rng.random((len(outcome), n_permutations)), axis=0)  # column = one order
    offset = np.arange(n_permutations) * m
    rating = np.full(n_permutations * m, float(initial))
    for step in orders:
        a, b = offset + first[step], offset + second[step]
        expected = 1.0 / (1.0 + 10.0 ** ((rating[b] - rating[a]) / scale))
        delta = k_factor * (outcome[step] - expected)
        rating[a] += delta
        rating[b] -= delta
    return rating.reshape(n_permutations, m).mean(axis=0)


class StaticRankings(NamedTuple):
    """The static baselines of arXiv:2512.21010, one (M,) vector each.

    ``mean_score``, ``bradley_terry`` and ``elo``: higher is better;
    ``mean_rank``: lower is better. :meth:`ranks` turns them into positions.
    """

    mean_score: np.ndarray
    mean_rank: np.ndarray
    bradley_terry: np.ndarray
    elo: np.ndarray

    def ranks(self) -> dict[str, np.ndarray]:
        """Rank position of every model (1 = best, ties averaged) under each baseline."""
        return {"mean_score": ranks_of(self.mean_score), "mean_rank": ranks_of(self.mean_rank, False),
                "bradley_terry": ranks_of(self.bradley_terry), "elo": ranks_of(self.elo)}


def static_rankings(scores, random_state=0) -> StaticRankings:
    """All four static baselines for a score matrix (M, K); ``random_state`` seeds Elo's orders."""
    scores, _, _ = validate_scores(scores)
    return StaticRankings(mean_score(scores), mean_rank(scores), bradley_terry(pairwise_wins(scores)),
                          elo_ratings(scores, random_state=random_state))
