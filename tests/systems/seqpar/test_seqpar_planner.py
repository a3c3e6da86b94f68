"""FlexSPPlanner (arXiv:2412.01523): valid plans, the safeguard ordering, no gain without heterogeneity."""

import numpy as np
import pytest

from diversa.systems.seqpar import (
    AdaptiveHomogeneousPlanner,
    FlexSPPlanner,
    StaticSPPlanner,
    best_homogeneous,
    check_plan,
    sample_lengths,
    simulate,
)
from diversa.systems.seqpar.plan import micro_batch_time

#: A cluster of 8 devices of 2,000 tokens, where the longest sequences need every device.
CLUSTER = dict(n_devices=8, capacity=2000)


def batch(seed, n=24, max_len=16_000):
    return sample_lengths(n, seed, scale=2.0, max_len=max_len, pad_to=16)


@pytest.fixture
def cost8(make_cost):
    return make_cost(**CLUSTER)


@pytest.mark.parametrize("options", [
    dict(), dict(safeguard="none"), dict(safeguard="micro", mb_options=2), dict(solver="greedy"),
    dict(bucketing="even", n_buckets=3), dict(bucketing="none"), dict(official=True), dict(sort=False),
])
def test_plans_are_valid(cost8, options):
    for seed in range(2):
        lens = batch(seed, n=16)
        plan = FlexSPPlanner(cost8, random_state=seed, node_limit=10, **options).plan(lens)
        check_plan(plan, lens, cost8)   # every sequence once, degrees sum to N, memory, time recomputes
        assert plan.n_micro == len(plan.solver_status) == len(plan.micro_batch_ms)


def test_the_authors_cost_model_gives_valid_heterogeneous_plans(gpt16):
    lens = sample_lengths(48, 3, max_len=128_000, pad_to=32)
    plan = FlexSPPlanner(gpt16, node_limit=5, mb_options=1, random_state=0).plan(lens)
    check_plan(plan, lens, gpt16)
    assert plan.details["adaptive_ms"] >= plan.predicted_ms


def test_safeguarded_flexsp_is_no_slower_than_adaptive_which_is_no_slower_than_static(cost8):
    for seed in range(3):
        lens = batch(seed)
        static = StaticSPPlanner(cost8, degree=8).plan(lens)
        adaptive = AdaptiveHomogeneousPlanner(cost8).plan(lens)
        flexsp = FlexSPPlanner(cost8, safeguard="step", random_state=0).plan(lens)
        assert flexsp.predicted_ms <= adaptive.predicted_ms <= static.predicted_ms


def test_equal_lengths_leave_nothing_to_gain_beyond_the_best_single_degree(cost8):
    # 16 equal sequences that each fit one device: one per device is optimal (the area bound).
    lens = np.full(16, 1500)
    for safeguard in ("none", "micro"):
        planner = FlexSPPlanner(cost8, safeguard=safeguard, mip_rel_gap=1e-9, node_limit=None, random_state=0)
        plan = planner.plan(lens)
        for groups in plan.micro_batches:
            ids = [i for _, g in groups for i in g]
            best = micro_batch_time(cost8, lens, best_homogeneous(cost8, lens, ids, (1, 2, 4, 8)))
            assert micro_batch_time(cost8, lens, groups) >= best * (1 - 1e-6)


def test_plans_are_reproducible_and_do_not_depend_on_n_jobs(cost8):
    lens = batch(5, n=32)
    first = FlexSPPlanner(cost8, random_state=3).plan(lens)
    again = FlexSPPlanner(cost8, random_state=3).plan(lens)
    assert first.micro_batches == again.micro_batches and first.predicted_ms == again.predicted_ms


@pytest.mark.slow
def test_parallel_planning_gives_the_same_plan(cost8):
    lens = batch(5, n=32)
    serial = FlexSPPlanner(cost8, random_state=3, n_jobs=1).plan(lens)
    parallel = FlexSPPlanner(cost8, random_state=3, n_jobs=2).plan(lens)
    assert serial.micro_batches == parallel.micro_batches


def test_empty_batch_and_bad_input(cost8, make_cost):
    empty = FlexSPPlanner(cost8).plan([])
    assert empty.micro_batches == [] and empty.predicted_ms == 0.0
    with pytest.raises(ValueError, match="does not fit even a group of 8"):
        FlexSPPlanner(cost8).plan([100, 16_001])
    with pytest.raises(ValueError, match="not a power of two"):
        FlexSPPlanner(make_cost(6, 1000))
    six = make_cost(6, 1000, bandwidth_gbs={2: 50.0, 3: 45.0, 6: 20.0})
    lens = [500, 2500, 900]
    check_plan(FlexSPPlanner(six, degrees=(1, 2, 3, 6), random_state=0).plan(lens), lens, six)
    for bad in (dict(solver="cplex"), dict(safeguard="all"), dict(bucketing="kmeans"), dict(n_buckets=0),
                dict(mb_options=0), dict(node_limit=0), dict(time_limit=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            FlexSPPlanner(cost8, **bad)


def test_simulate_reports_one_row_per_step(cost8):
    frame = simulate(FlexSPPlanner(cost8, mb_options=1, random_state=0), [batch(0, n=12), batch(1, n=12)])
    assert list(frame["step"]) == [0, 1] and (frame["predicted_ms"] > 0).all()
    assert set(frame.columns) >= {"n_micro", "heterogeneous_fraction", "degrees", "solve_seconds"}


@pytest.mark.slow
def test_64_gpus_and_512_sequences_are_planned_within_10_seconds():
    import time

    from diversa.systems.seqpar import SPCostModel

    cost = SPCostModel.gpt("7b", 64)
    lens = sample_lengths(512, 0, max_len=128_000, pad_to=128)
    started = time.process_time()
    plan = FlexSPPlanner(cost, time_limit=0.3, node_limit=None, mb_options=3, random_state=0).plan(lens)
    assert time.process_time() - started < 10.0
    check_plan(plan, lens, cost)
    assert plan.predicted_ms < StaticSPPlanner(cost, cost.min_degree(128_000)).plan(lens).predicted_ms
