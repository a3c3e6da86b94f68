"""Run reproductions over their seeds/folds in parallel and compute verdicts."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from diversa.datasets.files import atomic_write_text
from diversa.reproduce.registry import Check, Reproduction, TrialResult, get
from diversa.reproduce.testbeds.cache import cache_root
from diversa.reproduce.verdict import Evidence, Judgement, judge, oriented_differences


@dataclass
class CheckResult:
    """One check's paired measurements and its computed outcome."""

    check: Check
    seeds: list[int]
    baseline_values: list[float]
    method_values: list[float]
    judgement: Judgement
    headline: bool = False

    @property
    def outcome(self) -> str:
        """The verdict of a claim, ``pass``/``fail`` of a mechanism or regime check."""
        return self.judgement.outcome

    @property
    def evidence(self) -> Evidence:
        return self.judgement.evidence

    def to_dict(self) -> dict[str, Any]:
        c, e = self.check, self.judgement.evidence
        return {
            "name": c.name, "kind": c.kind, "headline": self.headline, "metric": c.metric,
            "baseline": c.baseline, "method": c.method, "direction": c.direction, "margin": c.margin,
            "claim": c.claim, "paper": c.paper, "n": e.n, "test": e.test,
            "baseline_mean": float(np.mean(self.baseline_values)),
            "method_mean": float(np.mean(self.method_values)),
            "mean_diff": e.mean_diff, "ci_low": _json_number(e.ci_low), "ci_high": _json_number(e.ci_high),
            "pvalue": e.pvalue, "pvalue_adjusted": self.judgement.pvalue_adjusted,
            "pvalue_against": e.pvalue_against, "mde": _json_number(e.mde),
            ("verdict" if c.kind == "claim" else "outcome"): self.outcome,
            **({"applies_to": list(c.applies_to)} if c.applies_to else {}),
            "per_seed": [{"seed": s, "baseline": b, "method": m}
                         for s, b, m in zip(self.seeds, self.baseline_values, self.method_values)],
        }


def _json_number(x: float) -> float | str | None:
    """JSON has no infinity or NaN: spell them out."""
    if math.isnan(x):
        return None
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


