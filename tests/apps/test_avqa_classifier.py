"""The tiny AVQA network and its plain / MCCD trainer: shared init, fused-only prediction, bad input."""

import numpy as np
import pytest
import torch

from diversa.apps.avqa import DebiasedAVQAClassifier, TinyAVQANet
from diversa.datasets.avqa import make_biased_avqa

SMALL = dict(d_model=16, dim_feedforward=32, n_heads=2, batch_size=64)


@pytest.fixture(scope="module")
def data():
    return make_biased_avqa(256, prior_seed=0, n_frames=1, random_state=0)


def test_forward_shapes_and_keys(one_thread):
    net = TinyAVQANet(d_model=16, dim_feedforward=32, n_heads=2)
    q, a, v = torch.randn(5, 512), torch.randn(5, 4, 16), torch.randn(5, 12, 16)
    assert set(net(q, a, v)) == {"fusion"}
    out = net(q, a, v, with_bias=True)
    assert set(out) == {"fusion", "q", "a", "v"} and all(t.shape == (5, 15) for t in out.values())


def test_bias_learners_see_one_modality_only(one_thread):
    net = TinyAVQANet(d_model=16, dim_feedforward=32, n_heads=2).eval()
    q, a, v = torch.randn(3, 512), torch.randn(3, 4, 16), torch.randn(3, 12, 16)
    base = net(q, a, v, with_bias=True)
    changed = net(q, a + 1.0, v, with_bias=True)           # new audio: only the fused and audio logits move
    assert torch.allclose(base["q"], changed["q"]) and torch.allclose(base["v"], changed["v"])
    assert not torch.allclose(base["a"], changed["a"]) and not torch.allclose(base["fusion"], changed["fusion"])


def test_predictions_ignore_the_bias_learners(data, one_thread):
    clf = DebiasedAVQAClassifier("mccd", epochs=1, random_state=0, **SMALL).fit(data)
    before = clf.predict_proba(data)
    with torch.no_grad():
        for p in clf.model_.bias_learners.parameters():
            p.zero_()
    assert np.array_equal(before, clf.predict_proba(data))
    assert np.array_equal(clf.predict(data), before.argmax(1))


def test_both_methods_start_from_the_same_network_and_take_the_same_steps(data, one_thread):
    nets = {m: DebiasedAVQAClassifier(m, epochs=0, random_state=3, **SMALL).fit(data).model_ for m in ("plain", "mccd")}
    for (name, p), (_, q) in zip(nets["plain"].state_dict().items(), nets["mccd"].state_dict().items()):
        assert torch.equal(p, q), name
    fits = {m: DebiasedAVQAClassifier(m, epochs=2, random_state=3, **SMALL).fit(data) for m in ("plain", "mccd")}
    assert fits["plain"].n_steps_ == fits["mccd"].n_steps_ == 2 * 4
    assert set(fits["plain"].history_[-1]) == {"loss", "ce"}
    assert {"dist_term", "cycle_term", "dist_q"} <= set(fits["mccd"].history_[-1])
    # the objectives differ, so the trained networks do
    assert not np.allclose(fits["plain"].decision_function(data), fits["mccd"].decision_function(data))


def test_fit_is_reproducible_and_leaves_torch_global_state_alone(data, one_thread):
    state = torch.random.get_rng_state()
    a = DebiasedAVQAClassifier("mccd", epochs=1, random_state=7, **SMALL).fit(data)
    assert torch.equal(state, torch.random.get_rng_state())
    b = DebiasedAVQAClassifier("mccd", epochs=1, random_state=7, **SMALL).fit(data)
    assert np.array_equal(a.decision_function(data), b.decision_function(data))


def test_mccd_drives_the_bias_learners_to_agree(data, one_thread):
    clf = DebiasedAVQAClassifier("mccd", epochs=3, lr=3e-3, random_state=0, **SMALL).fit(data)
    assert clf.bias_diagnostics(data)["cycle_kl"] < clf.init_diagnostics_["cycle_kl"]
    assert 0.0 <= clf.score(data) <= 1.0


def test_any_module_with_the_interface_can_be_trained(data, one_thread):
    made = []

    def factory(question_dim, audio_dim, video_dim, n_answers):
        made.append((question_dim, audio_dim, video_dim, n_answers))
        return TinyAVQANet(question_dim, audio_dim, video_dim, n_answers, d_model=8, dim_feedforward=16, n_heads=2,
                           n_layers=1)

    clf = DebiasedAVQAClassifier("mccd", epochs=1, module=factory, random_state=0).fit(data)
    assert made == [(512, 16, 16, 15)] and clf.predict(data).shape == (len(data),)


def test_bad_input(data):
    with pytest.raises(ValueError, match="method"):
        DebiasedAVQAClassifier("rubi").fit(data)
    with pytest.raises(ValueError, match="epochs"):
        DebiasedAVQAClassifier(epochs=-1).fit(data)
    with pytest.raises(TypeError, match="AVQADataset"):
        DebiasedAVQAClassifier(epochs=0).fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="y must"):
        DebiasedAVQAClassifier(epochs=0).fit(data, y=np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="loss_kwargs"):
        DebiasedAVQAClassifier(epochs=0, loss_kwargs=[1]).fit(data)
    with pytest.raises(ValueError, match="divisible"):
        TinyAVQANet(d_model=10, n_heads=4)
