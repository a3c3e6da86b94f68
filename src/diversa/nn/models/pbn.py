"""The network of Projection-Based NCD (PBN): an encoder, a known-class classifier and a decoder.

Troisemaine, Reiffers-Masson, Gosselin, Lemaire, Vaton, "A Practical Approach to Novel Class
Discovery in Tabular Data", arXiv:2311.05440 (DMKD 2024), spec ``tabular.md#practical-ncd``.
The encoder is ``Linear(d, h_1)`` followed, for every further width, by
``ReLU -> BatchNorm1d -> Dropout -> Linear``; nothing follows its last layer, whose output is the
latent ``z``. The decoder mirrors it (``Linear -> ReLU -> BatchNorm1d -> Dropout`` per hidden
width) and ends in ``Linear(h_1, d)``. The classifier is ``Linear(latent_dim, n_classes)`` on the
(optionally L2-normalised) latent. Without a decoder the same module is the paper's "Baseline"
encoder (a classifier whose penultimate layer is clustered).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["PBNNetwork", "mirrored_block", "paper_hidden_dims"]

NORMS = (None, "l2")


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def mirrored_block(widths: Sequence[int], p_dropout: float, *, decoder: bool) -> nn.Sequential:
    """Linear layers through ``widths`` with ``ReLU -> BatchNorm1d -> Dropout`` between them.

    Encoder order (``decoder=False``): the normalisation sits before each Linear but the first.
    Decoder order: after each Linear but the last. Either way the last Linear is bare.
    """
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        if not decoder and i > 0:
            layers += _between(fan_in, p_dropout)
        layers.append(nn.Linear(fan_in, fan_out))
        if decoder and i < len(widths) - 2:
            layers += _between(fan_out, p_dropout)
    return nn.Sequential(*layers)


def _between(width: int, p_dropout: float) -> list[nn.Module]:
    block: list[nn.Module] = [nn.ReLU(), nn.BatchNorm1d(width)]
    if p_dropout > 0:
        block.append(nn.Dropout(p_dropout))
    return block


class PBNNetwork(nn.Module):
    """Encoder, known-class classifier and (optional) decoder of PBN.

    Parameters
    ----------
    n_features : input width ``d``.
    hidden_dims : widths between input and latent (the paper: ``[3d // 4, 2d // 4]``).
    latent_dim : width of the latent ``z``.
    n_classes : number of known classes (0: no classifier).
    p_dropout : dropout probability between hidden layers.
    use_norm : None or "l2": normalise ``z`` before the classifier and the decoder.
    decoder : build the decoder (PBN) or not (the Baseline encoder).

    ``forward(x (B, d))`` returns ``(z (B, latent), logits (B, C) or None, x_hat (B, d) or None)``
    where ``z`` is the normalised latent the heads see. :meth:`encode` gives the latent with or
    without the normalisation.
    """

    def __init__(self, n_features: int, hidden_dims: Sequence[int], latent_dim: int, n_classes: int,
                 p_dropout: float = 0.0, use_norm: str | None = "l2", decoder: bool = True):
        super().__init__()
        widths = [_positive_int(n_features, "n_features"), *(_positive_int(h, "hidden_dims") for h in hidden_dims),
                  _positive_int(latent_dim, "latent_dim")]
        if not 0 <= p_dropout < 1:
            raise ValueError(f"p_dropout must be in [0, 1), got {p_dropout!r}.")
        if use_norm not in NORMS:
            raise ValueError(f"use_norm must be one of {NORMS}, got {use_norm!r}.")
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 0:
            raise ValueError(f"n_classes must be an int >= 0, got {n_classes!r}.")
        self.use_norm = use_norm
        self.encoder = mirrored_block(widths, p_dropout, decoder=False)
        self.classifier = nn.Linear(widths[-1], n_classes) if n_classes > 0 else None
        self.decoder = mirrored_block(widths[::-1], p_dropout, decoder=True) if decoder else None

    def normalise(self, z: Tensor) -> Tensor:
        """The latent the heads see: ``z / ||z||_2`` per row, or ``z`` without a norm."""
        return z if self.use_norm is None else nn.functional.normalize(z, dim=1)

    def encode(self, x: Tensor, normalised: bool = True) -> Tensor:
        """Latent of ``x (B, d)``: ``(B, latent_dim)``, normalised or not."""
        z = self.encoder(x)
        return self.normalise(z) if normalised else z

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        z = self.encode(x)
        logits = self.classifier(z) if self.classifier is not None else None
        x_hat = self.decoder(z) if self.decoder is not None else None
        return z, logits, x_hat


def paper_hidden_dims(n_features: int) -> tuple[int, ...]:
    """The paper's hidden widths ``(floor(3d/4), floor(2d/4))``, dropping widths below 1."""
    return tuple(h for h in (3 * n_features // 4, 2 * n_features // 4) if h >= 1)

