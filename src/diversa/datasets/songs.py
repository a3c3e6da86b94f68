"""Synthetic songs with known stems: a sung melody over chords and drums.

The testbed of singing-voice separation: Lin, Balamurali, Koh, Lui, Herremans,
"Singing Voice Separation Using a Deep Convolutional Neural Network Trained by
Ideal Binary Mask and Cross Entropy", arXiv:1812.01278 (Neural Computing and
Applications 2019); spec ``training.md#ibmsvs``. The paper trains on iKala,
which does not ship; these clips keep what makes the task a task: a voice
whose harmonics move (notes, glides, vibrato) and whose spectral envelope has
formants, over an accompaniment that overlaps it in frequency (harmonic
chords) and covers the whole band in short bursts (kick and noise drums).

Voice: notes of U(0.15, 0.45) s on a major scale above a base pitch
U(150, 300) Hz, one in five a rest (at least one note is sung per clip);
pitch and loudness smoothed over 30 ms (glides, soft onsets); vibrato of
U(0.3, 0.6) semitone at U(5, 6.5) Hz; 15 harmonics shaped by three formants
(U(500, 800) Hz, U(1000, 1800) Hz, 2500 Hz) and a 1 / h^0.7 roll-off.
Accompaniment at 120 bpm: a chord every second (major, minor, IV or V on a
root U(130, 260) Hz) of sawtooth-like notes decaying as exp(-1.5 t), a kick
on every beat and a noise burst on every off-beat. Both stems are scaled to
unit standard deviation, the voice by U(-5, 5) dB, then both by
0.9 / max|voice + accompaniment| so the mixture never clips.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from diversa._params import check_int, check_real

__all__ = ["SyntheticSongs", "make_synthetic_songs"]

#: Semitones of the major scale the melody is drawn from.
SCALE = np.array([0, 2, 4, 5, 7, 9, 11, 12])
#: Chords (semitones above the root): major, minor, the fourth's and the fifth's major triads.
CHORDS = ((0, 4, 7), (0, 3, 7), (5, 9, 12), (7, 11, 14))
N_HARMONICS = 15
REST_PROBABILITY = 0.2
BEAT_SECONDS = 0.5   # 120 bpm
CHORD_SECONDS = 1.0


class SyntheticSongs(NamedTuple):
    """Stems of generated songs: ``voices[i]`` and ``accompaniments[i]`` are float64 arrays of
    ``round(duration * fs)`` samples; a song's mixture is their plain sum."""

    voices: list
    accompaniments: list

    @property
    def mixtures(self) -> list:
        """``voice + accompaniment`` for every clip."""
        return [v + a for v, a in zip(self.voices, self.accompaniments)]


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    if width < 2:
        return x
    padded = np.concatenate([np.full(width // 2, x[0]), x, np.full(width - 1 - width // 2, x[-1])])
    kernel = np.ones(width) / width
    return np.convolve(padded, kernel, mode="valid")


def _melody(rng, n: int, fs: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample pitch (Hz, before vibrato) and loudness (0 or 1, before smoothing) of one melody."""
    base = rng.uniform(150.0, 300.0)
    f0, amp = np.empty(n), np.zeros(n)
    start, previous, sung = 0, None, False
    while start < n:
        stop = min(n, start + int(round(rng.uniform(0.15, 0.45) * fs)))
        pitch = base * 2.0 ** (rng.choice(SCALE) / 12.0)
        rest = rng.random() < REST_PROBABILITY
        # A rest holds the previous pitch so the smoothing glides in loudness, not in pitch.
        f0[start:stop] = previous if (rest and previous is not None) else pitch
        if not rest:
            amp[start:stop] = 1.0
            previous, sung = pitch, True
        start = stop
    if not sung:   # BSS Eval needs a non-silent voice in every clip
        amp[: min(n, int(0.45 * fs))] = 1.0
    return f0, amp


def _voice(rng, n: int, fs: int) -> np.ndarray:
    t = np.arange(n) / fs
    f0, amp = _melody(rng, n, fs)
    width = max(1, int(round(0.03 * fs)))
    f0, amp = _moving_average(f0, width), _moving_average(amp, width)
    depth, rate = rng.uniform(0.3, 0.6), rng.uniform(5.0, 6.5)
    pitch = f0 * (1.0 + (2.0 ** (depth / 12.0) - 1.0) * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(pitch) / fs
    formants = ((rng.uniform(500, 800), 120.0), (rng.uniform(1000, 1800), 200.0), (2500.0, 300.0))
    voice = np.zeros(n)
    for h in range(1, N_HARMONICS + 1):
        fh = h * pitch
        envelope = sum(np.exp(-0.5 * ((fh - centre) / width_hz) ** 2) for centre, width_hz in formants) + 0.05
        voice += np.where(fh < fs / 2, envelope / h**0.7, 0.0) * np.sin(h * phase)
    return amp * voice


def _accompaniment(rng, n: int, fs: int) -> np.ndarray:
    t = np.arange(n) / fs
    root = rng.uniform(130.0, 260.0)
    out = np.zeros(n)
    for onset in np.arange(0.0, n / fs, CHORD_SECONDS):
        chord = CHORDS[rng.integers(len(CHORDS))]
        i0, i1 = int(round(onset * fs)), min(n, int(round((onset + CHORD_SECONDS) * fs)))
        local = t[i0:i1] - onset
        decay = np.exp(-1.5 * local)
        for semitones in chord:
            f = root * 2.0 ** (semitones / 12.0)
            for h in range(1, N_HARMONICS + 1):
                if h * f >= fs / 2:
                    break
                out[i0:i1] += 0.3 / h * decay * np.sin(2 * np.pi * h * f * local)
    for beat in np.arange(0.0, n / fs, BEAT_SECONDS):
        i0 = int(round(beat * fs))
        local = np.arange(min(n - i0, int(round(0.15 * fs)))) / fs
        sweep = 50 + 60 * np.exp(-40 * local)   # the kick's pitch falls from 110 Hz to 50 Hz
        out[i0:i0 + local.size] += 0.8 * np.exp(-30 * local) * np.sin(2 * np.pi * sweep * local)
        j0 = int(round((beat + BEAT_SECONDS / 2) * fs))
        if j0 < n:
            local = np.arange(min(n - j0, int(round(0.12 * fs)))) / fs
            out[j0:j0 + local.size] += 0.5 * rng.standard_normal(local.size) * np.exp(-30 * local)
    return out


def make_synthetic_songs(n_clips: int, fs: int = 8000, duration: float = 2.0,
                         random_state=None) -> SyntheticSongs:
    """``n_clips`` songs with known stems (see the module docstring for the recipe).

    Returns :class:`SyntheticSongs` (unpacks as ``voices, accompaniments``), each a list of
    ``n_clips`` float64 arrays of shape ``(round(duration * fs),)``. ``random_state`` is an int
    seed or a numpy ``Generator``; the same seed gives the same songs bit for bit.
    """
    n_clips = check_int(n_clips, "n_clips", 1)
    fs = check_int(fs, "fs", 1000)
    duration = check_real(duration, "duration", 0.0, strict=True)
    n = int(round(duration * fs))
    if n < 2:
        raise ValueError(f"duration must give at least 2 samples at fs={fs}, got {duration!r} s.")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    voices, accompaniments = [], []
    for _ in range(n_clips):
        voice, acc = _voice(rng, n, fs), _accompaniment(rng, n, fs)
        voice = voice / voice.std() * 10.0 ** (rng.uniform(-5.0, 5.0) / 20.0)
        acc = acc / acc.std()
        scale = 0.9 / np.max(np.abs(voice + acc))
        voices.append(voice * scale)
        accompaniments.append(acc * scale)
    return SyntheticSongs(voices, accompaniments)
