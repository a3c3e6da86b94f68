"""The vectorised Monte Carlo engine behind :class:`diversa.evaluate.tournament.SwissCSD`.

Liu et al., "LLM Swiss Round: Aggregating Multi-Benchmark Performance via
Competitive Swiss-System Dynamics" (arXiv:2512.21010, 2025), run N = 100,000
Swiss tournaments to average out pairing luck. Here a chunk of n simulations
advances round by round together; nothing loops over simulations.

State of one simulation: for each of its M slots a model id and a ``code``,
``tag * (2K + 1) + (2K - 2 S)`` where ``S`` is the model's score (in half
points) and ``tag`` is 0 while the model is active, else the round after which
it was eliminated. Smaller code = better, and every active model sorts before
every eliminated one. Each round packs ``code | 32 random bits | id`` into one
int64 key per slot and sorts every simulation's keys: that orders the models by
score, descending, in a uniformly random order inside each score group. Then

* the last ``T`` active slots are the lowest scorers, ties broken at random:
  the elimination that follows the previous round;
* ``"within_group"`` pairs adjacent slots of the same group (slot j starts a
  pair when j+1 has its code and j-1 did not start one with j), leaving a
  zero-point bye to an odd group's last member; ``"float"`` pairs slots
  (0, 1), (2, 3), ... of the active block;
* each pair reads its result from a per-benchmark table of (doubled) points.

After the sort the arrays are transposed to (M, n), so the per-slot recurrences
run over contiguous rows of n simulations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RANDOM_OUTCOME", "ChunkTotals", "SimulationPlan", "match_tables", "simulate_chunk"]

#: Marks, in a points table, a match whose result is a Bernoulli draw.
RANDOM_OUTCOME = -1


def match_tables(wins: np.ndarray, tie: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per benchmark and ordered pair (a, b): doubled points of a, of b, and P(a wins).

    ``wins`` has shape (M, M, K): ``W[a, b, k]`` is the probability that a
    beats b on benchmark k, 0 for both members of a tied pair. A tie is played
    as a fair coin (``tie="coin"``), half a point each (``"half"``) or nothing
    (``"none"``). Returns arrays of shape (K, M*M) indexed by ``a * M + b``:
    int8 points of a (:data:`RANDOM_OUTCOME` where the result is drawn), int8
    points of b, and float32 win probabilities. Points are doubled so half
    points stay integers.
    """
    m, _, k = wins.shape
    w = wins.transpose(2, 0, 1)  # (K, M, M): a round's gathers touch one contiguous table
    wt = w.transpose(0, 2, 1)
    tied = (w == 0) & (wt == 0)
    prob = np.where(tied, 0.5, w).astype(np.float32)
    random = ~tied & (prob > 0) & (prob < 1)
    if tie == "coin":
        random |= tied
    points_a = np.where(tied, 1 if tie == "half" else 0, 2 * (prob >= 1)).astype(np.int8)
    points_a[random] = RANDOM_OUTCOME
    points_a[:, np.arange(m), np.arange(m)] = 0  # a model never meets itself
    points_b = np.ascontiguousarray(points_a.transpose(0, 2, 1))
    return points_a.reshape(k, m * m), points_b.reshape(k, m * m), prob.reshape(k, m * m)


@dataclass(frozen=True)
class SimulationPlan:
    """Everything a chunk of simulations needs (picklable for joblib workers).

    ``order`` (K,) is the benchmark of each round, or None for a fresh random
    order per simulation; ``schedule`` (K,) the eliminations after each round;
    ``points_a``, ``points_b``, ``prob`` the tables of :func:`match_tables`.
    """

    n_models: int
    n_rounds: int
    order: np.ndarray | None
    schedule: np.ndarray
    pairing: str
    spill: bool
    min_active: int
    points_a: np.ndarray
    points_b: np.ndarray
    prob: np.ndarray

    @property
    def span(self) -> int:
        """Number of doubled scores 0..2K: one elimination tag's range of codes."""
        return 2 * self.n_rounds + 1

    @property
    def id_bits(self) -> int:
        return max(1, (self.n_models - 1).bit_length())

    @property
    def random_bits(self) -> int:
        """Random tie-break bits left in the 63-bit key (at most 32)."""
        code_bits = (self.n_rounds * self.span).bit_length()
        return min(32, 62 - code_bits - self.id_bits)


