"""WAV files in and out of the separator (scipy.io.wavfile), with one-line errors.

Part of the singing-voice separation application after Lin, Balamurali, Koh,
Lui, Herremans, "Singing Voice Separation Using a Deep Convolutional Neural
Network Trained by Ideal Binary Mask and Cross Entropy", arXiv:1812.01278.
Samples are read as floats in [-1, 1] whatever the file's encoding (8-, 16-,
24-, 32-bit integers or floats); a truncated file, a file that is not WAV or
holds no samples is refused with a ValueError naming the argument, never a
partial read. Written files are 32-bit float WAV (lossless for the float
signals the separator produces). Resampling is polyphase
(``scipy.signal.resample_poly``) between integer rates.
"""

from __future__ import annotations

import io
import math
import struct
import warnings

import numpy as np
import scipy.io.wavfile
import scipy.signal

from diversa.datasets.files import describe, read_bytes

__all__ = ["read_wav", "resample", "to_mono", "wav_bytes"]

_INT_SCALE = {np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31, np.dtype(np.int64): 2.0**63}


def read_wav(path, *, argument: str = "SONG") -> tuple[int, np.ndarray]:
    """``(fs, samples)`` of a WAV file (``"-"``: standard input); samples float64 in [-1, 1] of
    shape ``(n,)`` (mono) or ``(n, channels)``. ValueError (naming ``argument``) for anything that
    is not a complete WAV file with at least one finite sample."""
    where = describe(path, argument)
    data = read_bytes(path, argument=argument)
    if not data:
        raise ValueError(f"{where} is empty; give a WAV file.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.io.wavfile.WavFileWarning)
        try:
            fs, samples = scipy.io.wavfile.read(io.BytesIO(data))
        except (ValueError, struct.error, EOFError, IndexError, KeyError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ValueError(f"{where} is not a readable WAV file (truncated or another format: {reason}).") from None
    for warning in caught:
        if "prematurely" in str(warning.message):
            raise ValueError(f"{where} is truncated: its header promises more samples than the file holds.")
    if fs <= 0:
        raise ValueError(f"{where}: the sample rate must be positive, got {fs} Hz.")
    if samples.size == 0:
        raise ValueError(f"{where} holds no samples.")
    if samples.dtype == np.uint8:
        x = (samples.astype(np.float64) - 128.0) / 128.0
    elif samples.dtype in _INT_SCALE:
        x = samples.astype(np.float64) / _INT_SCALE[samples.dtype]
    else:
        x = samples.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where} holds NaN or infinite samples.")
    return int(fs), x


def to_mono(samples) -> np.ndarray:
    """The mean of the channels of ``samples (n, channels)``; ``(n,)`` is returned as it is."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (n,) or (n, channels), got {x.shape}.")
    return x.mean(axis=1)


def resample(x, fs_from: int, fs_to: int) -> np.ndarray:
    """``x (n,)`` sampled at ``fs_from`` Hz resampled to ``fs_to`` Hz (polyphase, Kaiser window)."""
    for name, value in (("fs_from", fs_from), ("fs_to", fs_to)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int (Hz), got {value!r}.")
    if fs_from == fs_to:
        return np.asarray(x, dtype=np.float64).copy()
    g = math.gcd(int(fs_from), int(fs_to))
    return scipy.signal.resample_poly(np.asarray(x, dtype=np.float64), int(fs_to) // g, int(fs_from) // g)


def wav_bytes(signal, fs: int) -> bytes:
    """A 32-bit float WAV file of ``signal (n,)`` at ``fs`` Hz, as bytes."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError("signal must be a finite 1-d array (n,).")
    buffer = io.BytesIO()
    scipy.io.wavfile.write(buffer, int(fs), x.astype(np.float32))
    return buffer.getvalue()
