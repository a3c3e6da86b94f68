"""A step plan of sequence parallelism, and how its time is measured and checked.

FlexSP (Wang et al., arXiv:2412.01523) plans one training step at a time:
the global batch runs as micro-batches one after another; within a
micro-batch the N devices are split into sequence-parallel groups (a degree
``d`` each, degrees summing to N) and every sequence goes to exactly one
group. A group's time is the sum of its sequences' times plus a fixed
overhead, a micro-batch lasts as long as its slowest group, and the step
time is the sum over micro-batches (gradients are accumulated across them).
Every planner of :mod:`diversa.systems.seqpar` returns a :class:`StepPlan`,
timed by :func:`step_time` on the real lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from diversa.systems.seqpar.cost_model import SPCostModel, is_power_of_two

if TYPE_CHECKING:
    import pandas as pd

#: One micro-batch: its groups as ``(degree, sequence indices)``; degrees sum to N.
MicroBatch = list[tuple[int, list[int]]]


@dataclass
class StepPlan:
    """The plan of one training step.

    ``micro_batches``: per micro-batch, its groups ``(degree, indices into the batch's lengths)``
    (a group may be empty: idle devices); ``micro_batch_ms``: each micro-batch's time;
    ``predicted_ms``: their sum, the step time under the cost model; ``solver_status``: how each
    micro-batch was planned; ``solve_seconds``: planning wall time; ``details``: planner-specific
    numbers (e.g. the raw MILP's step time before the safeguard).
    """

    micro_batches: list[MicroBatch]
    predicted_ms: float
    micro_batch_ms: list[float] = field(default_factory=list)
    solver_status: list[str] = field(default_factory=list)
    solve_seconds: float = 0.0
    strategy: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def n_micro(self) -> int:
        """Number of micro-batches."""
        return len(self.micro_batches)

    def degrees(self) -> list[list[int]]:
        """The degrees of the non-empty groups of each micro-batch, largest first."""
        return [sorted((d for d, ids in mb if ids), reverse=True) for mb in self.micro_batches]

    def heterogeneous_fraction(self) -> float:
        """Fraction of micro-batches whose non-empty groups use more than one distinct degree."""
        if not self.micro_batches:
            return 0.0
        return float(np.mean([len(set(ds)) > 1 for ds in self.degrees()]))

    def degree_histogram(self) -> dict[int, int]:
        """Non-empty groups per degree over the whole step."""
        counts: dict[int, int] = {}
        for ds in self.degrees():
            for d in ds:
                counts[d] = counts.get(d, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self, lens: Sequence[int] | None = None) -> dict:
        """JSON-ready form; with ``lens`` each group also lists its sequences' lengths."""
        out = {"strategy": self.strategy, "predicted_ms": self.predicted_ms, "n_micro": self.n_micro,
               "micro_batch_ms": list(self.micro_batch_ms), "solver_status": list(self.solver_status),
               "solve_seconds": self.solve_seconds, "details": dict(self.details), "micro_batches": []}
        for mb in self.micro_batches:
            groups = []
            for d, ids in mb:
                group = {"degree": int(d), "sequences": [int(i) for i in ids]}
                if lens is not None:
                    group["lengths"] = [int(lens[i]) for i in ids]
                groups.append(group)
            out["micro_batches"].append(groups)
        return out


def micro_batch_time(cost: SPCostModel, lens, groups: MicroBatch) -> float:
    """Time (ms) of one micro-batch: its slowest group (sum of T(s, d) plus beta)."""
    lens = np.asarray(lens)
    return max((cost.group_time(lens[list(ids)], d) for d, ids in groups if len(ids)), default=0.0)


def step_time(cost: SPCostModel, lens, micro_batches: Sequence[MicroBatch]) -> float:
    """Time (ms) of a step: the sum of its micro-batches' times."""
    return float(sum(micro_batch_time(cost, lens, mb) for mb in micro_batches))


def make_plan(cost: SPCostModel, lens, micro_batches: list[MicroBatch], *, strategy: str,
              solver_status=None, solve_seconds: float = 0.0, details=None) -> StepPlan:
    """A :class:`StepPlan` whose times are computed from the real lengths."""
    times = [micro_batch_time(cost, lens, mb) for mb in micro_batches]
    status = list(solver_status) if solver_status is not None else [strategy] * len(micro_batches)
    return StepPlan(micro_batches, float(sum(times)), times, status, solve_seconds, strategy, dict(details or {}))


def check_plan(plan: StepPlan, lens, cost: SPCostModel, *, rtol: float = 1e-9) -> None:
    """Raise ValueError unless ``plan`` is valid for ``lens``: every sequence in exactly one group,
    the degrees of every micro-batch summing to N, every group within memory, and the predicted
    time equal to its recomputation from the real lengths."""
    lens = np.asarray(lens)
    seen = np.zeros(len(lens), dtype=int)
    for b, mb in enumerate(plan.micro_batches):
        total = sum(d for d, _ in mb)
        if total != cost.n_devices:
            raise ValueError(f"micro-batch {b}: group degrees sum to {total}, not {cost.n_devices}.")
        for d, ids in mb:
            ids = list(ids)
            if ids and not cost.fits(lens[ids], d):
                raise ValueError(f"micro-batch {b}: a group of {d} devices holds {int(lens[ids].sum())} tokens, "
                                 f"more than {cost.token_capacity * d}.")
            np.add.at(seen, ids, 1)
    if np.any(seen != 1):
        bad = np.flatnonzero(seen != 1)[:5].tolist()
        raise ValueError(f"sequences {bad} appear {seen[bad].tolist()} times, not once.")
    recomputed = step_time(cost, lens, plan.micro_batches)
    if not np.isclose(plan.predicted_ms, recomputed, rtol=rtol, atol=1e-9):
        raise ValueError(f"predicted_ms {plan.predicted_ms} differs from its recomputation {recomputed}.")


def candidate_degrees(n_devices: int, degrees: Sequence[int] | None = None, *, official: bool = False) -> tuple:
    """The group degrees a planner may use: ``degrees`` if given (each in 1..N), else the powers of
    two up to N (from 2 with ``official=True``, as the authors' planner skips d = 1).

    ValueError for a cluster size that is not a power of two unless ``degrees`` is given.
    """
    if degrees is None:
        if not is_power_of_two(n_devices):
            raise ValueError(f"n_devices = {n_devices} is not a power of two; pass degrees explicitly.")
        start = 2 if official and n_devices > 1 else 1
        return tuple(d for d in (1 << k for k in range(n_devices.bit_length())) if start <= d <= n_devices)
    out = sorted({int(d) for d in degrees})
    if not out or out[0] < 1 or out[-1] > n_devices:
        raise ValueError(f"degrees must be integers in 1..{n_devices}, got {list(degrees)!r}.")
    return tuple(out)


def min_allowed_degree(cost: SPCostModel, s: int, degrees: Sequence[int]) -> int:
    """Smallest degree in ``degrees`` whose group holds a sequence of ``s`` tokens; ValueError if none."""
    for d in sorted(degrees):
        if s <= cost.token_capacity * d:
            return int(d)
    raise ValueError(f"a sequence of {int(s)} tokens does not fit even a group of {max(degrees)} devices "
                     f"({cost.token_capacity} tokens per device: at most {cost.token_capacity * max(degrees)} "
                     "tokens per sequence).")


def simulate(planner, batches) -> pd.DataFrame:
    """Plan every global batch of ``batches`` (an iterable of length sequences) with ``planner``
    (anything with ``plan(lens) -> StepPlan``): one row per step with its predicted time (ms),
    micro-batches, fraction of micro-batches mixing degrees, groups per degree and planning seconds."""
    import pandas as pd

    rows = []
    for step, lens in enumerate(batches):
        plan = planner.plan(lens)
        rows.append({"step": step, "predicted_ms": plan.predicted_ms, "n_micro": plan.n_micro,
                     "heterogeneous_fraction": plan.heterogeneous_fraction(),
                     "degrees": plan.degree_histogram(), "solve_seconds": plan.solve_seconds})
    return pd.DataFrame(rows)