@dataclass
class ReproductionResult:
    """All checks of one reproduction, with its paper-level verdict, timing and diagnostics."""

    reproduction: Reproduction
    quick: bool
    checks: list[CheckResult]
    seconds: float
    cpu_seconds: float = 0.0
    slowest_trial_seconds: float = 0.0
    diagnostics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headline(self) -> CheckResult:
        return next(c for c in self.checks if c.headline)

    @property
    def verdict(self) -> str:
        """The paper-level verdict: its headline claim's."""
        return self.headline.outcome

    def of_kind(self, kind: str) -> list[CheckResult]:
        return [c for c in self.checks if c.check.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        r = self.reproduction
        return {
            "id": r.id, "title": r.title, "arxiv": r.arxiv, "claim": r.claim,
            "paper_result": r.paper_result, "setup": r.setup, "quick": self.quick,
            "verdict": self.verdict, "headline": r.headline,
            "unit": {"kind": r.unit.kind, "description": r.unit.description,
                     **({"test_over_train": r.unit.test_over_train} if r.unit.kind == "resampled" else {})},
            "n_units": len(self.checks[0].seeds),
            "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
            "slowest_trial_seconds": self.slowest_trial_seconds,
            "checks": [c.to_dict() for c in self.checks],
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


def run_trial(reproduction_id: str, seed: int, quick: bool) -> tuple[str, int, TrialResult, float, float]:
    """Run one unit of a reproduction (the joblib task), single-threaded; returns wall and CPU seconds."""
    reproduction = get(reproduction_id)
    start, start_cpu = time.perf_counter(), time.process_time()
    with single_threaded():
        result = reproduction.run_trial(seed, quick)
    _validate_trial(reproduction, seed, result)
    return reproduction_id, seed, result, time.perf_counter() - start, time.process_time() - start_cpu


def _validate_trial(reproduction: Reproduction, seed: int, result: TrialResult) -> None:
    expected = {check.name for check in reproduction.checks}
    if not isinstance(result, TrialResult) or set(result.pairs) != expected:
        got = sorted(result.pairs) if isinstance(result, TrialResult) else type(result).__name__
        raise RuntimeError(f"{reproduction.id} seed {seed}: trial must return a pair for each of {sorted(expected)}, got {got}.")
    for name, pair in result.pairs.items():
        if len(pair) != 2 or not all(math.isfinite(float(v)) for v in pair):
            raise RuntimeError(f"{reproduction.id} seed {seed}: check {name!r} gave a non-finite pair {pair!r}.")


@dataclass
class _Timing:
    wall: float = 0.0
    cpu: float = 0.0
    slowest: float = 0.0

    def add(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu
        self.slowest = max(self.slowest, wall)


def summarize(reproduction: Reproduction, quick: bool, trials: dict[int, TrialResult],
              timing: _Timing | None = None) -> ReproductionResult:
    """Pool the trials of one reproduction into the outcomes of its checks."""
    seeds = sorted(trials)
    values = {c.name: ([float(trials[s].pairs[c.name][0]) for s in seeds],
                       [float(trials[s].pairs[c.name][1]) for s in seeds]) for c in reproduction.checks}
    differences = {c.name: oriented_differences(*values[c.name], c.direction) for c in reproduction.checks}
    judgements = judge(reproduction.checks, differences, headline=reproduction.headline, unit=reproduction.unit)
    checks = [CheckResult(c, seeds, *values[c.name], judgements[c.name], headline=c.name == reproduction.headline)
              for c in reproduction.checks]
    diagnostics = [{"seed": s, **dict(trials[s].diagnostics)} for s in seeds if trials[s].diagnostics]
    timing = timing or _Timing()
    return ReproductionResult(reproduction, quick, checks, timing.wall, timing.cpu, timing.slowest, diagnostics)


def _run_in_parallel(tasks, quick: bool, n_jobs):
    """Trial outputs as they finish, on joblib's active backend (Ray's own tasks when it is Ray)."""
    if _ray_backend_active():
        return _run_on_ray(tasks, quick, n_jobs)
    jobs = [delayed(run_trial)(rid, seed, quick) for rid, seed in tasks]
    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    except ValueError as exc:  # a backend that cannot stream gives everything at the end
        if "return_as" not in str(exc):
            raise
        parallel = Parallel(n_jobs=n_jobs)
    return parallel(jobs)


def _ray_backend_active() -> bool:
    """Whether ``joblib.parallel_config(backend="ray")`` is in force."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__ == "RayBackend" and "ray" in sys.modules


def _run_on_ray(tasks, quick: bool, n_jobs):
    """Trials as Ray tasks, yielded as each finishes (joblib's Ray backend only returns them all at the end).

    Tasks are submitted longest first; a positive ``n_jobs`` caps how many are in flight, otherwise
    the cluster's CPUs do.
    """
    import ray

    remote_trial = ray.remote(num_cpus=1, max_retries=0)(run_trial)
    waiting = list(tasks)[::-1]
    limit = n_jobs if n_jobs is not None and n_jobs > 0 else len(waiting)
    in_flight = []
    while waiting or in_flight:
        while waiting and len(in_flight) < limit:
            in_flight.append(remote_trial.remote(*waiting.pop(), quick))
        (done,), in_flight = ray.wait(in_flight, num_returns=1)
        yield ray.get(done)


def _history_path() -> Path | None:
    root = cache_root()
    return None if root is None else root / "reproduce_trial_seconds.json"


def _read_history() -> dict[str, float]:
    path = _history_path()
    try:
        history = json.loads(path.read_text()) if path is not None and path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in history.items() if isinstance(v, (int, float))} if isinstance(history, dict) else {}


def _write_history(history: dict[str, float]) -> None:
    path = _history_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(history, indent=1, sort_keys=True))
    except OSError:
        pass  # the history only orders trials; a read-only cache must not fail the run


def _history_key(rid: str, quick: bool) -> str:
    return f"{rid}:{'quick' if quick else 'full'}"


def schedule(reproductions: Sequence[Reproduction], quick: bool, n_seeds: int | None) -> list[tuple[str, int]]:
    """All (id, seed) trials, longest expected first, so no worker is left with a long tail.

    The expected time of a trial is the mean measured in earlier runs on this
    machine (kept under ``$DIVERSA_CACHE``), else the reproduction's
    ``trial_seconds`` hint.
    """
    history = _read_history()

    def expected(r: Reproduction) -> float:
        return history.get(_history_key(r.id, quick), r.trial_seconds * (1 if quick else 4))

    ordered = sorted(reproductions, key=expected, reverse=True)
    return [(r.id, seed) for r in ordered for seed in range(n_seeds or r.n_trials(quick))]


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
    scheduled longest first, so ``n_jobs`` workers stay busy across papers to
    the end. The backend is the user's choice: under
    ``joblib.parallel_config(backend="ray")`` the trials run as Ray tasks on
    the cluster, still reported one by one as they finish.

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
    reproductions = {r.id: r for r in reproductions.values()}
    trials: dict[str, dict[int, TrialResult]] = defaultdict(dict)
    timing: dict[str, _Timing] = defaultdict(_Timing)
    for rid, seed, result, wall, cpu in _run_in_parallel(schedule(list(reproductions.values()), quick, n_seeds),
                                                         quick, n_jobs):
        trials[rid][seed] = result
        timing[rid].add(wall, cpu)
        if on_trial_done is not None:
            on_trial_done(rid)
    history = _read_history()
    history.update({_history_key(rid, quick): t.wall / len(trials[rid]) for rid, t in timing.items()})
    _write_history(history)
    return [summarize(r, quick, trials[r.id], timing[r.id]) for r in reproductions.values()]
