"""WAV reading and writing: encodings, mono downmix, resampling, and refusal of broken files."""

import io

import numpy as np
import pytest
import scipy.io.wavfile

from diversa.apps.separation import read_wav, resample, to_mono, wav_bytes


def _write(path, fs, data):
    scipy.io.wavfile.write(path, fs, data)
    return path


def test_round_trip_through_float_wav(tmp_path):
    x = np.sin(np.arange(800) / 7) * 0.5
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(x, 8000))
    fs, y = read_wav(path)
    assert fs == 8000 and np.allclose(y, x, atol=1e-7)


@pytest.mark.parametrize("dtype, full", [(np.int16, 32767), (np.int32, 2**31 - 1), (np.uint8, 255)])
def test_integer_encodings_scale_to_unit_range(tmp_path, dtype, full):
    data = np.array([0, full], dtype=dtype) if dtype != np.uint8 else np.array([128, 255], dtype=dtype)
    _, y = read_wav(_write(tmp_path / "i.wav", 8000, data))
    assert y[0] == pytest.approx(0.0) and y[1] == pytest.approx(1.0, abs=1e-2)


def test_stereo_is_read_as_channels_and_downmixed(tmp_path):
    data = np.stack([np.full(100, 0.2), np.full(100, 0.4)], axis=1).astype(np.float32)
    _, y = read_wav(_write(tmp_path / "s.wav", 8000, data))
    assert y.shape == (100, 2) and np.allclose(to_mono(y), 0.3)


def test_resample_keeps_duration_and_a_low_tone():
    t = np.arange(44100) / 44100
    y = resample(np.sin(2 * np.pi * 440 * t), 44100, 8000)
    assert y.size == 8000
    assert np.allclose(y[500:-500], np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)[500:-500], atol=1e-2)
    with pytest.raises(ValueError, match="fs_to"):
        resample(y, 8000, 0)


def test_broken_files_are_refused_with_the_argument_named(tmp_path):
    good = wav_bytes(np.full(1000, 0.1), 8000)
    cases = {"empty.wav": b"", "text.wav": b"hello, not audio", "half.wav": good[: len(good) // 2 + 1],
             "eof.wav": good[:458]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match="SONG"):
            read_wav(tmp_path / name)
    with pytest.raises(ValueError, match="no samples"):
        read_wav(_write(tmp_path / "none.wav", 8000, np.zeros(0, np.int16)))
    with pytest.raises(ValueError, match="NaN"):
        read_wav(_write(tmp_path / "nan.wav", 8000, np.array([0.1, np.nan], np.float32)))
    with pytest.raises(IsADirectoryError, match="folder"):
        read_wav(tmp_path)


def test_wav_bytes_refuses_non_finite():
    with pytest.raises(ValueError, match="finite"):
        wav_bytes(np.array([np.inf]), 8000)
    assert scipy.io.wavfile.read(io.BytesIO(wav_bytes(np.zeros(3), 8000)))[1].dtype == np.float32
