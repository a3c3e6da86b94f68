"""A shared-trunk multi-expert MLP with cosine classifiers: the backbone of multi-expert long-tail methods.

Zhang, Hooi, Hong, Feng, "Self-Supervised Aggregation of Diverse Experts for Test-Agnostic
Long-Tailed Recognition", arXiv:2107.09249 (SADE), and Zhao, Wen et al., "MDCS: More Diverse
Experts with Consistency Self-distillation for Long-tailed Recognition", arXiv:2308.09922; spec
``ensemble.md`` section 0.2. Their CIFAR ResNets share the early layers and give every expert its
own later layers and a normalised (cosine) classifier with scale 30; this MLP mirrors that shape:
``trunk`` (shared ReLU layers) -> per-expert ``branch`` (ReLU layers) -> per-expert cosine
classifier ``s * normalize(h_e) @ normalize(W_e, dim=0)``.

The experts' layers are batched tensors ``(E, in, out)`` applied with batched matrix products, so
three experts cost about one forward pass. Every weight is drawn from ``Uniform(-1/sqrt(fan_in),
1/sqrt(fan_in))`` with an optional ``torch.Generator``; torch's global random state is untouched.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["MultiExpertMLP", "NormedLinear"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _widths(value, name: str) -> list[int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        return [_positive_int(v, name) for v in value]
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {value!r}.") from None


def _uniform(shape, fan_in: int, generator) -> nn.Parameter:
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound, generator=generator))


def cosine_logits(features: Tensor, weight: Tensor, scale: float) -> Tensor:
    """``scale * normalize(features, dim=-1) @ normalize(weight, dim=-2)``: ``(..., B, h) x (..., h, C) -> (..., B, C)``."""
    return scale * torch.matmul(nn.functional.normalize(features, dim=-1), nn.functional.normalize(weight, dim=-2))


class NormedLinear(nn.Module):
    """Cosine classifier ``forward(x (B, in)) -> scale * cos(x, W[:, c]) (B, out)``, no bias."""

    def __init__(self, in_features: int, out_features: int, scale: float = 30.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        in_features = _positive_int(in_features, "in_features")
        self.weight = _uniform((in_features, _positive_int(out_features, "out_features")), in_features, generator)
        self.scale = float(scale)

    def forward(self, x: Tensor) -> Tensor:
        return cosine_logits(x, self.weight, self.scale)


class MultiExpertMLP(nn.Module):
    """Shared trunk + ``n_experts`` branches with cosine (or linear) classifiers.

    ``forward(x (B, in_features))`` returns expert logits ``(E, B, n_classes)``; ``trunk`` and
    ``branch`` are hidden widths (ReLU). ``cosine=False`` gives every expert a plain linear head
    with bias. The defaults are the spec's LT-Digits backbone (64 -> 128 shared, 128 -> 64 per
    expert, cosine head with scale 30).
    """

    def __init__(self, in_features: int = 64, n_classes: int = 10, n_experts: int = 3,
                 trunk: Sequence[int] = (128,), branch: Sequence[int] = (64,), cosine: bool = True,
                 scale: float = 30.0, generator: torch.Generator | None = None):
        super().__init__()
        E = _positive_int(n_experts, "n_experts")
        widths = [_positive_int(in_features, "in_features"), *_widths(trunk, "trunk")]
        self.trunk = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            self.trunk.append(_uniform((fan_in, fan_out), fan_in, generator))
            self.trunk.append(_uniform((fan_out,), fan_in, generator))
        widths = [widths[-1], *_widths(branch, "branch")]
        self.branch = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            self.branch.append(_uniform((E, fan_in, fan_out), fan_in, generator))
            self.branch.append(_uniform((E, 1, fan_out), fan_in, generator))
        C = _positive_int(n_classes, "n_classes")
        self.head = _uniform((E, widths[-1], C), widths[-1], generator)
        self.head_bias = None if cosine else _uniform((E, 1, C), widths[-1], generator)
        if not (isinstance(scale, numbers.Real) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive float, got {scale!r}.")
        self.cosine, self.scale = bool(cosine), float(scale)

    @property
    def n_experts(self) -> int:
        return int(self.head.shape[0])

    def features(self, x: Tensor) -> Tensor:
        """Shared trunk features ``(B, trunk[-1])``."""
        h = x
        for k in range(0, len(self.trunk), 2):
            h = torch.relu(h @ self.trunk[k] + self.trunk[k + 1])
        return h

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)
        for k in range(0, len(self.branch), 2):
            h = torch.relu(torch.matmul(h, self.branch[k]) + self.branch[k + 1])   # (E, B, width)
        if self.cosine:
            return cosine_logits(h, self.head, self.scale)
        return torch.bmm(h, self.head) + self.head_bias

    def extra_repr(self) -> str:
        return f"n_experts={self.n_experts}, cosine={self.cosine}, scale={self.scale}"
