"""crossvid reproduction: one reduced trial returns every check with sane values."""

import math

import pytest

from diversa.reproduce import crossvid, get


@pytest.fixture(scope="module")
def trial():
    patch = pytest.MonkeyPatch()
    patch.setattr(crossvid, "QUESTIONS_PER_TASK", {True: 15, False: 15})
    try:
        yield crossvid.run_trial(0, quick=True)
    finally:
        patch.undo()


def test_registered_with_its_paper():
    reproduction = get("crossvid")
    assert reproduction.arxiv == "2511.12263" and reproduction.quick_trials >= 5


def test_trial_gives_a_pair_for_every_check(trial):
    assert set(trial.pairs) == {check.name for check in crossvid.REPRODUCTION.checks}
    assert all(len(pair) == 2 and all(math.isfinite(v) for v in pair) for pair in trial.pairs.values())


def test_trial_values_are_sane(trial):
    pairs = trial.pairs
    assert pairs["oracle-perfect"] == (0.999, 1.0)
    assert 0 <= pairs["integration-gap"][0] <= pairs["integration-gap"][1] <= 1
    assert pairs["random-at-chance"][1] >= 0 and -1 <= pairs["budget-monotone"][1] <= 1
    assert 0 <= pairs["single-source-controls"][0] <= 1 and 0.8 <= pairs["single-source-controls"][1] <= 1
    curve = trial.diagnostics["budget_curve_O_avg"]
    assert list(curve) == ["8", "16", "32", "64", "128"] and curve["8"] < curve["128"]


def test_chance_levels():
    questions = crossvid.CrossItemBenchmark(tasks=["BU", "PSS", "CCQA"], n_per_task=4, seed=0).generate()
    chance = crossvid.chance_by_task(questions, 0)
    assert chance["BU"][0] == pytest.approx(1 / 14) and chance["CCQA"] == (0.0, 0.0)
    assert 1 / 720 <= chance["PSS"][0] <= 1 / 6
