"""The registry of reproductions: what each paper claims and how we test it.

A reproduction module (one per paper, named after the paper's idea) defines a
module-level ``REPRODUCTION = Reproduction(...)``. Every module of
``diversa.reproduce`` other than the framework's own is one; its id is the
module name with ``_`` spelled ``-``. Modules are imported only when asked
for, and other projects can add theirs with :func:`register`.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["greater", "less", "equivalent"]
Kind = Literal["claim", "mechanism", "regime"]
UnitKind = Literal["independent", "resampled"]

KINDS = ("claim", "mechanism", "regime")
DIRECTIONS = ("greater", "less", "equivalent")

#: The fewest units a claim may be judged on: quick mode, full mode.
MIN_QUICK_UNITS, MIN_FULL_UNITS = 8, 20

#: Modules of ``diversa.reproduce`` that are the framework, not papers.
FRAMEWORK_MODULES = frozenset({"registry", "runner", "verdict", "report", "report_html"})


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
    """One statement tested as a paired comparison of ``method`` against ``baseline``.

    ``direction="greater"`` states that the method scores higher on ``metric``
    than the baseline, ``"less"`` lower (errors, losses, counts that should
    shrink), ``"equivalent"`` within ``margin`` of it either way (a two
    one-sided tests design). For "greater" and "less" a positive ``margin``
    turns superiority into non-inferiority: the method may trail the baseline
    by less than ``margin``. Margins are in the metric's units and are part of
    the declared design, with their reason in ``claim``.

    ``kind`` says what the check is evidence of:

    * ``"claim"``: what the paper says about performance or behaviour against
      a baseline. Only claims get verdicts.
    * ``"mechanism"``: the method does internally what it says (routing
      diverges, conflicts are dropped); reported as pass/fail.
    * ``"regime"``: the testbed is in the regime the claims are about (the
      baseline is off floor and ceiling, an oracle has headroom, the targeted
      imbalance is present); reported as pass/fail. A failing regime check
      makes the claims it ``applies_to`` (all claims when empty) ``out of
      regime``.
    """

    name: str
    metric: str
    baseline: str
    method: str
    direction: Direction
    claim: str
    paper: str = ""
    kind: Kind = "claim"
    margin: float = 0.0
    applies_to: tuple[str, ...] = ()

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Check {self.name!r}: direction must be one of {DIRECTIONS}, got {self.direction!r}.")
        if self.kind not in KINDS:
            raise ValueError(f"Check {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}.")
        if not (self.margin >= 0 and math.isfinite(self.margin)):
            raise ValueError(f"Check {self.name!r}: margin must be a finite number >= 0, got {self.margin!r}.")
        if self.direction == "equivalent" and self.margin == 0:
            raise ValueError(f"Check {self.name!r}: an 'equivalent' check needs a margin > 0.")
        if self.applies_to and self.kind != "regime":
            raise ValueError(f"Check {self.name!r}: only regime checks take applies_to.")


@dataclass(frozen=True)
class Units:
    """What one unit (trial) of a reproduction is, which decides the test.

    ``independent``: a fresh seed of data and model; units are exchangeable
    and independent, so the exact sign-flip test applies. ``resampled``:
    splits of one fixed data set; units share training data, so the
    Nadeau-Bengio corrected t-test is used with ``test_over_train`` =
    n_test / n_train of one split.
    """

    kind: UnitKind = "independent"
    test_over_train: float = 0.0
    description: str = "a fresh seed of data and model"

    def __post_init__(self):
        if self.kind not in ("independent", "resampled"):
            raise ValueError(f"Units.kind must be 'independent' or 'resampled', got {self.kind!r}.")
        if self.kind == "resampled" and not self.test_over_train > 0:
            raise ValueError("resampled units must declare test_over_train = n_test / n_train > 0.")
        if self.kind == "independent" and self.test_over_train != 0:
            raise ValueError("independent units take no test_over_train.")


def resampled_units(test_over_train: float, description: str) -> Units:
    """Units that re-split one fixed data set (n_test / n_train per split)."""
    return Units("resampled", test_over_train, description)


@dataclass(frozen=True)
class TrialResult:
    """What one unit of a reproduction measured.

    ``pairs`` maps each check name to ``(baseline_value, method_value)``;
    ``diagnostics`` holds anything else worth reporting (JSON-serialisable).
    """

    pairs: Mapping[str, tuple[float, float]]
    diagnostics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reproduction:
    """A paper, its claims as checks, and the experiment that tests them.

    ``run_trial(seed, quick)`` runs one unit of the experiment and returns a
    :class:`TrialResult` with a pair for every check. ``headline`` names the
    paper's main performance claim (a ``claim`` check); the other claims are
    secondary. ``unit`` says what a unit is. ``quick_trials``/``full_trials``
    are the default numbers of units (at least 8 and 20).
    ``trial_seconds`` is the expected wall time of one quick trial on one
    core, used to start the longest trials first.
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
    headline: str
    setup: str = ""
    unit: Units = Units()
    trial_seconds: float = 10.0

    def __post_init__(self):
        if not self.checks:
            raise ValueError(f"Reproduction {self.id!r} declares no checks.")
        names = [check.name for check in self.checks]
        if len(set(names)) != len(names):
            raise ValueError(f"Reproduction {self.id!r}: check names must be unique, got {names}.")
        claims = [check.name for check in self.checks if check.kind == "claim"]
        if self.headline not in claims:
            raise ValueError(f"Reproduction {self.id!r}: headline must name one of its claim checks "
                             f"{claims}, got {self.headline!r}.")
        for check in self.checks:
            unknown = set(check.applies_to) - set(claims)
            if unknown:
                raise ValueError(f"Reproduction {self.id!r}: regime check {check.name!r} applies to "
                                 f"unknown claims {sorted(unknown)}.")
        if self.quick_trials < MIN_QUICK_UNITS or self.full_trials < MIN_FULL_UNITS:
            raise ValueError(f"Reproduction {self.id!r}: needs at least {MIN_QUICK_UNITS} quick and "
                             f"{MIN_FULL_UNITS} full units, got {self.quick_trials} and {self.full_trials}.")

    def n_trials(self, quick: bool) -> int:
        return self.quick_trials if quick else self.full_trials

    @property
    def headline_check(self) -> Check:
        """The paper's headline claim."""
        return next(check for check in self.checks if check.name == self.headline)

    def checks_of_kind(self, kind: Kind) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.kind == kind)


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
