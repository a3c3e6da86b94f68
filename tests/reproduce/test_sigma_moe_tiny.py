import pytest
import torch

from diversa.datasets.algotasks import make_validation_set
from diversa.reproduce import sigma_moe_tiny as sigma
from diversa.reproduce.verdict import judge, oriented_differences

TINY = sigma.Size(steps=8, batch_size=8, n_eval=4, n_test=4)
BALANCE_CHECKS = ("post-switch-balance", "lower-layer-imbalance", "shortcut", "phase1-balance")


@pytest.fixture(autouse=True)
def single_threaded(one_thread):
    yield


def test_no_balance_check_can_pass_on_an_untrained_router(monkeypatch):
    # At initialisation P is flat and f uneven, and k=8 is more balanced than top-1 from k/E alone: the
    # previous checks held there. Measured against the no-LBL arm or against initialisation, every balance
    # check's difference is exactly zero before training, so only training can make one pass.
    monkeypatch.setattr(sigma, "QUICK", sigma.Size(steps=0, batch_size=8, n_eval=4, n_test=4))
    pairs = sigma.run_trial(0, quick=True).pairs
    assert {name: pairs[name][1] - pairs[name][0] for name in BALANCE_CHECKS} == dict.fromkeys(BALANCE_CHECKS, 0.0)
    checks = [c for c in sigma.REPRODUCTION.checks if c.name in BALANCE_CHECKS or c.name == "accuracy"]
    differences = {c.name: oriented_differences([pairs[c.name][0]] * 8, [pairs[c.name][1]] * 8, c.direction)
                   for c in checks}
    outcomes = judge(checks, differences, headline="accuracy", unit=sigma.REPRODUCTION.unit)
    assert all(outcomes[name].outcome in ("inconclusive", "fail") for name in BALANCE_CHECKS)


def test_forked_arms_share_phase_one_exactly():
    # (K) and (B) continue one phase-1 run: a fork must see the same data and optimiser state as the
    # uninterrupted run, or the headline would compare arms that differ before the switch.
    batch = make_validation_set(sigma.TASKS, n_per_task=4, seed=0, n_range=sigma.N_RANGE)
    schedule = [8, 2, 1, 1]
    whole = sigma.Run(0, TINY, schedule, batch).advance(TINY.steps)
    phase1 = sigma.Run(0, TINY, schedule, batch).advance(TINY.steps // 2)
    keep = phase1.fork().advance(TINY.steps)
    convert = phase1.set_topk([1] * 4).advance(TINY.steps)
    for p, q in zip(whole.model.parameters(), keep.model.parameters()):
        torch.testing.assert_close(q, p, atol=1e-6, rtol=1e-5)
    assert [layer.top_k for layer in keep.model.moe_layers()] == schedule
    assert [layer.top_k for layer in convert.model.moe_layers()] == [1, 1, 1, 1]
    assert keep.log[TINY.steps // 2] == convert.log[TINY.steps // 2]
    assert not all(torch.equal(p, q) for p, q in zip(keep.model.parameters(), convert.model.parameters()))


def test_the_no_lbl_control_differs_from_the_lbl_arm_only_in_the_balance_loss(monkeypatch):
    # the shortcut and lower-layer checks read the LBL's effect off the (A0) arm: same init, same data
    calls = []
    original = sigma.train_lm

    def spy(model, stream, steps, **kwargs):
        start = [p.detach().clone() for p in model.parameters()]
        calls.append((stream.seed, kwargs["lb_coef"], kwargs["start"], kwargs["stop"], start))
        return original(model, stream, steps, **kwargs)

    monkeypatch.setattr(sigma, "train_lm", spy)
    monkeypatch.setattr(sigma, "QUICK", TINY)
    sigma.run_trial(3, quick=True)
    with_lbl, without = calls[0], calls[1]
    assert with_lbl[0] == without[0] == 3 and with_lbl[2:4] == without[2:4] == (0, TINY.steps // 2)
    assert all(torch.equal(p, q) for p, q in zip(with_lbl[4], without[4]))
    # None trains with the model's own LBL coefficient, 1e-2; the control switches it off
    assert with_lbl[1] is None and without[1] == 0.0
    assert sigma.sigma_model(3, [1] * 4).config.moe.lb_coef == 1e-2
