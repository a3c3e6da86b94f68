"""Synthetic songs: shapes, seeding, scaling, a sung note in every clip, bad arguments."""

import numpy as np
import pytest

from diversa.datasets.songs import make_synthetic_songs


def test_shapes_and_unpacking():
    voices, accs = make_synthetic_songs(3, fs=8000, duration=0.5, random_state=0)
    assert len(voices) == len(accs) == 3
    assert all(v.shape == a.shape == (4000,) and v.dtype == np.float64 for v, a in zip(voices, accs))


def test_same_seed_same_songs_other_seed_other_songs():
    a = make_synthetic_songs(2, duration=0.5, random_state=7)
    b = make_synthetic_songs(2, duration=0.5, random_state=7)
    c = make_synthetic_songs(2, duration=0.5, random_state=8)
    assert all(np.array_equal(x, y) for x, y in zip(a.voices + a.accompaniments, b.voices + b.accompaniments))
    assert not np.allclose(a.voices[0], c.voices[0])


def test_mixture_peak_is_0_9_and_both_stems_sound():
    songs = make_synthetic_songs(6, duration=1.0, random_state=1)
    for v, a, m in zip(songs.voices, songs.accompaniments, songs.mixtures):
        assert np.max(np.abs(m)) == pytest.approx(0.9)
        assert np.allclose(m, v + a)
        assert v.std() > 0 and a.std() > 0
        # voice level U(-5, 5) dB relative to the accompaniment (both scaled together)
        assert -5.01 <= 20 * np.log10(v.std() / a.std()) <= 5.01


def test_voice_energy_sits_below_nyquist_in_harmonic_bands():
    # The voice is harmonic: most of its energy lies below 4 kHz x 0.9 and well above DC.
    v = make_synthetic_songs(1, fs=8000, duration=1.0, random_state=2).voices[0]
    power = np.abs(np.fft.rfft(v)) ** 2
    freqs = np.fft.rfftfreq(v.size, 1 / 8000)
    assert power[(freqs > 100) & (freqs < 3600)].sum() > 0.95 * power.sum()


def test_every_clip_has_a_sung_note_even_if_short():
    # A 0.1 s clip is one note at most; the generator must still make the voice audible.
    for seed in range(20):
        v = make_synthetic_songs(1, duration=0.1, random_state=seed).voices[0]
        assert np.any(v != 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_clips=0), "n_clips"), (dict(n_clips=1, fs=500), "fs"), (dict(n_clips=1, duration=0.0), "duration"),
    (dict(n_clips=1, duration=float("nan")), "duration"), (dict(n_clips=1.5), "n_clips"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_songs(**kwargs)
