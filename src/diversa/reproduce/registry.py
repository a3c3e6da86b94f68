"""The registry of reproductions: what each paper claims and how we test it.

A reproduction module (one per paper, named after the paper's idea) defines a
module-level ``REPRODUCTION = Reproduction(...)``. Every module of
``diversa.reproduce`` other than the framework's own is one; its id is the
module name with ``_`` spelled ``-``. Modules are imported only when asked
for, and other projects can add theirs with :func:`register`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["greater", "less"]

#: Modules of ``diversa.reproduce`` that are the framework, not papers.
FRAMEWORK_MODULES = frozenset({"registry", "runner", "verdict", "report"})


def _discover() -> dict[str, str]:
    package = importlib.import_module("diversa.reproduce")
    return {info.name.replace("_", "-"): f"diversa.reproduce.{info.name}"
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name)
            if not info.ispkg and info.name not in FRAMEWORK_MODULES and not info.name.startswith("_")}


#: Reproduction id -> module defining its ``REPRODUCTION`` (filled on first use).
_MODULES: dict[str, str] = {}
_EXTERNAL: dict[str, str] = {}


def _modules() -> dict[str, str]:
    if not _MODULES:
        _MODULES.update(_discover())
    return {**_MODULES, **_EXTERNAL}


@dataclass(frozen=True)
class Check:
    """One claim tested as a paired comparison of ``method`` against ``baseline``.

    ``direction="greater"`` means the paper claims the method scores higher on
    ``metric`` than the baseline; ``"less"`` that it scores lower (errors,
    losses, counts that should shrink).
    """

    name: str
    metric: str
    baseline: str
    method: str
    direction: Direction
    claim: str
    paper: str = ""

    def __post_init__(self):
        if self.direction not in ("greater", "less"):
            raise ValueError(f"Check {self.name!r}: direction must be 'greater' or 'less', got {self.direction!r}.")


@dataclass(frozen=True)
class TrialResult:
    """What one seed/fold of a reproduction measured.

    ``pairs`` maps each check name to ``(baseline_value, method_value)``;
    ``diagnostics`` holds anything else worth reporting (JSON-serialisable).
    """

    pairs: Mapping[str, tuple[float, float]]
    diagnostics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reproduction:
    """A paper, its claims as checks, and the experiment that tests them.

    ``run_trial(seed, quick)`` runs one independent unit of the experiment (a
    seed, a fold, a dataset-repeat pair: the module decides what an index
    means) and returns a :class:`TrialResult` with a pair for every check.
    ``quick_trials``/``full_trials`` are the default numbers of units.
    """

    id: str
    title: str
    arxiv: str
    claim: str
    paper_result: str
    checks: tuple[Check, ...]
    run_trial: Callable[[int, bool], TrialResult]
    quick_trials: int
    full_trials: int
    setup: str = ""

    def __post_init__(self):
        if not self.checks:
            raise ValueError(f"Reproduction {self.id!r} declares no checks.")
        names = [check.name for check in self.checks]
        if len(set(names)) != len(names):
            raise ValueError(f"Reproduction {self.id!r}: check names must be unique, got {names}.")
        if min(self.quick_trials, self.full_trials) < 1:
            raise ValueError(f"Reproduction {self.id!r}: trial counts must be >= 1.")

    def n_trials(self, quick: bool) -> int:
        return self.quick_trials if quick else self.full_trials

    @property
    def headline(self) -> Check:
        """The first check states the paper's headline claim."""
        return self.checks[0]


def _normalize(reproduction_id: str) -> str:
    return reproduction_id.strip().lower().replace("_", "-")


def register(reproduction_id: str, module: str) -> None:
    """Register a reproduction defined as ``REPRODUCTION`` in an importable module.

    Lets a project add its own claims to ``diversa reproduce``; the module must
    be importable by worker processes too (installed or on ``PYTHONPATH``).
    """
    _EXTERNAL[_normalize(reproduction_id)] = module


def available_ids() -> list[str]:
    """Ids of the reproductions: diversa's own (alphabetical), then registered ones."""
    return list(_modules())


def get(reproduction_id: str) -> Reproduction:
    """The registered reproduction with this id (``-`` and ``_`` are interchangeable)."""
    key = _normalize(reproduction_id)
    modules = _modules()
    if key not in modules:
        raise ValueError(
            f"unknown reproduction {reproduction_id!r}; available: {', '.join(available_ids())} "
            "(see `diversa reproduce --list`)."
        )
    reproduction = importlib.import_module(modules[key]).REPRODUCTION
    if _normalize(reproduction.id) != key:
        raise ValueError(f"module {modules[key]} defines reproduction {reproduction.id!r}, not {key!r}.")
    return reproduction
