"""StepPlan, step_time and check_plan: what every planner returns and how it is checked."""

import json

import pytest

from diversa.systems.seqpar import check_plan, step_time
from diversa.systems.seqpar.plan import candidate_degrees, make_plan, min_allowed_degree

LENS = [900, 1500, 300, 2500]


@pytest.fixture
def good(cost4):
    return make_plan(cost4, LENS, [[(4, [3])], [(2, [1]), (1, [0]), (1, [2])]], strategy="test")


def test_a_valid_plan_passes_and_its_time_is_the_sum_of_slowest_groups(cost4, good):
    check_plan(good, LENS, cost4)
    expected = cost4.group_time([2500], 4) + max(cost4.group_time([1500], 2), cost4.group_time([900], 1),
                                                 cost4.group_time([300], 1))
    assert good.predicted_ms == pytest.approx(expected) == step_time(cost4, LENS, good.micro_batches)
    assert good.degrees() == [[4], [2, 1, 1]] and good.heterogeneous_fraction() == 0.5
    assert good.degree_histogram() == {1: 2, 2: 1, 4: 1}
    payload = json.loads(json.dumps(good.to_dict(LENS)))
    assert payload["micro_batches"][0] == [{"degree": 4, "sequences": [3], "lengths": [2500]}]


@pytest.mark.parametrize("micro_batches, message", [
    ([[(4, [3])], [(2, [1]), (1, [0])]], "sum to 3"),
    ([[(4, [3])], [(2, [1, 2]), (1, [0]), (1, [2])]], "not once"),
    ([[(4, [3])], [(2, [1]), (2, [0])]], "not once"),
    ([[(2, [3]), (2, [])], [(2, [1]), (1, [0]), (1, [2])]], "holds 2500 tokens"),
])
def test_invalid_plans_are_caught(cost4, micro_batches, message):
    plan = make_plan(cost4, LENS, micro_batches, strategy="bad")
    with pytest.raises(ValueError, match=message):
        check_plan(plan, LENS, cost4)


def test_a_wrong_predicted_time_is_caught(cost4, good):
    good.predicted_ms += 1.0
    with pytest.raises(ValueError, match="recomputation"):
        check_plan(good, LENS, cost4)


def test_candidate_and_minimum_degrees(make_cost):
    assert candidate_degrees(16) == (1, 2, 4, 8, 16)
    assert candidate_degrees(16, official=True) == (2, 4, 8, 16)
    assert candidate_degrees(12, (6, 3, 1)) == (1, 3, 6)
    with pytest.raises(ValueError, match="1..4"):
        candidate_degrees(4, (8,))
    cost = make_cost(4, 1000)
    assert min_allowed_degree(cost, 1001, (1, 2, 4)) == 2 and min_allowed_degree(cost, 1001, (4,)) == 4
    with pytest.raises(ValueError, match="at most 4000 tokens"):
        min_allowed_degree(cost, 4001, (1, 2, 4))
