"""The torch.stft front end: scipy's magnitudes and frame count, exact inverse, bad settings."""

import numpy as np
import pytest
import scipy.signal

from diversa.apps.separation import STFT


@pytest.mark.parametrize("win, n_fft, hop", [(256, 512, 64), (256, 256, 64), (128, 512, 32)])
def test_magnitudes_and_frames_equal_scipy(win, n_fft, hop):
    x = np.random.default_rng(0).standard_normal(4096)
    ours = STFT(win, n_fft, hop)(x)
    _, _, ref = scipy.signal.stft(x, 8000, "hann", nperseg=win, noverlap=win - hop, nfft=n_fft)
    assert ours.shape == ref.shape == (n_fft // 2 + 1, 1 + 4096 // hop)
    assert np.abs(np.abs(ours) - np.abs(ref)).max() < 1e-10
    # A length that is no multiple of the hop: scipy pads one more frame at the end; the others agree.
    short = STFT(win, n_fft, hop)(x[:4001])
    _, _, ref = scipy.signal.stft(x[:4001], 8000, "hann", nperseg=win, noverlap=win - hop, nfft=n_fft)
    assert short.shape[1] == 1 + 4001 // hop
    assert np.abs(np.abs(short) - np.abs(ref[:, : short.shape[1]])).max() < 1e-10


def test_window_is_normalised_by_its_sum():
    # A full-scale sinusoid on a bin centre peaks at 0.5 (half its amplitude), as scipy's default scaling.
    st = STFT(256, 256, 64)
    n = np.arange(8000)
    peak = np.abs(st(np.cos(2 * np.pi * 32 * n / 256)))[:, 10:-10].max()
    assert peak == pytest.approx(0.5, abs=1e-6)


def test_round_trip_below_1e_6():
    st = STFT()
    x = np.random.default_rng(1).standard_normal((2, 3001))
    assert np.abs(st.inverse(st(x), 3001) - x).max() < 1e-6


@pytest.mark.parametrize("kwargs, match", [
    (dict(win_length=512, n_fft=256), "win_length"), (dict(hop=200), "hop"), (dict(hop=0), "hop"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        STFT(**kwargs)


def test_bad_signals():
    st = STFT()
    with pytest.raises(ValueError, match="at least"):
        st(np.zeros(100))
    with pytest.raises(ValueError, match="1-d"):
        st(np.zeros((2, 2, 300)))
    with pytest.raises(ValueError, match="spec"):
        st.inverse(np.zeros((10, 5)), 100)
