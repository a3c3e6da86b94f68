import pytest
import torch

from diversa.datasets.algotasks import make_test_set, make_validation_set
from diversa.reproduce import scmoe
from diversa.reproduce.verdict import judge, oriented_differences

TINY = scmoe.Size(base_steps=15, n_test=3, n_val=2)


@pytest.fixture(autouse=True)
def small_and_single_threaded(monkeypatch, tmp_path, one_thread):
    monkeypatch.setenv("DIVERSA_CACHE", str(tmp_path))
    monkeypatch.setattr(scmoe, "QUICK", TINY)


def test_beta_is_chosen_on_validation_prompts_never_on_test(monkeypatch):
    seen = []
    original = scmoe.SCMoEDecoder.fit

    def spy(self, prompts):
        seen.append(prompts.input_ids.clone())
        return original(self, prompts)

    monkeypatch.setattr(scmoe.SCMoEDecoder, "fit", spy)
    result = scmoe.run_trial(0, quick=True)
    val = make_validation_set(scmoe.TASKS, n_per_task=TINY.n_val, seed=0)
    test = make_test_set(scmoe.TASKS, n_per_task=TINY.n_test, seed=0)
    assert len(seen) == 1 and all(torch.equal(ids, val.input_ids) for ids in seen)
    assert not any(ids.shape == test.input_ids.shape and torch.equal(ids, test.input_ids) for ids in seen)
    assert result.diagnostics["beta_rank2"] in (0.1, 0.3, 0.5, 0.7, 0.9)


def test_a_weak_base_puts_the_headline_out_of_regime():
    # the previous base decoded modadd at 0.00 and nothing flagged it: the floor check must
    pairs = scmoe.run_trial(0, quick=True).pairs
    assert pairs["greedy-off-floor"][1] < scmoe.FLOOR  # 15 training steps: near floor
    differences = {c.name: oriented_differences([pairs[c.name][0]] * 8, [pairs[c.name][1]] * 8, c.direction)
                   for c in scmoe.REPRODUCTION.checks}
    outcomes = judge(scmoe.REPRODUCTION.checks, differences, headline="accuracy", unit=scmoe.REPRODUCTION.unit)
    assert outcomes["greedy-off-floor"].outcome == "fail"
    assert outcomes["accuracy"].outcome == outcomes["divergence"].outcome == "out of regime"