@dataclass
class ChunkTotals:
    """Sums over the n simulations of one chunk; chunks add up in a fixed order.

    ``sum_points2`` and ``sum_points2_sq`` (M,): sums of doubled final scores
    and of their squares; ``rank_mass`` (M, M): rank counts, tied models
    sharing their ranks equally; ``eliminated`` (M, K): eliminations after each
    round; ``n_matches``: matches played; ``samples`` (n, M) final scores or None.
    """

    n_sims: int
    sum_points2: np.ndarray
    sum_points2_sq: np.ndarray
    rank_mass: np.ndarray
    eliminated: np.ndarray
    n_matches: int
    samples: np.ndarray | None


def _eliminate(code, plan: SimulationPlan, after_round: int, n_eliminate: int) -> np.ndarray:
    """Tag the last active slots of each sorted column (M, n) as eliminated after ``after_round``."""
    span = plan.span
    active = code < span
    n_active = active.sum(axis=0)
    n_out = np.clip(n_active - plan.min_active, 0, n_eliminate)
    if not plan.spill:
        lowest = code[n_active - 1, np.arange(code.shape[1])]
        n_out = np.minimum(n_out, (code == lowest).sum(axis=0))
    slots = np.arange(plan.n_models)[:, None]
    out = (slots >= n_active - n_out) & active
    return code + out * (after_round * span)


def _pair_starts(code, plan: SimulationPlan) -> np.ndarray:
    """(M-1, n) bool: slot j plays slot j+1 this round (columns sorted by code)."""
    next_active = code[1:] < plan.span
    if plan.pairing == "float":
        return next_active & (np.arange(plan.n_models - 1) % 2 == 0)[:, None]
    same = (code[1:] == code[:-1]) & next_active
    starts = np.empty_like(same)
    starts[0] = same[0]
    for j in range(1, len(same)):
        np.greater(same[j], starts[j - 1], out=starts[j])  # same group, and j-1 did not take j
    return starts


def _play_round(code, ids, bench, plan: SimulationPlan, rng, random_round: bool) -> int:
    """Play the round's matches on benchmark ``bench`` (scalar or (n,)), updating ``code`` in place."""
    starts = _pair_starts(code, plan)
    m = plan.n_models
    flat = ids[:-1] * m + ids[1:]
    if np.ndim(bench):  # a random benchmark order: each simulation reads its own table
        flat += bench * (m * m)
        points_a, points_b, prob = plan.points_a.ravel(), plan.points_b.ravel(), plan.prob.ravel()
    else:
        points_a, points_b, prob = plan.points_a[bench], plan.points_b[bench], plan.prob[bench]
    gain_a, gain_b = points_a.take(flat), points_b.take(flat)
    if random_round:
        drawn = gain_a == RANDOM_OUTCOME
        win2 = (rng.random(flat.shape, dtype=np.float32) < prob.take(flat)).astype(np.int8) * 2
        gain_a = np.where(drawn, win2, gain_a)
        gain_b = np.where(drawn, 2 - win2, gain_b)
    code[:-1] -= gain_a * starts
    code[1:] -= gain_b * starts
    return int(np.count_nonzero(starts))


