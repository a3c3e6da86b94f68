"""Time-frequency masks: ideal binary and ratio targets, label smoothing, thresholding.

Lin, Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278. The paper's target is the Ideal Binary Mask (a pixel is
voice when the voice's magnitude strictly exceeds the accompaniment's),
learned as pixel-wise classification with labels smoothed to 0.02 / 0.98; at
inference the voice probability ``P`` and the accompaniment's ``Q = 1 - P``
are each zeroed below a threshold ``tau`` (values above keep their soft
probability) and multiply the mixture's magnitude. The ideal ratio mask
``|V| / (|V| + |A|)`` is the soft target of the regression baseline.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["apply_masks", "frequency_prior", "ideal_binary_mask", "ideal_ratio_mask", "smooth_labels", "threshold_mask"]


def _pair(voice_mag, acc_mag) -> tuple[np.ndarray, np.ndarray]:
    v, a = np.asarray(voice_mag, dtype=np.float64), np.asarray(acc_mag, dtype=np.float64)
    if v.shape != a.shape:
        raise ValueError(f"voice_mag and acc_mag must have the same shape, got {v.shape} and {a.shape}.")
    if np.any(v < 0) or np.any(a < 0) or not (np.all(np.isfinite(v)) and np.all(np.isfinite(a))):
        raise ValueError("voice_mag and acc_mag must be finite magnitudes >= 0.")
    return v, a


def ideal_binary_mask(voice_mag, acc_mag) -> np.ndarray:
    """``1.0`` where ``|V| > |A|`` strictly, else ``0.0`` (ties are accompaniment), same shape."""
    v, a = _pair(voice_mag, acc_mag)
    return (v > a).astype(np.float64)


def ideal_ratio_mask(voice_mag, acc_mag) -> np.ndarray:
    """``|V| / (|V| + |A|)`` in [0, 1], same shape; 0.5 where both are 0 (no evidence either way)."""
    v, a = _pair(voice_mag, acc_mag)
    total = v + a
    return np.divide(v, total, out=np.full_like(v, 0.5), where=total > 0)


def frequency_prior(masks) -> np.ndarray:
    """Mean of masks ``(n_bins, n_frames_k)`` over every frame of every clip: shape ``(n_bins,)``.

    Broadcast over a clip's frames it is the best mask that ignores the signal (the control that
    shows whether a network uses the spectrogram's context or only learns which bands the voice owns).
    """
    masks = [np.asarray(m, dtype=np.float64) for m in masks]
    if not masks or any(m.ndim != 2 for m in masks) or len({m.shape[0] for m in masks}) != 1:
        raise ValueError("masks must be a non-empty list of (n_bins, n_frames) arrays with one n_bins.")
    return np.concatenate(masks, axis=1).mean(axis=1)


def smooth_labels(mask, low: float = 0.02, high: float = 0.98) -> np.ndarray:
    """A mask in [0, 1] mapped affinely onto [low, high] (the paper's binary labels become 0.02 / 0.98)."""
    if not (isinstance(low, numbers.Real) and isinstance(high, numbers.Real) and 0 <= low < high <= 1):
        raise ValueError(f"label smoothing must satisfy 0 <= low < high <= 1, got ({low!r}, {high!r}).")
    m = np.asarray(mask, dtype=np.float64)
    if np.any(m < 0) or np.any(m > 1) or not np.all(np.isfinite(m)):
        raise ValueError("mask must hold values in [0, 1].")
    return low + (high - low) * m


def threshold_mask(prob, tau: float) -> np.ndarray:
    """A copy of ``prob`` with entries below ``tau`` set to 0, the others kept as they are.

    ``tau`` must lie in [0, 1) (0 keeps the whole soft mask). The input is never changed in place
    (the authors' threshold sweep mutated one map across thresholds).
    """
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not 0 <= tau < 1:
        raise ValueError(f"tau must be a number in [0, 1), got {tau!r}.")
    p = np.array(prob, dtype=np.float64)
    p[p < tau] = 0.0
    return p


def apply_masks(mixture_spec, voice_prob, tau: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Voice and accompaniment spectrograms from the voice probability ``P (bins, frames)``.

    ``P`` and ``Q = 1 - P`` are thresholded independently at ``tau`` and multiply the complex
    mixture spectrogram (its magnitude, keeping the mixture's phase); no Wiener filtering.
    Returns ``(voice_spec, accompaniment_spec)`` shaped like ``mixture_spec``.
    """
    spec = np.asarray(mixture_spec)
    p = np.asarray(voice_prob, dtype=np.float64)
    if p.shape != spec.shape:
        raise ValueError(f"voice_prob must have the mixture's shape {spec.shape}, got {p.shape}.")
    if np.any(p < 0) or np.any(p > 1) or not np.all(np.isfinite(p)):
        raise ValueError("voice_prob must hold probabilities in [0, 1].")
    return threshold_mask(p, tau) * spec, threshold_mask(1.0 - p, tau) * spec
