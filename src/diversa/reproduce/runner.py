"""Run reproductions over their seeds/folds in parallel and compute verdicts."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from diversa.reproduce.registry import Check, Reproduction, TrialResult, get
from diversa.reproduce.verdict import Verdict, decide, oriented_differences


@dataclass
class CheckResult:
    """One check's paired measurements and its computed verdict."""

    check: Check
    seeds: list[int]
    baseline_values: list[float]
    method_values: list[float]
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        c, v = self.check, self.verdict
        return {
            "name": c.name, "metric": c.metric, "baseline": c.baseline, "method": c.method,
            "direction": c.direction, "claim": c.claim, "paper": c.paper,
            "n": v.n, "baseline_mean": float(np.mean(self.baseline_values)),
            "method_mean": float(np.mean(self.method_values)),
            "mean_diff": v.mean_diff, "ci_low": v.ci_low, "ci_high": v.ci_high,
            "pvalue": v.pvalue, "verdict": v.verdict,
            "per_seed": [{"seed": s, "baseline": b, "method": m}
                         for s, b, m in zip(self.seeds, self.baseline_values, self.method_values)],
        }


@dataclass
class ReproductionResult:
    """All checks of one reproduction, with timing and per-seed diagnostics."""

    reproduction: Reproduction
    quick: bool
    checks: list[CheckResult]
    seconds: float
    diagnostics: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        r = self.reproduction
        return {
            "id": r.id, "title": r.title, "arxiv": r.arxiv, "claim": r.claim,
            "paper_result": r.paper_result, "setup": r.setup, "quick": self.quick,
            "seconds": self.seconds, "checks": [c.to_dict() for c in self.checks],
            "diagnostics": self.diagnostics,
        }


@contextlib.contextmanager
def single_threaded():
    """One BLAS and one torch thread inside a trial.

    Parallelism comes from processes across trials; on small models and data,
    intra-op threads only contend with each other (10-35x slower for tiny
    torch models on 2 cores).
    """
    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(previous)


def run_trial(reproduction_id: str, seed: int, quick: bool) -> tuple[str, int, TrialResult, float]:
    """Run one unit of a reproduction (the joblib task), timed, single-threaded."""
    reproduction = get(reproduction_id)
    start = time.perf_counter()
    with single_threaded():
        result = reproduction.run_trial(seed, quick)
    _validate_trial(reproduction, seed, result)
    return reproduction_id, seed, result, time.perf_counter() - start


def _validate_trial(reproduction: Reproduction, seed: int, result: TrialResult) -> None:
    expected = {check.name for check in reproduction.checks}
    if not isinstance(result, TrialResult) or set(result.pairs) != expected:
        got = sorted(result.pairs) if isinstance(result, TrialResult) else type(result).__name__
        raise RuntimeError(f"{reproduction.id} seed {seed}: trial must return a pair for each of {sorted(expected)}, got {got}.")
    for name, pair in result.pairs.items():
        if len(pair) != 2 or not all(math.isfinite(float(v)) for v in pair):
            raise RuntimeError(f"{reproduction.id} seed {seed}: check {name!r} gave a non-finite pair {pair!r}.")


def summarize(reproduction: Reproduction, quick: bool, trials: dict[int, TrialResult],
              seconds: float) -> ReproductionResult:
    """Pool the trials of one reproduction into per-check verdicts."""
    seeds = sorted(trials)
    checks = []
    for check in reproduction.checks:
        baseline = [float(trials[s].pairs[check.name][0]) for s in seeds]
        method = [float(trials[s].pairs[check.name][1]) for s in seeds]
        verdict = decide(oriented_differences(baseline, method, check.direction))
        checks.append(CheckResult(check, seeds, baseline, method, verdict))
    diagnostics = [{"seed": s, **dict(trials[s].diagnostics)} for s in seeds if trials[s].diagnostics]
    return ReproductionResult(reproduction, quick, checks, seconds, diagnostics)


def _run_in_parallel(tasks, quick: bool, n_jobs):
    """Trial outputs as they finish; all at the end on backends that cannot stream (e.g. Ray)."""
    jobs = [delayed(run_trial)(rid, seed, quick) for rid, seed in tasks]
    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    except ValueError as exc:
        if "return_as" not in str(exc):
            raise
        parallel = Parallel(n_jobs=n_jobs)
    return parallel(jobs)


def run_reproductions(
    ids: Sequence[str],
    *,
    quick: bool = True,
    n_seeds: int | None = None,
    n_jobs: int | None = 1,
    on_trial_done: Callable[[str], None] | None = None,
) -> list[ReproductionResult]:
    """Run every trial of the named reproductions and compute their verdicts.

    All trials of all reproductions form one pool of independent joblib tasks,
    so ``n_jobs`` workers stay busy across papers. The backend is the user's
    choice (``joblib.parallel_config(backend="ray")`` spreads it over a cluster).

    Parameters
    ----------
    ids : reproduction ids (see :func:`diversa.reproduce.registry.available_ids`).
    quick : use the quick-mode experiment size (each paper at most ~2 minutes).
    n_seeds : number of trials per reproduction (default: the reproduction's own).
    n_jobs : joblib workers (``-1`` for all cores).
    on_trial_done : called with the reproduction id after each trial (progress bars).
    """
    if n_seeds is not None and n_seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {n_seeds}.")
    reproductions = {rid: get(rid) for rid in dict.fromkeys(ids)}
    tasks = [(r.id, seed) for r in reproductions.values()
             for seed in range(n_seeds or r.n_trials(quick))]
    trials: dict[str, dict[int, TrialResult]] = defaultdict(dict)
    seconds: dict[str, float] = defaultdict(float)
    for rid, seed, result, elapsed in _run_in_parallel(tasks, quick, n_jobs):
        trials[rid][seed] = result
        seconds[rid] += elapsed
        if on_trial_done is not None:
            on_trial_done(rid)
    return [summarize(r, quick, trials[r.id], seconds[r.id]) for r in reproductions.values()]
