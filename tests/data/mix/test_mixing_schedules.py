"""Mixers' phase protocol (Aioli, static, DoReMi-style) and sampling by group."""

import numpy as np
import pytest

from diversa.data.mix import (
    AioliMixer,
    DoReMiMixer,
    GroupSampler,
    StaticMixer,
    mixture_counts,
    run_schedule,
)


class ToyModel:
    """Group losses fall with training on a mixture through a fixed gain matrix G (the 'true' A)."""

    def __init__(self, G, start=(3.0, 3.0, 3.0)):
        self.G, self.losses, self.log = np.asarray(G, float), np.array(start, float), []

    def train(self, p, n):
        self.log.append((np.asarray(p).copy(), n))
        self.losses = self.losses - 0.01 * n * self.G @ np.asarray(p)

    def val(self):
        return self.losses.copy()


G = np.array([[1.0, 0.2, 0.0], [0.2, 0.6, 0.0], [0.0, 0.0, 0.0]])


def _phases(mixer):
    model = ToyModel(G)
    steps = run_schedule(mixer, model.train, model.val)
    return steps, model


def test_aioli_schedule_counts():
    mixer = AioliMixer(3, total_steps=170, update_steps=40, lp_rounds=2, lp_steps=3, one_hot_factor=0.5,
                       eta=0.5, random_state=0)
    steps, model = _phases(mixer)
    assert steps == 170 == mixer.steps_done_ == sum(n for _, n in model.log)
    # rounds of 40: four full rounds learn (18 steps) then train 22; final round of 10 < 18 only trains
    assert len(mixer.A_history_) == 4 and len(mixer.proportions_history_) == 5
    learn = [n for p, n in model.log if n == 3]
    assert len(learn) == 4 * 2 * 3
    # every group visited exactly lp_rounds times per round
    first_round = [int(np.argmax(p)) for p, n in model.log[:6]]
    assert sorted(first_round) == [0, 0, 1, 1, 2, 2]
    assert mixer.n_evaluations_ == 1 + 4 * 6 + 4   # initial + learn phases + train phases before the last


def test_aioli_recovers_true_matrix_and_downweights_useless_group():
    mixer = AioliMixer(3, total_steps=200, update_steps=50, lp_rounds=1, lp_steps=2, one_hot_factor=0.5,
                       eta=1.0, random_state=1)
    _phases(mixer)
    np.testing.assert_allclose(mixer.A_history_[0], G / G.sum(), atol=1e-10)
    p = mixer.proportions_history_
    assert p[-1][2] < p[0][2] < 1 / 3 and p[-1][0] > 1 / 3
    for q in p:
        assert q.sum() == pytest.approx(1.0)


def test_aioli_cumulative_vs_ema_hand_computed():
    A = G / G.sum()
    cum = AioliMixer(3, total_steps=100, update_steps=50, lp_rounds=1, lp_steps=2, one_hot_factor=1.0,
                     eta=1.0, random_state=0)
    _phases(cum)
    e = np.exp(A.sum(0))
    np.testing.assert_allclose(cum.proportions_history_[0], e / e.sum())
    np.testing.assert_allclose(cum.proportions_history_[1], e ** 2 / (e ** 2).sum())
    ema = AioliMixer(3, total_steps=100, update_steps=50, lp_rounds=1, lp_steps=2, one_hot_factor=1.0,
                     eta=1.0, ema=0.5, random_state=0)
    _phases(ema)
    np.testing.assert_allclose(ema.proportions_history_[1], e / e.sum())   # non-cumulative: same A, same p


def test_aioli_static_diagonal_and_prior():
    static = AioliMixer(3, total_steps=100, update_steps=100, lp_rounds=1, lp_steps=2, one_hot_factor=0.5,
                        eta=1.0)
    _phases(static)
    assert len(static.A_history_) == 1
    diag = AioliMixer(3, total_steps=100, update_steps=50, lp_rounds=1, lp_steps=2, one_hot_factor=0.5,
                      eta=1.0, diagonal=True)
    _phases(diag)
    A = diag.A_history_[0]
    assert np.count_nonzero(A - np.diag(np.diag(A))) == 0
    prior = AioliMixer(3, total_steps=100, update_steps=40, lp_rounds=1, lp_steps=2, one_hot_factor=0.5,
                       eta=1.0, prior=[0.6, 0.3, 0.1], prior_steps=20)
    steps, model = _phases(prior)
    assert steps == 100 and model.log[0][1] == 20
    np.testing.assert_allclose(model.log[0][0], [0.6, 0.3, 0.1])


