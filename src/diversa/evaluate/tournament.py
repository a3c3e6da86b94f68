"""Competitive Swiss-System Dynamics: ranking models by a Monte Carlo Swiss tournament over benchmarks.

Liu, Wu, Wu, Liu, Wang, Zhou, Huang, Namkoong, "LLM Swiss Round: Aggregating
Multi-Benchmark Performance via Competitive Swiss-System Dynamics"
(arXiv:2512.21010, 2025).

Averaging heterogeneous benchmarks needs arbitrary weights and hides how a
model fares in a sequence of high-stakes contests. CSD turns a score matrix
``X`` (M models x K benchmarks, higher is better, columns in a curated order
from foundational to advanced) into a Swiss tournament: round k is played on
benchmark k, a match between a and b is won by the model with the higher score
on that benchmark, and models are paired with others holding the same number of
wins. Monte Carlo over the pairing randomness gives each model's **Expected Win
Score** ``E[S_m]``, the ranking statistic. Eliminating ``T_k`` of the
lowest-scoring models after round k adds path-dependent pressure; sweeping
``T`` (Failure Sensitivity Analysis, :func:`failure_sensitivity`) separates
robust generalists from aggressive specialists.

Points the paper's public text leaves open, with our resolution (spec
``evaluate.md#swiss-csd``):

* pairing ``"within_group"`` (default, the literal reading): each score group is
  shuffled and paired consecutively; an odd group's leftover gets a bye worth 0,
  so a model alone in its group sits out the round. ``"float"`` is classic
  Swiss: the leftover floats down to meet the top of the next group.
* a tied match (equal scores) is settled by ``tie``: a fair coin (default),
  half a point each, or nothing.
* when fewer than ``T_k`` models share the lowest score, elimination spills
  into the next group (``spill=True``); never below ``min_active`` models; no
  elimination after the last round. Eliminated models keep their points.

The simulation itself, vectorised over all tournaments of a chunk, is
:mod:`diversa.evaluate.swiss_simulation`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import BaseEstimator

from diversa.evaluate.swiss_simulation import (
    ChunkTotals,
    SimulationPlan,
    match_tables,
    simulate_chunk,
)

__all__ = [
    "PAIRINGS",
    "FailureSensitivity",
    "RankIntervals",
    "SwissCSD",
    "WinScore",
    "bootstrap_rank_intervals",
    "csd_expected_win_score",
    "failure_sensitivity",
    "periodic_elimination",
    "ranks_of",
    "validate_scores",
    "win_tensor",
]

#: The pairing rules of :class:`SwissCSD`: the paper's literal reading first, classic Swiss second.
PAIRINGS = ("within_group", "float")
TIES = ("coin", "half", "none")


def _names(names, n: int, default: str, argument: str) -> list[str]:
    if names is None:
        return [f"{default}{i}" for i in range(n)]
    names = [str(name) for name in names]
    if len(names) != n:
        raise ValueError(f"{argument} has {len(names)} entries, expected {n}.")
    return names


def validate_scores(scores, model_names=None, benchmark_names=None) -> tuple[np.ndarray, list[str], list[str]]:
    """Check a score matrix (M models x K benchmarks) and return it as float with the names.

    A pandas DataFrame gives the default names (index: models, columns:
    benchmarks). Raises ``ValueError`` for a matrix that is not 2-D or has
    fewer than 2 models or no benchmark, and for a missing (NaN) or infinite
    score, naming the model and the benchmark: CSD needs every model scored on
    every benchmark (arXiv:2512.21010 compares complete leaderboards).
    """
    if hasattr(scores, "columns") and hasattr(scores, "index"):  # a DataFrame names its rows and columns
        model_names = list(scores.index) if model_names is None else model_names
        benchmark_names = list(scores.columns) if benchmark_names is None else benchmark_names
    try:
        scores = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scores must be numeric: {exc}") from None
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_models, n_benchmarks), got shape {scores.shape}.")
    if scores.shape[0] < 2:
        raise ValueError(f"scores needs at least 2 models (rows), got {scores.shape[0]}.")
    if scores.shape[1] < 1:
        raise ValueError("scores needs at least 1 benchmark (column), got 0.")
    models = _names(model_names, scores.shape[0], "model", "model_names")
    benchmarks = _names(benchmark_names, scores.shape[1], "benchmark", "benchmark_names")
    bad = np.argwhere(~np.isfinite(scores))
    if bad.size:
        i, k = bad[0]
        raise ValueError(f"score of model {models[i]!r} on benchmark {benchmarks[k]!r} is {scores[i, k]} "
                         f"({len(bad)} missing or infinite in all); CSD needs every model scored on every benchmark.")
    return scores, models, benchmarks


def win_tensor(scores, higher_is_better: bool = True, tie: str = "none") -> np.ndarray:
    """Pairwise outcomes per benchmark, ``W[i, j, k] = 1`` if model i beats j on benchmark k.

    Step 1 of CSD (arXiv:2512.21010). Ties give ``W[i, j, k] = W[j, i, k] = 0``
    with ``tie="none"`` (the tournament then settles them by its own ``tie``
    rule) or 0.5 each with ``tie="half"`` (for aggregated win counts, as in the
    Bradley-Terry baseline). The diagonal is 0.

    Parameters
    ----------
    scores : array-like of shape (M, K).
    higher_is_better : False for errors or losses.

    Returns
    -------
    ndarray of shape (M, M, K), float32.
    """
    if tie not in ("none", "half"):
        raise ValueError(f"tie must be 'none' or 'half', got {tie!r}.")
    scores, _, _ = validate_scores(scores)
    if not higher_is_better:
        scores = -scores
    diff = scores[:, None, :] - scores[None, :, :]
    wins = (diff > 0).astype(np.float32)
    if tie == "half":
        wins += np.float32(0.5) * (diff == 0)
        wins[np.arange(len(scores)), np.arange(len(scores))] = 0.0
    return wins


def _validate_probabilistic(wins) -> np.ndarray:
    wins = np.asarray(wins, dtype=float)
    if wins.ndim != 3 or wins.shape[0] != wins.shape[1]:
        raise ValueError(f"a win tensor must have shape (M, M, K), got {wins.shape}.")
    if wins.shape[0] < 2 or wins.shape[2] < 1:
        raise ValueError(f"a win tensor needs at least 2 models and 1 benchmark, got shape {wins.shape}.")
    if not np.all(np.isfinite(wins)) or wins.min() < 0 or wins.max() > 1:
        raise ValueError("win tensor entries must be finite probabilities in [0, 1].")
    total = wins + wins.transpose(1, 0, 2)
    tied = (wins == 0) & (wins.transpose(1, 0, 2) == 0)
    bad = ~(np.isclose(total, 1.0, atol=1e-6) | tied)
    bad[np.arange(len(wins)), np.arange(len(wins))] = False
    if bad.any():
        i, j, k = np.argwhere(bad)[0]
        raise ValueError(f"win tensor: W[{i},{j},{k}] + W[{j},{i},{k}] = {total[i, j, k]:g}; each pair must "
                         "sum to 1 (a win probability) or be 0 for both (a tie).")
    return wins


def _elimination_schedule(elimination, n_rounds: int) -> np.ndarray:
    """``T`` as a length-K int vector; the entry of the last round is 0 (no effect there)."""
    schedule = np.asarray(elimination)
    if schedule.ndim == 0:
        schedule = np.full(n_rounds, schedule)
    if schedule.ndim != 1 or schedule.size != n_rounds:
        raise ValueError(f"elimination must be an int or a vector of length {n_rounds} (one per round), "
                         f"got shape {schedule.shape}.")
    if not np.issubdtype(schedule.dtype, np.number) or np.any(schedule != np.round(schedule)) or np.any(schedule < 0):
        raise ValueError(f"elimination counts must be non-negative integers, got {schedule.tolist()}.")
    schedule = schedule.astype(np.int64)
    schedule[-1] = 0
    return schedule


def periodic_elimination(n_rounds: int, every: int = 2, count: int = 1, first: int = 1) -> np.ndarray:
    """An elimination schedule ``T`` (K,) removing ``count`` models after rounds ``first, first + every, ...``.

    Rounds are 1-based; the last round never eliminates (it would have no
    effect). With 38 rounds the default eliminates after rounds 1, 3, ..., 37:
    19 of 29 models, keeping the spec's ``sum T_k < M - 2``
    (arXiv:2512.21010, Failure Sensitivity Analysis).
    """
    n_rounds = _check_int("n_rounds", n_rounds, 1)
    every = _check_int("every", every, 1)
    count = _check_int("count", count, 0)
    first = _check_int("first", first, 1)
    schedule = np.zeros(n_rounds, dtype=np.int64)
    schedule[first - 1::every] = count
    schedule[-1] = 0
    return schedule


def _seed_sequence(random_state) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.SeedSequence(random_state)
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(int(random_state.randint(2**31 - 1)))
    raise ValueError(f"random_state must be None, an int, a SeedSequence, a Generator or a RandomState, "
                     f"got {random_state!r}.")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


class SwissCSD(BaseEstimator):
    """Expected Win Scores of M models from a Monte Carlo Swiss tournament over K benchmarks.

    Competitive Swiss-System Dynamics (arXiv:2512.21010): each simulation plays
    one Swiss round per benchmark in the given order, pairing models with equal
    accumulated wins; after round k the ``T_k`` lowest-scoring models are
    eliminated. ``n_sims`` simulations run in chunks of ``batch_size``, each
    chunk with its own child of ``SeedSequence(random_state)``, so results do
    not depend on ``n_jobs`` (same ``random_state`` and ``batch_size`` give
    bit-identical results).

    Parameters
    ----------
    n_sims : number of simulated tournaments (the paper uses 100,000).
    elimination : ``T``, an int (same every round) or a length-K vector.
    pairing : "within_group" (odd group's leftover gets a bye) or "float" (classic Swiss).
    tie : settles a match between equal scores: "coin", "half" (0.5 each) or "none".
    spill : eliminate from the next-lowest group when the lowest has fewer than ``T_k``.
    min_active : elimination never leaves fewer active models.
    order : None (columns in the given order), a permutation of the K columns, or
        "random" (a new order per simulation: an ablation, not the paper's method).
    batch_size : simulations per chunk (memory is O(batch_size * M)).
    keep_samples : keep the (n_sims, M) final scores in ``final_scores_``.
    n_jobs : joblib workers over chunks.

    Attributes
    ----------
    expected_win_score_ : (M,) E[S_m], the ranking statistic.
    score_std_, mc_se_ : (M,) standard deviation of S_m and its Monte Carlo standard error sd/sqrt(N).
    ranking_ : (M,) model indices, best first.
    rank_probs_ : (M, M) P(model m finishes at rank r+1), ties split equally.
    win_prob_ : (M,) P(rank 1), ties split. expected_rank_ : (M,) E[rank].
    survival_ : (M, K) P(still active after round k+1). mean_rounds_played_ : (M,).
    mean_matches_ : mean number of matches per tournament.
    order_ : (K,) benchmark index of each round (None for "random"). schedule_ : (K,) ``T``.
    model_names_, benchmark_names_ : lists of names.
    """

    def __init__(self, n_sims=100_000, elimination=0, pairing="within_group", tie="coin", spill=True,
                 min_active=2, order=None, batch_size=20_000, keep_samples=False, n_jobs=None,
                 random_state=None):
        self.n_sims = n_sims
        self.elimination = elimination
        self.pairing = pairing
        self.tie = tie
        self.spill = spill
        self.min_active = min_active
        self.order = order
        self.batch_size = batch_size
        self.keep_samples = keep_samples
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y=None, *, model_names=None, benchmark_names=None) -> SwissCSD:
        """Run the tournaments.

        Parameters
        ----------
        X : scores of shape (M, K), higher is better, columns in round order;
            or a win tensor of shape (M, M, K) with ``W[i, j, k]`` the probability
            that i beats j on benchmark k (``W + W^T = 1`` off the diagonal, or 0
            for both members of a tied pair).
        y : ignored (scikit-learn convention).
        """
        n_sims = _check_int("n_sims", self.n_sims, 1)
        batch_size = _check_int("batch_size", self.batch_size, 1)
        plan, names = self._plan(X, model_names, benchmark_names)
        seeds = _seed_sequence(self.random_state).spawn(-(-n_sims // batch_size))
        sizes = [min(batch_size, n_sims - i * batch_size) for i in range(len(seeds))]
        chunks = Parallel(n_jobs=self.n_jobs)(
            delayed(simulate_chunk)(plan, size, seed, bool(self.keep_samples)) for size, seed in zip(sizes, seeds))
        self.model_names_, self.benchmark_names_ = names
        self.order_, self.schedule_ = plan.order, plan.schedule
        self._summarize(chunks, n_sims, plan)
        return self

    def _plan(self, X, model_names, benchmark_names) -> tuple[SimulationPlan, tuple[list[str], list[str]]]:
        if self.pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {self.pairing!r}.")
        if self.tie not in TIES:
            raise ValueError(f"tie must be one of {TIES}, got {self.tie!r}.")
        if np.ndim(X) == 3:
            wins = _validate_probabilistic(X)
            m, k = wins.shape[0], wins.shape[2]
            names = (_names(model_names, m, "model", "model_names"),
                     _names(benchmark_names, k, "benchmark", "benchmark_names"))
        else:
            scores, *names = validate_scores(X, model_names, benchmark_names)
            wins = win_tensor(scores)
            m, k = scores.shape
        min_active = _check_int("min_active", self.min_active, 1)
        points_a, points_b, prob = match_tables(wins, self.tie)
        plan = SimulationPlan(m, k, self._round_order(k), _elimination_schedule(self.elimination, k),
                              self.pairing, bool(self.spill), min_active, points_a, points_b, prob)
        if plan.random_bits < 24:
            raise ValueError(f"{m} models x {k} benchmarks leave too few random bits for the packed sort key.")
        return plan, tuple(names)

    def _round_order(self, n_benchmarks: int) -> np.ndarray | None:
        if self.order is None:
            return np.arange(n_benchmarks)
        if isinstance(self.order, str):
            if self.order != "random":
                raise ValueError(f"order must be None, a permutation or 'random', got {self.order!r}.")
            return None
        order = np.asarray(self.order)
        if order.ndim != 1 or sorted(order.tolist()) != list(range(n_benchmarks)):
            raise ValueError(f"order must be a permutation of 0..{n_benchmarks - 1}, got {order.tolist()}.")
        return order.astype(np.int64)

    def _summarize(self, chunks: list[ChunkTotals], n_sims: int, plan: SimulationPlan) -> None:
        sum2 = sum(c.sum_points2 for c in chunks)
        sum2_sq = sum(c.sum_points2_sq for c in chunks)
        mean = sum2 / (2.0 * n_sims)
        variance = np.maximum(sum2_sq / (4.0 * n_sims) - mean**2, 0.0) * (n_sims / max(n_sims - 1, 1))
        self.n_models_, self.n_benchmarks_ = plan.n_models, plan.n_rounds
        self.expected_win_score_ = mean
        self.score_std_ = np.sqrt(variance)
        self.mc_se_ = self.score_std_ / np.sqrt(n_sims)
        self.ranking_ = np.argsort(-mean, kind="stable")
        self.rank_probs_ = sum(c.rank_mass for c in chunks) / n_sims
        self.win_prob_ = self.rank_probs_[:, 0]
        self.expected_rank_ = self.rank_probs_ @ np.arange(1, plan.n_models + 1)
        eliminated = sum(c.eliminated for c in chunks)
        self.survival_ = 1.0 - np.cumsum(eliminated, axis=1) / n_sims
        self.mean_rounds_played_ = self.survival_[:, :-1].sum(axis=1) + 1.0
        self.mean_matches_ = sum(c.n_matches for c in chunks) / n_sims
        self.final_scores_ = np.concatenate([c.samples for c in chunks]) if self.keep_samples else None


class WinScore(NamedTuple):
    """Expected Win Scores (M,) of arXiv:2512.21010 and their Monte Carlo standard errors (M,).

    Unpacks as ``E, se = csd_expected_win_score(...)``.
    """

    expected: np.ndarray
    mc_se: np.ndarray


def csd_expected_win_score(X, elimination=0, n_sims: int = 100_000, **kwargs) -> WinScore:
    """E[S_m] (M,) and its Monte Carlo SE (M,) of :class:`SwissCSD` on scores (M, K) or a win tensor.

    ``kwargs`` go to :class:`SwissCSD` (pairing, tie, random_state, n_jobs, ...).
    arXiv:2512.21010, the Expected Win Score.
    """
    model = SwissCSD(n_sims=n_sims, elimination=elimination, **kwargs).fit(X)
    return WinScore(model.expected_win_score_, model.mc_se_)


def ranks_of(values, higher_is_better: bool = True) -> np.ndarray:
    """Rank positions (1 = best, ties averaged) of a vector of model scores, shape (M,)."""
    values = np.asarray(values, dtype=float)
    return stats.rankdata(-values if higher_is_better else values)


@dataclass(frozen=True)
class FailureSensitivity:
    """Failure Sensitivity Analysis of arXiv:2512.21010: E[S_m] under several elimination schedules.

    ``expected`` and ``mc_se`` (n_schedules, M); ``retention`` ``E(T) / E(reference)``
    and ``drop`` ``E(reference) - E(T)`` (n_schedules, M); ``rank`` (n_schedules,
    M) positions (1 = best); ``profile`` (M, 2): ``E(reference)`` and the
    retention under ``profile_schedule``, the paper's two-dimensional plot.
    High E and high retention mark a robust generalist, high E and low
    retention an aggressive specialist. The paper's exact sensitivity index is
    not public; retention and drop are our resolution.
    """

    schedules: tuple
    model_names: list[str]
    expected: np.ndarray
    mc_se: np.ndarray
    retention: np.ndarray
    drop: np.ndarray
    rank: np.ndarray
    reference: int
    profile_schedule: int

    @property
    def profile(self) -> np.ndarray:
        return np.column_stack([self.expected[self.reference], self.retention[self.profile_schedule]])

    def labels(self) -> list[str]:
        """Quadrant of each model in the profile, split at the medians of E and retention."""
        e, rho = self.profile.T
        high_e, high_rho = e >= np.median(e), rho >= np.median(rho)
        names = {(True, True): "robust generalist", (True, False): "aggressive specialist",
                 (False, True): "lower tier, robust", (False, False): "lower tier, fragile"}
        return [names[(bool(a), bool(b))] for a, b in zip(high_e, high_rho)]


def failure_sensitivity(X, schedules=(0, 1, 2), reference: int = 0, profile_schedule: int | None = None,
                        model_names=None, **kwargs) -> FailureSensitivity:
    """E[S_m] for each elimination schedule ``T`` (int or length-K vector) with one shared seed.

    ``reference`` and ``profile_schedule`` index ``schedules`` (the profile
    defaults to the first schedule after the reference). ``kwargs`` go to
    :class:`SwissCSD`. arXiv:2512.21010, Failure Sensitivity Analysis.
    """
    schedules = tuple(schedules)
    if not schedules:
        raise ValueError("schedules must not be empty.")
    if not 0 <= reference < len(schedules):
        raise ValueError(f"reference must index schedules (0..{len(schedules) - 1}), got {reference}.")
    if profile_schedule is None:
        profile_schedule = (reference + 1) % len(schedules)
    fits = [SwissCSD(elimination=t, **kwargs).fit(X, model_names=model_names) for t in schedules]
    expected = np.array([f.expected_win_score_ for f in fits])
    base = expected[reference]
    with np.errstate(divide="ignore", invalid="ignore"):
        retention = np.where(base > 0, expected / np.where(base > 0, base, 1.0), np.nan)
    return FailureSensitivity(schedules, fits[0].model_names_, expected, np.array([f.mc_se_ for f in fits]),
                              retention, base - expected, np.array([ranks_of(e) for e in expected]),
                              reference, profile_schedule)


class RankIntervals(NamedTuple):
    """Percentile intervals of each model's CSD rank (arXiv:2512.21010) over benchmark bootstraps.

    ``low`` and ``high`` (M,) rank bounds (1 = best); ``ranks`` (n_boot, M) the bootstrap ranks.
    """

    low: np.ndarray
    high: np.ndarray
    ranks: np.ndarray


def bootstrap_rank_intervals(scores, n_boot: int = 200, confidence: float = 0.9, n_sims: int = 5_000,
                             random_state=None, **kwargs) -> RankIntervals:
    """Confidence intervals of CSD ranks from resampling the benchmarks, shapes (M,).

    Each replicate draws K benchmark columns with replacement and keeps them
    in their curated order (the tournament depends on the order), then ranks
    the models by Expected Win Score from ``n_sims`` tournaments. This is the
    benchmark-sampling uncertainty arXiv:2512.21010's single leaderboard does
    not show; Monte Carlo error is the smaller, separate ``mc_se_``.
    ``kwargs`` go to :class:`SwissCSD`.
    """
    scores, _, _ = validate_scores(scores)
    n_boot = _check_int("n_boot", n_boot, 1)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}.")
    seeds = _seed_sequence(random_state).spawn(2)
    rng = np.random.default_rng(seeds[0])
    k = scores.shape[1]
    columns = np.sort(rng.integers(0, k, size=(n_boot, k)), axis=1)
    fit_seeds = seeds[1].spawn(n_boot)
    ranks = np.array([ranks_of(SwissCSD(n_sims=n_sims, random_state=seed, **kwargs)
                               .fit(scores[:, cols]).expected_win_score_)
                      for cols, seed in zip(columns, fit_seeds)])
    tail = 100 * (1 - confidence) / 2
    return RankIntervals(np.percentile(ranks, tail, axis=0), np.percentile(ranks, 100 - tail, axis=0), ranks)
