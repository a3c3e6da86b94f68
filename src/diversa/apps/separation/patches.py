"""Spectrogram patches: the network's input compression and its context windows.

Lin, Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278. The network sees ``context`` consecutive frames (9, about
100 ms in the paper) and predicts a mask for all of them; training patches
start every few frames, inference slides the window by one frame and keeps
only the centre row. A clip's edges are padded with ``context // 2`` frames of
its own minimum input value (the authors' ``PadMin``) and labels with 0.

The paper feeds linear magnitudes. At the spec's small scale (a few epochs on
a few clips) linear input left the network stuck at the per-frequency prior,
so :func:`compress_magnitude` also offers ``"log1p"``:
``log1p(1000 |X|) / log1p(1000)``, which maps magnitudes in [0, 1] onto [0, 1]
with a 60 dB range, a documented deviation.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["INPUT_TRANSFORMS", "centre_frames", "compress_magnitude", "context_patches"]

INPUT_TRANSFORMS = ("log1p", "linear")
#: Gain inside log1p: 1000 maps a magnitude of 1e-3 to 0.1 (the compression's knee at -60 dB).
LOG_GAIN = 1000.0


def compress_magnitude(mag, transform: str = "log1p") -> np.ndarray:
    """Network input from magnitudes ``mag`` (any shape, >= 0): ``"linear"`` keeps them,
    ``"log1p"`` returns ``log1p(1000 mag) / log1p(1000)``."""
    if transform not in INPUT_TRANSFORMS:
        raise ValueError(f"transform must be one of {INPUT_TRANSFORMS}, got {transform!r}.")
    m = np.asarray(mag, dtype=np.float64)
    if transform == "linear":
        return m.copy()
    return np.log1p(LOG_GAIN * m) / np.log1p(LOG_GAIN)


def context_patches(frames, context: int = 9, hop: int = 1, pad_value: float | None = None) -> np.ndarray:
    """Windows of ``context`` consecutive frames of ``frames (T, F)``: shape ``(ceil(T / hop), context, F)``.

    Patch ``i`` is centred on frame ``i * hop`` (its row ``context // 2`` is that frame); beyond the
    clip's edges it reads ``pad_value`` (default: the minimum of ``frames``, the authors' PadMin).
    ``context`` must be odd so that the centre is a frame.
    """
    x = np.asarray(frames)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"frames must have shape (T, F) with T >= 1, got {x.shape}.")
    for name, value in (("context", context), ("hop", hop)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if context % 2 == 0:
        raise ValueError(f"context must be odd (a centre frame), got {context}.")
    half = context // 2
    fill = x.min() if pad_value is None else pad_value
    padded = np.concatenate([np.full((half, x.shape[1]), fill, dtype=x.dtype), x,
                             np.full((half, x.shape[1]), fill, dtype=x.dtype)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, context, axis=0)   # (T, F, context)
    return np.ascontiguousarray(windows[::hop].transpose(0, 2, 1))


def centre_frames(patch_values) -> np.ndarray:
    """The centre rows of patches ``(P, context, F)`` as a ``(F, P)`` spectrogram-shaped array."""
    v = np.asarray(patch_values)
    if v.ndim != 3:
        raise ValueError(f"patch_values must have shape (P, context, F), got {v.shape}.")
    return v[:, v.shape[1] // 2, :].T
