"""The slot MILP of FlexSP (arXiv:2412.01523, problem (2)) on HiGHS, against brute force."""

import itertools

import numpy as np
import pytest

from diversa.systems.seqpar import group_slots, solve_slot_milp
from diversa.systems.seqpar.milp import lower_bound


def degree_layouts(n_devices, degrees):
    """Every multiset of degrees summing to ``n_devices``."""
    def grow(rest, smallest):
        if rest == 0:
            yield []
            return
        for d in (d for d in degrees if smallest <= d <= rest):
            for tail in grow(rest - d, d):
                yield [d, *tail]
    yield from grow(n_devices, min(degrees))


def brute_force(cost, lens, degrees):
    """Least micro-batch time over every layout (all devices used, every group busy) and assignment."""
    best = np.inf
    for layout in degree_layouts(cost.n_devices, degrees):
        if len(layout) > len(lens):
            continue
        for owner in itertools.product(range(len(layout)), repeat=len(lens)):
            if len(set(owner)) < len(layout):
                continue
            groups = [[s for s, o in zip(lens, owner) if o == g] for g in range(len(layout))]
            if all(cost.fits(g, d) for g, d in zip(groups, layout)):
                best = min(best, max(cost.group_time(g, d) for g, d in zip(groups, layout)))
    return best


def milp_optimum(cost, lens, degrees):
    values, counts = np.unique(lens, return_counts=True)
    needs = [min(d for d in degrees if v <= cost.token_capacity * d) for v in values]
    slots = group_slots(needs, degrees, cost.n_devices, counts=counts, prune=False)
    return solve_slot_milp(values, counts, slots, cost, mip_rel_gap=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_the_milp_equals_brute_force_on_tiny_instances(seed, make_cost):
    rng = np.random.default_rng(seed)
    cost = make_cost(4, 1000)
    lens = rng.integers(50, 1800, size=int(rng.integers(1, 6))).tolist()
    lens[0] = lens[-1]  # a repeated length: a bucket of two
    degrees = (1, 2, 4)
    solution, best = milp_optimum(cost, lens, degrees), brute_force(cost, lens, degrees)
    if not np.isfinite(best):
        assert solution is None
        return
    assert solution.status == "optimal"
    assert solution.objective == pytest.approx(best, rel=1e-6)
    used = solution.counts.sum(axis=0) > 0
    assert solution.slot_degrees[used].sum() == cost.n_devices
    assert solution.objective >= lower_bound(cost, lens, degrees) * (1 - 1e-9)


def test_a_cutoff_below_the_optimum_finds_nothing(make_cost):
    cost, lens = make_cost(4, 1000), [900, 800, 300, 200]
    optimum = milp_optimum(cost, lens, (1, 2, 4)).objective
    values, counts = np.unique(lens, return_counts=True)
    slots = group_slots([1] * len(values), (1, 2, 4), 4, counts=counts, prune=False)
    assert solve_slot_milp(values, counts, slots, cost, cutoff=optimum * 0.99) is None
    found = solve_slot_milp(values, counts, slots, cost, cutoff=optimum * 1.5, mip_rel_gap=1e-9)
    assert found.objective == pytest.approx(optimum)


def test_a_bucket_no_slot_holds_is_infeasible(make_cost):
    cost = make_cost(4, 1000)
    assert solve_slot_milp([1500], [1], np.array([1, 1]), cost) is None
    assert solve_slot_milp([], [], np.array([1]), cost) is None


def test_slots_per_degree_and_the_authors_pruning():
    # Needs: one sequence needs 8 devices, the others 1. Pruned: 16 - 8 = 8 devices left below 8.
    needs = [8, 1, 1, 1]
    plain = group_slots(needs, (1, 2, 4, 8, 16), 16, prune=False)
    pruned = group_slots(needs, (1, 2, 4, 8, 16), 16)
    assert plain.tolist() == [1] * 3 + [2] * 3 + [4] * 3 + [8] * 2 + [16]   # capped by the sequences
    assert pruned.tolist() == [1] * 3 + [2] * 3 + [4] * 2 + [8] * 2 + [16]
    # Buckets count their sequences: two buckets of 5 short ones fill up to 10 slots of 1.
    assert group_slots([1, 2], (1, 2, 4), 16, counts=[5, 5]).tolist() == [1] * 5 + [2] * 8 + [4] * 4
    assert group_slots([], (1, 2), 2).size == 0