def simulate_chunk(plan: SimulationPlan, n_sims: int, seed, keep_samples: bool = False) -> ChunkTotals:
    """Run ``n_sims`` Swiss tournaments together and return their sums.

    ``seed`` is anything ``np.random.default_rng`` accepts (a ``SeedSequence``
    child per chunk). Memory is O(n_sims * M); time O(n_sims * K * M log M).
    """
    rng = np.random.default_rng(seed)
    m, k_rounds = plan.n_models, plan.n_rounds
    id_bits, random_bits = plan.id_bits, plan.random_bits
    shift = random_bits + id_bits
    ids = np.broadcast_to(np.arange(m, dtype=np.int64)[:, None], (m, n_sims))
    code = np.full((m, n_sims), 2 * k_rounds, dtype=np.int64)  # active, score 0
    benches = np.argsort(rng.random((k_rounds, n_sims)), axis=0) if plan.order is None else None
    random_tables = (plan.points_a == RANDOM_OUTCOME).any(axis=1)
    n_matches = 0
    for k in range(k_rounds):
        noise = rng.integers(0, 1 << random_bits, size=(m, n_sims), dtype=np.int64)
        key = ((code << shift) | (noise << id_bits) | ids).T.copy()  # rows = simulations, for the sort
        key.sort(axis=1)
        key = key.T.copy()
        ids, code = key & ((1 << id_bits) - 1), key >> shift
        if k > 0 and plan.schedule[k - 1] > 0:
            code = _eliminate(code, plan, k, int(plan.schedule[k - 1]))
        if benches is None:
            bench, random_round = int(plan.order[k]), bool(random_tables[plan.order[k]])
        else:
            bench, random_round = benches[k], bool(random_tables.any())
        n_matches += _play_round(code, ids, bench, plan, rng, random_round)
    return _totals(plan, code, ids, n_matches, keep_samples)


def _totals(plan: SimulationPlan, code, ids, n_matches: int, keep_samples: bool) -> ChunkTotals:
    m, k_rounds = plan.n_models, plan.n_rounds
    points2 = 2 * k_rounds - code % plan.span
    tag = code // plan.span
    sum_points2 = np.bincount(ids.ravel(), weights=points2.ravel(), minlength=m)
    sum_points2_sq = np.bincount(ids.ravel(), weights=(points2.astype(np.float64) ** 2).ravel(), minlength=m)
    eliminated = np.zeros((m, k_rounds), dtype=np.int64)
    out = tag > 0
    if out.any():
        eliminated += np.bincount(ids[out] * k_rounds + tag[out] - 1, minlength=m * k_rounds).reshape(m, k_rounds)
    samples = None
    if keep_samples:
        samples = np.empty((code.shape[1], m))
        samples[np.arange(code.shape[1]), ids] = points2 / 2.0
    return ChunkTotals(code.shape[1], sum_points2, sum_points2_sq, _rank_mass(points2, ids, plan),
                       eliminated, n_matches, samples)


def _rank_mass(points2, ids, plan: SimulationPlan) -> np.ndarray:
    """(M, M) count of each model at each final rank; tied models share their ranks equally."""
    m, id_bits = plan.n_models, plan.id_bits
    key = np.sort((((2 * plan.n_rounds - points2) << id_bits) | ids).T, axis=1).T.copy()
    ids_sorted, worse = key & ((1 << id_bits) - 1), key >> id_bits
    new_group = worse[1:] != worse[:-1]
    start = np.zeros(key.shape, dtype=np.int64)  # first slot of each slot's score group
    for j in range(1, m):
        start[j] = np.where(new_group[j - 1], j, start[j - 1])
    end = np.full(key.shape, m, dtype=np.int64)  # one past its last slot
    for j in range(m - 2, -1, -1):
        end[j] = np.where(new_group[j], j + 1, end[j + 1])
    share = 1.0 / (end - start)
    # Difference array over ranks: +share at the group's first rank, -share one past its last.
    index = np.concatenate([(ids_sorted * (m + 1) + start).ravel(), (ids_sorted * (m + 1) + end).ravel()])
    weights = np.concatenate([share.ravel(), -share.ravel()])
    diff = np.bincount(index, weights=weights, minlength=m * (m + 1)).reshape(m, m + 1)
    return np.cumsum(diff, axis=1)[:, :m]
