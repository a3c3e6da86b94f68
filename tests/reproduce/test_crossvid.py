"""crossvid reproduction: the harness checks hold on a short testbed, the learned reader clears its floor,
and a reader that learned nothing is reported out of regime by the verdict rule."""

import dataclasses

import numpy as np
import pytest

from diversa.reproduce import crossvid, get
from diversa.reproduce.verdict import judge, oriented_differences

TINY = crossvid.TwinSizes(train=40, validation=10, test=40, epochs=2)


@pytest.fixture(scope="module")
def trial():
    patch = pytest.MonkeyPatch()
    patch.setattr(crossvid, "QUESTIONS_PER_TASK", {True: 12, False: 12})
    patch.setattr(crossvid, "TWIN_SIZES", {True: TINY, False: TINY})
    try:
        yield crossvid.run_trial(0, quick=True)
    finally:
        patch.undo()


def test_registered_with_its_paper_and_a_learned_headline():
    reproduction = get("crossvid")
    assert reproduction.arxiv == "2511.12263" and reproduction.headline == "learned-cross-item-drop"
    assert {c.name for c in reproduction.checks_of_kind("regime")} == {"learned-off-floor", "options-only-chance"}


def test_harness_checks_hold_on_a_short_testbed(trial):
    pairs = trial.pairs
    assert set(pairs) == {check.name for check in crossvid.REPRODUCTION.checks}
    assert pairs["oracle-perfect"][1] == 1.0  # every generated answer is unique and re-derivable
    assert pairs["single-source-controls"][1] > 0.9  # PI and PSS need no cross-item integration
    assert pairs["random-at-chance"][1] < crossvid.RANDOM_Z_BOUND
    # Both twins carry the same evidence: exact reasoning scores them alike, near 100 %.
    exact = trial.diagnostics["twins"]["exact_reasoning"]
    assert exact["single"] == exact["cross"] > 0.9


@pytest.mark.slow
def test_the_reader_clears_its_floor_on_a_shortened_testbed(one_thread):
    sizes = crossvid.TwinSizes(train=300, validation=60, test=120, epochs=14)
    accuracy = crossvid.learned_twin_accuracy(0, sizes)["accuracy"]
    assert accuracy["single"] > crossvid.TWIN_CHANCE + crossvid.FLOOR_MARGIN


class _ShuffledAnswers(crossvid.RecurrentReaderSolver):
    """A broken learner: trained on answers shuffled across questions, it can learn nothing."""

    def fit(self, questions, frames, validation=None):
        order = np.random.default_rng(self.seed).permutation(len(questions))
        shuffled = [dataclasses.replace(q, answer=questions[k].answer) for q, k in zip(questions, order)]
        return super().fit(shuffled, frames, validation=validation)


def test_a_reader_that_learned_nothing_is_out_of_regime(monkeypatch, one_thread):
    monkeypatch.setattr(crossvid, "RecurrentReaderSolver", _ShuffledAnswers)
    units = [crossvid.learned_twin_accuracy(seed, TINY)["accuracy"] for seed in range(6)]
    pairs = {"learned-cross-item-drop": [(u["cross"], u["single"]) for u in units],
             "learned-off-floor": [(crossvid.TWIN_CHANCE + crossvid.FLOOR_MARGIN, u["single"]) for u in units]}
    checks = [c for c in crossvid.REPRODUCTION.checks if c.name in pairs]
    differences = {c.name: oriented_differences(*np.array(pairs[c.name]).T, c.direction) for c in checks}
    outcome = judge(checks, differences, headline="learned-cross-item-drop", unit=crossvid.REPRODUCTION.unit)
    assert outcome["learned-off-floor"].outcome == "fail"
    assert outcome["learned-cross-item-drop"].outcome == "out of regime"


def test_chance_levels():
    questions = crossvid.CrossItemBenchmark(tasks=["BU", "PSS", "CCQA"], n_per_task=4, seed=0).generate()
    chance = crossvid.chance_by_task(questions, 0)
    assert chance["BU"][0] == pytest.approx(1 / 14) and chance["CCQA"] == (0.0, 0.0)
    assert 1 / 720 <= chance["PSS"][0] <= 1 / 6
