"""The parallelism planner's MILP: buckets of sequences onto heterogeneous group slots.

FlexSP (Wang et al., arXiv:2412.01523, section 5.2, problem (2)): within
one micro-batch, choose which candidate sequence-parallel groups ("slots", a
degree each) are used and how many sequences of each length bucket each slot
runs, minimising the slowest group's time ``M``:

* ``A[k, p]`` integer >= 0: sequences of bucket ``k`` on slot ``p``, zero unless
  ``d_p`` holds the bucket's boundary; ``m[p]`` binary: slot ``p`` is used;
* every bucket fully assigned: ``sum_p A[k, p] = n_k``;
* memory: ``sum_k b_k A[k, p] <= C d_p m[p]`` (boundaries ``b_k``, C tokens per device);
* time: ``sum_k T(b_k, d_p) A[k, p] + beta m[p] <= M``;
* a used slot runs something: ``sum_k A[k, p] >= m[p]``;
* all devices used: ``sum_p d_p m[p] = N``.

Solved with HiGHS through :func:`scipy.optimize.milp`. Additions that leave the
optimum unchanged: slots of one degree are interchangeable, so they are
ordered (used before unused, busier before idler); slots beyond the number of
sequences that fit them are dropped; ``M`` starts at two lower bounds (the
slowest single bucket on its best degree, and the device-time area over N).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from diversa.systems.seqpar.cost_model import SPCostModel

@dataclass(frozen=True)
class SlotSolution:
    """A solved slot MILP: ``counts`` (K, P) sequences of bucket k on slot p, ``slot_degrees`` (P,),
    ``objective`` M in ms (on bucket boundaries), ``status`` ("optimal" or "limit reached")."""

    counts: np.ndarray
    slot_degrees: np.ndarray
    objective: float
    status: str


@contextlib.contextmanager
def _quiet_stdout():
    """Silence writes to the process's standard output (HiGHS prints a stray debug line from C)."""
    try:
        sys.stdout.flush()
        fd = sys.__stdout__.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def group_slots(item_min_degrees: Sequence[int], degrees: Sequence[int], n_devices: int, *,
                counts: Sequence[int] | None = None, prune: bool = True) -> np.ndarray:
    """Candidate group slots (their degrees, ascending) for a micro-batch whose items (sequences,
    or buckets of ``counts`` sequences) need at least ``item_min_degrees`` devices each.

    ``N // d`` slots per degree, at most as many as sequences fit a group of ``d`` (a used slot
    runs at least one). With ``prune`` (the authors' rule) a degree below the largest need
    ``d_max``, needed by ``c_max`` sequences, gets only ``(N - d_max * c_max) // d`` slots: those
    sequences are assumed to take their own groups of ``d_max``.
    """
    needs = np.asarray(item_min_degrees, dtype=int)
    counts = np.ones(len(needs), dtype=int) if counts is None else np.asarray(counts, dtype=int)
    if needs.size == 0:
        return np.zeros(0, dtype=int)
    d_max = int(needs.max())
    c_max = int(counts[needs == d_max].sum())
    slots = []
    for d in sorted(set(int(d) for d in degrees)):
        count = n_devices // d
        if prune and d < d_max:
            count = max(0, (n_devices - d_max * c_max) // d)
        count = min(count, int(counts[needs <= d].sum()))
        slots += [d] * count
    return np.asarray(slots, dtype=int)


def lower_bound(cost: SPCostModel, lens: Sequence[int], degrees: Sequence[int], counts=None) -> float:
    """A time (ms) no plan of one micro-batch can beat: beta plus the larger of the slowest
    sequence on its best allowed degree and the device-time area (each sequence on the degree
    where ``d * T(s, d)`` is least) spread over all N devices.

    ``lens`` (K,) lengths (or bucket boundaries with ``counts`` (K,) sequences each); ``degrees``
    the group sizes allowed.
    """
    lens = np.asarray(lens, dtype=float)
    counts = np.ones(len(lens)) if counts is None else np.asarray(counts, dtype=float)
    if lens.size == 0:
        return 0.0
    degrees = np.asarray(sorted(set(int(d) for d in degrees)))
    times = np.stack([np.atleast_1d(cost.seq_time(lens, int(d))) for d in degrees], axis=1)
    allowed = lens[:, None] <= cost.token_capacity * degrees[None, :]
    single = np.where(allowed, times, np.inf).min(axis=1)
    area = np.where(allowed, times * degrees[None, :], np.inf).min(axis=1)
    present = counts > 0
    return float(cost.beta + max(single[present].max(initial=0.0), np.sum(counts * area) / cost.n_devices))


def solve_slot_milp(boundaries: Sequence[int], counts: Sequence[int], slot_degrees: Sequence[int],
                    cost: SPCostModel, *, node_limit: int | None = None, time_limit: float | None = None,
                    mip_rel_gap: float = 1e-4, presolve: bool = False,
                    cutoff: float | None = None) -> SlotSolution | None:
    """Solve FlexSP's slot MILP for buckets (``boundaries`` (K,), ``counts`` (K,)) and slots
    ``slot_degrees`` (P,) with HiGHS; None when infeasible, when a limit stops HiGHS before it
    finds a plan, or when ``cutoff`` is already within ``mip_rel_gap`` of a lower bound.

    ``node_limit`` (branch-and-bound nodes) keeps results independent of the machine's speed;
    ``time_limit`` (seconds) does not. ``mip_rel_gap``: HiGHS's relative optimality gap.
    ``presolve``: HiGHS's presolve (off by default: on these small MILPs it costs more than it
    saves). ``cutoff``: only plans with ``M <= cutoff`` are sought (the time of a known plan, the
    role of the authors' warm starts: HiGHS prunes against it).
    """
    b = np.asarray(boundaries, dtype=float)
    n = np.asarray(counts, dtype=float)
    d = np.asarray(slot_degrees, dtype=int)
    K, P = len(b), len(d)
    if K == 0 or P == 0:
        return None
    C, N = cost.token_capacity, cost.n_devices
    times = np.stack([np.atleast_1d(cost.seq_time(b, int(dp))) for dp in d], axis=1)   # (K, P)
    allowed = b[:, None] <= C * d[None, :]
    if not np.all(allowed.any(axis=1)):
        return None
    bound = lower_bound(cost, b, d, n)
    if cutoff is not None and cutoff <= bound * (1 + mip_rel_gap):
        return None                     # the known plan is already optimal within the gap
    kk, pp = np.nonzero(allowed)
    n_a = len(kk)
    a_var = np.arange(n_a)
    m_var = n_a + np.arange(P)
    M_var = n_a + P
    rows, cols, vals, lo, hi = [], [], [], [], []

    def add(row_entries, low, high):
        r = len(lo)
        for c, v in row_entries:
            rows.append(np.full(len(c), r))
            cols.append(np.asarray(c))
            vals.append(np.broadcast_to(np.asarray(v, dtype=float), (len(c),)))
        lo.append(low)
        hi.append(high)

    for k in range(K):                                       # every bucket fully assigned
        add([(a_var[kk == k], 1.0)], n[k], n[k])
    for p in range(P):
        on_p = pp == p
        add([(a_var[on_p], b[kk[on_p]]), ([m_var[p]], -C * d[p])], -np.inf, 0.0)            # memory
        add([(a_var[on_p], times[kk[on_p], p]), ([m_var[p]], cost.beta), ([M_var], -1.0)], -np.inf, 0.0)  # time
        add([(a_var[on_p], 1.0), ([m_var[p]], -1.0)], 0.0, np.inf)                          # used => busy
    add([(m_var, d.astype(float))], N, N)                    # all devices used
    for p in range(P - 1):                                   # interchangeable slots: ordered
        if d[p] == d[p + 1]:
            add([([m_var[p]], 1.0), ([m_var[p + 1]], -1.0)], 0.0, np.inf)
            on_p, on_q = pp == p, pp == p + 1
            add([(a_var[on_p], times[kk[on_p], p]), (a_var[on_q], -times[kk[on_q], p + 1])], 0.0, np.inf)
    r = np.concatenate([np.broadcast_to(x, x.shape) for x in rows])
    matrix = coo_array((np.concatenate(vals), (r, np.concatenate(cols))), shape=(len(lo), n_a + P + 1)).tocsr()
    objective = np.zeros(n_a + P + 1)
    objective[M_var] = 1.0
    lower = np.zeros(n_a + P + 1)
    lower[M_var] = bound
    upper = np.concatenate([n[kk], np.ones(P), [np.inf if cutoff is None else max(cutoff, lower[M_var])]])
    integrality = np.concatenate([np.ones(n_a + P), [0]])
    options = {"disp": False, "presolve": presolve, "mip_rel_gap": mip_rel_gap}
    if node_limit is not None:
        options["node_limit"] = int(node_limit)
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    with _quiet_stdout():
        res = milp(objective, integrality=integrality, bounds=Bounds(lower, upper),
                   constraints=LinearConstraint(matrix, np.asarray(lo), np.asarray(hi)), options=options)
    if res.x is None:
        return None
    assignment = np.zeros((K, P), dtype=int)
    assignment[kk, pp] = np.rint(res.x[:n_a]).astype(int)
    return SlotSolution(assignment, d, float(res.x[M_var]), "optimal" if res.status == 0 else "limit reached")
