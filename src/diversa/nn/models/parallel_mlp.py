"""Several MLPs of one architecture evaluated as batched tensors: a deep ensemble in one module.

Used to train the members of a deep ensemble jointly on one objective (Abe et al., "Pathologies
of Predictive Diversity in Deep Ensembles", arXiv:2302.00704, spec ``ensemble.md#pathologies``):
member ``m``'s layer ``l`` is ``W_l[m] (in, out)`` and ``b_l[m] (1, out)``, applied with batched
matrix products, so ``M`` small members cost one forward pass instead of ``M``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ParallelMLPEnsemble"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


class ParallelMLPEnsemble(nn.Module):
    """``n_members`` ReLU MLPs ``in_features -> hidden... -> n_classes``: ``forward(x (B, in))`` -> logits ``(M, B, C)``.

    Every weight and bias is drawn from ``Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))``, layer by
    layer (weights, then biases), as ``nn.Linear`` bounds its biases; ``generator`` (a
    ``torch.Generator``) makes the draws independent of torch's global random state.
    """

    def __init__(self, n_members: int, in_features: int, hidden: Sequence[int] = (64,), n_classes: int = 2,
                 generator: torch.Generator | None = None):
        super().__init__()
        n_members = _positive_int(n_members, "n_members")
        widths = [_positive_int(in_features, "in_features")]
        widths += [_positive_int(h, "hidden") for h in hidden]
        widths.append(_positive_int(n_classes, "n_classes"))
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(
                torch.empty(n_members, fan_in, fan_out).uniform_(-bound, bound, generator=generator)))
            self.biases.append(nn.Parameter(
                torch.empty(n_members, 1, fan_out).uniform_(-bound, bound, generator=generator)))

    @property
    def n_members(self) -> int:
        return int(self.weights[0].shape[0])

    def forward(self, x: Tensor) -> Tensor:
        h = torch.matmul(x, self.weights[0]) + self.biases[0]           # (B, in) @ (M, in, h) -> (M, B, h)
        for W, b in zip(self.weights[1:], self.biases[1:]):
            h = torch.bmm(torch.relu(h), W) + b
        return h
