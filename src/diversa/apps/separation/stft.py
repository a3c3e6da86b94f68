"""The STFT front end of mask-based separation (torch.stft), scaled like scipy's.

Lin, Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278. The authors' front end is a Hann-windowed STFT (window
normalised by its sum, frames centred on their hop positions, zero-padded FFT)
whose linear magnitudes are the network's input; the separated sources are the
inverse STFT of masked magnitudes with the mixture's phase.

Here the transform is ``torch.stft`` with a periodic Hann window of
``win_length`` samples centred in ``n_fft`` (zero padding), frames centred on
multiples of ``hop`` (the signal is zero-padded by ``n_fft // 2`` on both
sides) and the spectrum divided by the window's sum, so its magnitudes equal
``scipy.signal.stft(x, fs, "hann", nperseg=win_length, noverlap=win_length -
hop, nfft=n_fft)``'s; only the phase reference differs (a linear phase), which
the inverse undoes. ``frames = 1 + n // hop`` for ``n`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from diversa._params import check_int

__all__ = ["STFT"]


@dataclass(frozen=True)
class STFT:
    """A Hann STFT and its inverse: ``win_length`` window, ``n_fft`` FFT, ``hop`` hop (samples).

    ``STFT()`` is the small-scale setting of the spec (8 kHz audio: 32 ms window, 512-point FFT,
    8 ms hop, 257 bins); the paper's own is ``STFT(1024, 4096, 256)`` at 22.05 kHz.
    """

    win_length: int = 256
    n_fft: int = 512
    hop: int = 64

    def __post_init__(self):
        check_int(self.win_length, "win_length", 2)
        check_int(self.n_fft, "n_fft", 2)
        check_int(self.hop, "hop", 1)
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length must be <= n_fft ({self.n_fft}), got {self.win_length}.")
        if self.hop > self.win_length // 2:
            # Overlap-add needs every sample covered by windows whose squares do not vanish.
            raise ValueError(f"hop must be <= win_length // 2 ({self.win_length // 2}), got {self.hop}.")

    @property
    def n_bins(self) -> int:
        """Frequency bins of a frame: ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Frames of a signal of ``n_samples`` samples: ``1 + n_samples // hop``."""
        return 1 + int(n_samples) // self.hop

    def window(self, dtype=torch.float64) -> torch.Tensor:
        """The periodic Hann window, shape ``(win_length,)`` (as ``scipy.signal.get_window('hann')``)."""
        return torch.hann_window(self.win_length, periodic=True, dtype=dtype)

    def forward(self, x) -> np.ndarray:
        """Complex spectrogram of ``x (n,)`` or ``(batch, n)``: shape ``(..., n_bins, n_frames)``."""
        signal = torch.as_tensor(np.asarray(x, dtype=np.float64))
        if signal.ndim not in (1, 2):
            raise ValueError(f"x must be 1-d (n,) or 2-d (batch, n), got shape {tuple(signal.shape)}.")
        if signal.shape[-1] < self.win_length:
            raise ValueError(f"x must hold at least win_length = {self.win_length} samples, got {signal.shape[-1]}.")
        window = self.window()
        spec = torch.stft(signal, self.n_fft, hop_length=self.hop, win_length=self.win_length, window=window,
                          center=True, pad_mode="constant", return_complex=True)
        return (spec / window.sum()).numpy()

    def inverse(self, spec, length: int) -> np.ndarray:
        """Signal of ``length`` samples from a spectrogram ``(..., n_bins, n_frames)`` (least-squares
        overlap-add, the exact inverse of :meth:`forward`)."""
        spec = torch.as_tensor(np.asarray(spec, dtype=np.complex128))
        if spec.ndim < 2 or spec.shape[-2] != self.n_bins:
            raise ValueError(f"spec must have shape (..., {self.n_bins}, frames), got {tuple(spec.shape)}.")
        window = self.window()
        signal = torch.istft(spec * window.sum(), self.n_fft, hop_length=self.hop, win_length=self.win_length,
                             window=window, center=True, length=int(length))
        return signal.numpy()

    __call__ = forward