def test_aioli_protocol_errors():
    mixer = AioliMixer(3, total_steps=100, update_steps=50, lp_rounds=1, lp_steps=2, one_hot_factor=0.5)
    with pytest.raises(RuntimeError, match="before the first phase"):
        mixer.next_phase()
    mixer.report_val_losses([1.0, 1.0, 1.0])
    mixer.next_phase()
    with pytest.raises(RuntimeError, match="evaluate_after"):
        mixer.next_phase()
    with pytest.raises(ValueError, match="losses"):
        mixer.report_val_losses([1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="one_hot_factor"):
        AioliMixer(3, 100, 50, one_hot_factor=1 / 3)
    with pytest.raises(ValueError, match="prior must sum to 1"):
        AioliMixer(3, 100, 50, prior=[0.5, 0.5, 0.5], prior_steps=10)
    with pytest.raises(ValueError, match="total_steps"):
        AioliMixer(3, 0, 50)
    with pytest.raises(TypeError, match="update_steps"):
        AioliMixer(3, 100, 5.5)


def test_static_mixer():
    steps, model = _phases(StaticMixer(3, 50))
    assert steps == 50 and model.log[0][0].tolist() == pytest.approx([1 / 3] * 3)
    with pytest.raises(ValueError, match="proportions"):
        StaticMixer(3, 50, proportions=[0.2, 0.2, 0.2])
    with pytest.raises(ValueError, match="proportions must have one entry per group"):
        StaticMixer(3, 50, proportions=[0.5, 0.5])


def test_doremi_moves_to_excess_loss_and_averages():
    model = ToyModel(G)
    mixer = DoReMiMixer(3, total_steps=60, update_every=10, eta=1.0, reference_losses=[0.0, 0.0, 3.0])
    steps = run_schedule(mixer, model.train, model.val)
    assert steps == 60 and len(mixer.proportions_history_) == 6
    avg = mixer.average_proportions_
    assert avg.sum() == pytest.approx(1.0) and avg[2] < 1 / 3   # no excess loss on the irreducible group
    with pytest.raises(RuntimeError, match="reference_losses"):
        run_schedule(DoReMiMixer(3, 20, update_every=10), model.train, model.val)


def test_group_sampler_counts_and_coverage():
    s = GroupSampler([np.arange(0, 5), np.arange(5, 8), np.arange(8, 20)], random_state=0)
    assert mixture_counts([1 / 3] * 3, 32).sum() == 32
    idx = np.concatenate([s.sample([0.5, 0.25, 0.25], 8) for _ in range(5)])
    groups = s.group_of(idx)
    assert np.bincount(groups).tolist() == [20, 10, 10]
    first = idx[groups == 0][:5]
    assert sorted(first.tolist()) == [0, 1, 2, 3, 4]   # one full pass before repeating
    assert GroupSampler.from_labels(np.array([0, 1, 1, 2])).n_groups == 3


def test_group_sampler_errors():
    with pytest.raises(ValueError, match=r"groups\[1\] has no data"):
        GroupSampler([[0, 1], []])
    with pytest.raises(ValueError, match=r"groups\[1\] has no data"):
        GroupSampler.from_labels(np.array([0, 0, 2]))
    s = GroupSampler([[0], [1]])
    with pytest.raises(ValueError, match="p must sum to 1"):
        s.sample([0.7, 0.7], 4)
    with pytest.raises(ValueError, match="p must be non-negative"):
        s.sample([1.5, -0.5], 4)
    with pytest.raises(ValueError, match="p contains NaN"):
        s.sample([np.nan, 1.0], 4)
    with pytest.raises(ValueError, match="batch_size"):
        s.sample([0.5, 0.5], 0)
