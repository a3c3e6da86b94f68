"""The fixed-degree baselines of FlexSP (arXiv:2412.01523): Best-Fit-Decreasing, static, adaptive."""

import numpy as np
import pytest

from diversa.systems.seqpar import (
    AdaptiveHomogeneousPlanner,
    StaticSPPlanner,
    best_fit_decreasing,
    check_plan,
    homogeneous_step,
    sample_lengths,
)


def test_best_fit_decreasing_packs_into_the_fullest_bin_that_fits():
    lens = np.array([5, 7, 3, 2, 4, 6])
    bins = best_fit_decreasing(lens, 10)
    assert sorted(i for b in bins for i in b) == list(range(6))
    assert all(lens[b].sum() <= 10 for b in bins)
    # 7, 6, 5 open bins; 4 joins 6 (fullest fit); 3 joins 7; 2 joins 5.
    assert [sorted(lens[b].tolist()) for b in bins] == [[3, 7], [4, 6], [2, 5]]
    with pytest.raises(ValueError, match="exceeds the bin capacity"):
        best_fit_decreasing([11], 10)


def test_homogeneous_steps_are_valid_and_fill_every_group_they_can(make_cost):
    cost = make_cost(8, 2000)
    lens = sample_lengths(40, 0, scale=2.0, max_len=16_000, pad_to=16)
    for d in (2, 4, 8):
        if lens.max() > cost.token_capacity * d:
            assert homogeneous_step(cost, lens, d) is None
            continue
        plan = StaticSPPlanner(cost, d).plan(lens)
        check_plan(plan, lens, cost)
        assert all(d_ == d for mb in plan.micro_batches for d_, _ in mb)
        last = plan.micro_batches[-1]
        assert sum(len(g) > 0 for _, g in last) == min(len(last), sum(len(g) for _, g in last))


def test_static_defaults_to_the_smallest_degree_that_holds_the_longest(make_cost):
    cost = make_cost(8, 1000)
    plan = StaticSPPlanner(cost).plan([3500, 200, 700])
    assert plan.strategy == "static d=4"
    with pytest.raises(ValueError, match="raise degree"):
        StaticSPPlanner(cost, 2).plan([3500, 200])
    with pytest.raises(ValueError, match="degree must be in 1..8"):
        StaticSPPlanner(cost, 16)


def test_adaptive_is_the_fastest_single_degree(make_cost):
    cost = make_cost(8, 2000)
    lens = sample_lengths(30, 1, scale=2.0, max_len=8_000, pad_to=16)
    adaptive = AdaptiveHomogeneousPlanner(cost).plan(lens)
    statics = [StaticSPPlanner(cost, d).plan(lens).predicted_ms for d in (1, 2, 4, 8)
               if lens.max() <= cost.token_capacity * d]
    assert adaptive.predicted_ms == pytest.approx(min(statics))
    assert sorted(adaptive.details["step_ms_by_degree"].values()) == pytest.approx(sorted(statics))
    assert AdaptiveHomogeneousPlanner(cost).plan([]).predicted_ms == 0.0
