"""SingingVoiceSeparator: fit / separate shapes, reproducibility, the IRM variant, save and load, bad input."""

import numpy as np
import pytest
import torch

from diversa.apps.separation import SingingVoiceSeparator, load_separator, save_separator
from diversa.datasets.songs import make_synthetic_songs
from diversa.evaluate.bss import nsdr

SMALL = dict(n_fft=256, channels=(4, 4, 4, 4), fc=(32, 16), dropout=0.0, pretrain=None, epochs=1, batch_size=32,
             train_hop=4)


@pytest.fixture(scope="module")
def songs():
    return make_synthetic_songs(3, duration=0.5, random_state=0)


@pytest.fixture(scope="module")
def fitted(songs):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return SingingVoiceSeparator(**SMALL, random_state=0).fit(songs.voices[:2], songs.accompaniments[:2])
    finally:
        torch.set_num_threads(previous)


def test_mask_and_stems_have_the_mixture_shapes(fitted, songs):
    mix = songs.mixtures[2]
    prob = fitted.predict_mask(mix)
    assert prob.shape == (129, 1 + mix.size // 64) and prob.min() >= 0 and prob.max() <= 1
    voice, acc = fitted.separate(mix)
    assert voice.shape == acc.shape == mix.shape


def test_threshold_zero_splits_the_mixture_exactly(fitted, songs):
    # With tau = 0 the masks P and 1 - P sum to one, so the stems add up to the mixture.
    mix = songs.mixtures[2]
    voice, acc = fitted.separate(mix, threshold=0.0)
    assert np.abs(voice + acc - mix).max() < 1e-6
    voice, acc = fitted.separate(mix, threshold=0.6)   # P or 1 - P (or both) below tau somewhere
    assert np.abs(voice + acc - mix).max() > 1e-6


def test_same_seed_same_model_and_global_rng_untouched(fitted, songs, one_thread):
    state = torch.get_rng_state()
    again = SingingVoiceSeparator(**SMALL, random_state=0).fit(songs.voices[:2], songs.accompaniments[:2])
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(again.predict_mask(songs.mixtures[2]), fitted.predict_mask(songs.mixtures[2]))


def test_oracle_ibm_beats_the_mixture_by_5_db():
    from diversa.apps.separation import STFT, ideal_binary_mask, separate_with_mask

    (v,), (a,) = make_synthetic_songs(1, duration=1.0, random_state=3)
    st = STFT()
    ibm = ideal_binary_mask(np.abs(st(v)), np.abs(st(a)))
    est = np.stack(separate_with_mask(st, v + a, ibm))
    assert np.all(nsdr(np.stack([v, a]), est, v + a, filter_len=64) > 5)


def test_irm_variant_trains_with_mse_and_no_threshold(songs, one_thread):
    irm = SingingVoiceSeparator(target="irm", **SMALL, random_state=0).fit(songs.voices[:2], songs.accompaniments[:2])
    assert irm._resolved_threshold(None) == 0.0
    assert SingingVoiceSeparator()._resolved_threshold(None) == 0.35
    assert irm.loss_curve_[0] < 0.5   # a squared error of probabilities, not a cross-entropy


def test_save_and_load_give_the_same_separation(fitted, songs, tmp_path):
    path = tmp_path / "m.pt"
    save_separator(fitted, path)
    loaded = load_separator(path)
    assert np.array_equal(loaded.predict_mask(songs.mixtures[2]), fitted.predict_mask(songs.mixtures[2]))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a separator model"):
        load_separator(tmp_path / "junk.pt")


def test_autoencoder_pretraining_and_validation_run(songs, one_thread):
    sep = SingingVoiceSeparator(**{**SMALL, "pretrain": "ae", "ae_epochs": 1}, random_state=0)
    sep.fit(songs.voices[:1], songs.accompaniments[:1], val=(songs.voices[2:], songs.accompaniments[2:]))
    assert len(sep.ae_loss_curve_) == 1 and sep.best_epoch_ == 0 and len(sep.val_loss_curve_) == 1


@pytest.mark.parametrize("params, match", [
    (dict(target="wiener"), "target"), (dict(input_transform="db"), "input_transform"),
    (dict(threshold=1.0), "threshold"), (dict(context=8), "context"), (dict(label_smoothing=(0.9, 0.1)), "smoothing"),
    (dict(pretrain="rbm"), "pretrain"), (dict(lr=0), "lr"), (dict(hop=300), "hop"),
])
def test_bad_hyper_parameters(params, match, songs):
    with pytest.raises(ValueError, match=match):
        SingingVoiceSeparator(**params).fit(songs.voices[:1], songs.accompaniments[:1])


def test_bad_training_data_and_mixtures(fitted, songs):
    sep = SingingVoiceSeparator(**SMALL)
    with pytest.raises(ValueError, match="equal length"):
        sep.fit(songs.voices[:2], songs.accompaniments[:1])
    with pytest.raises(ValueError, match="differ in length"):
        sep.fit([songs.voices[0]], [songs.accompaniments[0][:-1]])
    with pytest.raises(TypeError, match="list"):
        sep.fit(songs.voices[0], songs.accompaniments[0])
    with pytest.raises(ValueError, match="at least"):
        fitted.separate(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        fitted.separate(np.full(1000, np.nan))
    with pytest.raises(ValueError, match="threshold"):
        fitted.separate(songs.mixtures[0], threshold=-0.1)
