"""CrossItem-Lite: official scoring rules, aggregation, frame budget, solvers, harness."""

import math

import numpy as np
import pytest

from diversa.datasets.crossitem import TASKS, generate_questions
from diversa.evaluate.crossitem import (
    BudgetedOracleSolver,
    CrossItemBenchmark,
    IsolatedSolver,
    OracleSolver,
    RandomSolver,
    aggregate,
    compare_solvers,
    evaluate_solver,
    frames_per_item,
    interval_iou,
    judge_open_ended,
    micro_average,
    open_ended_points,
    overall_from_dimensions,
    question_frames,
    render_prompt,
    score_interval,
    score_multi_choice,
    score_ordering,
    score_single_choice,
)
from diversa.evaluate.crossitem.solvers import MULTI_CHOICE_ANSWERS


@pytest.fixture(scope="module")
def bench():
    return CrossItemBenchmark(n_per_task=12, seed=0)


@pytest.fixture(scope="module")
def questions(bench):
    return bench.generate()


# ---- scoring rules (official semantics) ------------------------------------------------------

@pytest.mark.parametrize("response,strict,expected", [
    ("A", True, 1.0), (" A", True, 0.0), ("A.", True, 0.0), ("B", True, 0.0),
    (" A.", False, 1.0), ("A or B", False, 0.0), ("The answer is A", False, 1.0), ("", False, 0.0),
])
def test_single_choice(response, strict, expected):
    assert score_single_choice(response, "A", strict) == expected


@pytest.mark.parametrize("response,strict,expected", [
    ("BD", True, 1.0), ("DB", True, 0.0), ("DB", False, 1.0), ("B", True, 0.0), ("B", False, 0.0),
    ("BCD", True, 0.0), ("BCD", False, 0.0), ("B, D", False, 1.0), ("B and D", False, 1.0), ("BD", False, 1.0),
])
def test_multi_choice(response, strict, expected):
    assert score_multi_choice(response, ["B", "D"], strict) == expected


@pytest.mark.parametrize("response,strict,expected", [
    ("2->3->1", True, 1.0), ("2 -> 3 -> 1", True, 0.0), ("2 -> 3 -> 1", False, 1.0),
    ("2->3", True, 0.0), ("2->3", False, 0.0), ("2->3->1->4", False, 0.0),
])
def test_ordering(response, strict, expected):
    assert score_ordering(response, "2->3->1", strict) == expected


def test_interval_iou():
    assert interval_iou((10, 20), (15, 25)) == pytest.approx(1 / 3)
    assert interval_iou((10, 20), (10, 20)) == 1.0
    assert interval_iou((0, 5), (10, 20)) == 0.0
    assert interval_iou((5, 5), (5, 5)) == 0.0  # zero hull, as the official code


@pytest.mark.parametrize("response,strict,expected", [
    ("10,20", True, 1.0), ("abc", True, 0.0), ("1,2,3", True, 0.0), ("20,10", True, 0.0),
    ("20,10", False, 1.0), ("from 10 s to 20 s", False, 1.0), ("10 to 20", True, 0.0),
])
def test_score_interval(response, strict, expected):
    assert score_interval(response, (10.0, 20.0), strict) == expected


def test_open_ended_judge_and_micro_average():
    points = [("ingredient vegetable", "carrot", "pepper"), ("step heat sauce", "present", "absent"),
              ("heat oil duration", "short", "long")]
    response = "ingredient vegetable | A: carrot | B: pepper\nstep heat sauce | A: present"
    coverage, correctness = judge_open_ended(response, points)
    assert coverage == [True, True, False] and correctness == [True, False, False]
    assert open_ended_points(response, points) == (3, 6)
    # Two questions scoring 3/6 and 4/4: the task score is 7/10 (micro), not the mean of ratios 0.75.
    assert micro_average([(3, 6), (4, 4)]) == pytest.approx(0.7)
    assert judge_open_ended("", points) == ([False] * 3, [False] * 3)


# ---- aggregation anchored on the published leaderboard -----------------------------------------

@pytest.mark.parametrize("dimensions,overall", [
    ((54.7, 56.0, 28.7, 59.8), 50.4),  # Gemini-2.5-Pro
    ((47.6, 46.7, 38.4, 44.6), 45.2),  # GPT-4.1
    ((26.1, 20.3, 40.7, 9.7), 25.6),   # InternVL3-8B
])
def test_overall_matches_the_leaderboard(dimensions, overall):
    assert overall_from_dimensions(*dimensions) == pytest.approx(overall, abs=0.1)


def test_aggregate_is_the_mean_of_tasks_not_of_dimensions():
    per_task = {"BU": 0.2, "NC": 0.4, "CC": 0.6, "PEA": 0.8, "PI": 1.0, "FSA": 0.5, "PSS": 0.0,
                "MSR": 0.1, "MOC": 0.3, "CCQA": 0.9}
    result = aggregate(per_task)
    assert result["C_avg"] == pytest.approx(0.5) and result["T_avg"] == pytest.approx(0.5)
    assert result["M_avg"] == pytest.approx(0.2) and result["CCQA"] == pytest.approx(0.9)
    assert result["O_avg"] == pytest.approx(np.mean(list(per_task.values())))
    assert result["O_avg"] != pytest.approx(np.mean([0.5, 0.5, 0.2, 0.9]))
    assert aggregate({"BU": 1.0})["T_avg"] is None
    with pytest.raises(ValueError, match="unknown tasks"):
        aggregate({"XYZ": 1.0})


