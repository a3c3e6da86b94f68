"""The mask-predicting CNN: a spectrogram patch in, one logit per time-frequency pixel out.

Lin, Balamurali, Koh, Lui, Herremans, "Singing Voice Separation Using a Deep
Convolutional Neural Network Trained by Ideal Binary Mask and Cross Entropy",
arXiv:1812.01278. A patch of consecutive mixture frames is an image (time
rows, frequency columns); two blocks of two 'same' convolutions (ReLU) and a
max-pool along frequency only shrink the frequency axis, then two dropout +
fully connected ReLU layers and a linear layer emit one logit per input
pixel. The paper's network (2049 bins, 9 frames, 32/16/64/32 channels of
3 x 12 kernels, pools of 12, 2048 and 512 units: 19.5M parameters) is
:meth:`IBMMaskCNN.paper`; the defaults are the spec's small version for
8 kHz audio (257 bins, about 0.65M parameters). Weights are Glorot-uniform
and biases 0.1, as the authors' TensorFlow code.
"""

from __future__ import annotations

import math
import numbers

from torch import Tensor, nn

__all__ = ["IBMMaskCNN"]


def _positive_ints(value, name: str, length: int | None = None) -> tuple[int, ...]:
    try:
        values = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of ints, got {value!r}.") from None
    if (length is not None and len(values) != length) or not values or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in values):
        size = f"{length} " if length is not None else ""
        raise ValueError(f"{name} must be {size}positive ints, got {value!r}.")
    return tuple(int(v) for v in values)


class IBMMaskCNN(nn.Module):
    """Patch ``(B, n_frames, n_bins)`` -> logits ``(B, n_frames, n_bins)`` (unbounded).

    ``channels``: the four convolutions' output channels; ``kernel``: (time, frequency) size of
    every convolution; ``pool``: frequency width (and stride) of the two max-pools, padded at the
    top like TensorFlow's 'SAME'; ``fc``: widths of the two hidden fully connected layers;
    ``dropout``: drop probability before each of them.
    """

    def __init__(self, n_bins: int = 257, n_frames: int = 9, channels=(16, 8, 16, 8), kernel=(3, 5),
                 pool: int = 4, fc=(256, 128), dropout: float = 0.5):
        super().__init__()
        (n_bins, n_frames, pool) = (_positive_ints([v], name, 1)[0] for v, name in
                                    ((n_bins, "n_bins"), (n_frames, "n_frames"), (pool, "pool")))
        channels = _positive_ints(channels, "channels", 4)
        kernel = _positive_ints(kernel, "kernel", 2)
        fc = _positive_ints(fc, "fc", 2)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}.")
        self.n_bins, self.n_frames = n_bins, n_frames
        c1, c2, c3, c4 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel, padding="same"), nn.ReLU(),
            nn.Conv2d(c1, c2, kernel, padding="same"), nn.ReLU(),
            nn.MaxPool2d((1, pool), ceil_mode=True),
            nn.Conv2d(c2, c3, kernel, padding="same"), nn.ReLU(),
            nn.Conv2d(c3, c4, kernel, padding="same"), nn.ReLU(),
            nn.MaxPool2d((1, pool), ceil_mode=True),
        )
        pooled = math.ceil(math.ceil(n_bins / pool) / pool)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(n_frames * pooled * c4, fc[0]), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(fc[0], fc[1]), nn.ReLU(),
            nn.Linear(fc[1], n_frames * n_bins),
        )
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.constant_(module.bias, 0.1)

    @classmethod
    def paper(cls) -> "IBMMaskCNN":
        """The authors' network: 2049 bins x 9 frames, 19,489,049 parameters."""
        return cls(n_bins=2049, n_frames=9, channels=(32, 16, 64, 32), kernel=(3, 12), pool=12, fc=(2048, 512))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, n_frames, n_bins)`` of a batch of patches ``x (B, n_frames, n_bins)``."""
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_frames, self.n_bins):
            raise ValueError(f"x must have shape (B, {self.n_frames}, {self.n_bins}), got {tuple(x.shape)}.")
        return self.head(self.features(x.unsqueeze(1))).view(-1, self.n_frames, self.n_bins)