def test_wilson_intervals_match_statsmodels(bench):
    proportion_confint = pytest.importorskip("statsmodels.stats.proportion").proportion_confint
    result = bench.evaluate(RandomSolver(seed=1))
    for task in ("BU", "NC", "PSS"):
        correct = round(result["per_task"][task] * result["n"][task])
        expected = proportion_confint(correct, result["n"][task], alpha=0.05, method="wilson")
        np.testing.assert_allclose(result["ci"][task], expected, atol=1e-12)


# ---- generators ---------------------------------------------------------------------------------

def test_bad_benchmark_arguments():
    with pytest.raises(ValueError, match="tasks"):
        CrossItemBenchmark(tasks=["XYZ"])


def test_oracle_rederives_every_answer(questions):
    oracle = OracleSolver(questions, seed=7)  # a different tie-breaking seed: answers must be unique
    for q in questions:
        response = oracle.answer(q.public(), [])
        if q.format == "interval":
            assert score_interval(response, q.answer) == 1.0
        elif q.format == "open_ended":
            assert open_ended_points(response, q.extra["scoring_points"]) == (2 * len(q.extra["scoring_points"]),) * 2
        else:
            assert response == q.answer, q.id


# ---- frames and the budget ----------------------------------------------------------------------

def test_frame_budget_is_split_over_items(questions):
    for q in questions:
        assert frames_per_item(q, 128) == max(1, 128 // len(q.items))
        assert [len(f) for f in question_frames(q, 8)] == [max(1, 8 // len(q.items))] * len(q.items)
    assert frames_per_item(questions[0], 128, per_item_frames=5) == 5
    with pytest.raises(ValueError, match="total_frames"):
        frames_per_item(questions[0], 0)


# ---- solvers and the harness --------------------------------------------------------------------

def test_oracle_scores_one_everywhere(bench):
    result = bench.evaluate(bench.oracle())
    assert result["per_task"] == {t: 1.0 for t in TASKS} and result["O_avg"] == 1.0
    assert result["mode"] == "strict" and result["alternate"]["mode"] == "tolerant"


def test_random_single_choice_is_at_chance():
    questions = generate_questions(["CC", "PEA", "MSR"], n_per_task=700, seed=1)
    solver = RandomSolver(seed=2)
    hits = [solver.answer(q.public(), []) == q.answer for q in questions]
    assert abs(np.mean(hits) - 0.25) < 3 * math.sqrt(0.25 * 0.75 / len(hits))
    assert len(MULTI_CHOICE_ANSWERS) == 14


def test_isolated_solver_loses_only_cross_item_tasks(bench):
    isolated = bench.evaluate(IsolatedSolver())["per_task"]
    budgeted = bench.evaluate(BudgetedOracleSolver())["per_task"]
    assert isolated["PI"] >= 0.9 and isolated["PSS"] >= 0.9
    cross = ("BU", "NC", "CC", "PEA", "MSR", "MOC")
    assert np.mean([isolated[t] for t in cross]) < 0.5 < np.mean([budgeted[t] for t in cross])


def test_more_frames_help_the_budgeted_oracle(bench):
    small = bench.evaluate(BudgetedOracleSolver(), total_frames=8)["O_avg"]
    large = bench.evaluate(BudgetedOracleSolver(), total_frames=128)["O_avg"]
    assert small < large


def test_failures_score_zero_or_are_dropped(questions):
    subset = [q for q in questions if q.task in ("NC", "FSA")]

    def flaky(question, frames):
        if question.task == "FSA":
            raise RuntimeError("model timed out")
        return "A"

    kept = evaluate_solver(flaky, subset, total_frames=8)
    assert kept["failures"] == {"NC": 0, "FSA": 12} and kept["per_task"]["FSA"] == 0.0
    dropped = evaluate_solver(flaky, subset, total_frames=8, drop_failures=True)
    assert "FSA" not in dropped["per_task"] and dropped["per_task"]["NC"] == kept["per_task"]["NC"]
    with pytest.raises(ValueError, match="one entry per question"):
        evaluate_solver(flaky, subset, frames=[])


def test_tolerant_mode_is_reported_alongside(questions):
    subset = [q for q in questions if q.task == "NC"]
    oracle = OracleSolver(subset)
    padded = evaluate_solver(lambda q, f: f" {oracle.answer(q, f)}.", subset, total_frames=8)
    assert padded["per_task"]["NC"] == 0.0 and padded["alternate"]["per_task"]["NC"] == 1.0
    tolerant = evaluate_solver(lambda q, f: f" {oracle.answer(q, f)}.", subset, total_frames=8, strict=False)
    assert tolerant["mode"] == "tolerant" and tolerant["per_task"]["NC"] == 1.0


def test_compare_solvers_is_holm_corrected(bench):
    tests = compare_solvers(bench.evaluate(bench.oracle()), bench.evaluate(RandomSolver()))
    assert set(tests) == set(TASKS)
    assert tests["NC"]["test"] == "mcnemar-exact" and tests["FSA"]["test"] == "wilcoxon"
    assert all(v["pvalue_holm"] >= v["pvalue"] for v in tests.values())
    assert tests["NC"]["mean_diff"] > 0


def test_render_prompt_layout(questions):
    q = next(q for q in questions if q.task == "CC")
    prompt = render_prompt(q.public(), question_frames(q, 8))
    assert prompt.startswith("Video 1:") and "Video 4:" in prompt
    assert "A. Video" in prompt and "letter of the correct option" in prompt
    assert prompt.count("[") == 8 and q.question in prompt  # 4 videos x 2 frames, with timestamps
