"""Arcee Fusion: take the other model's value only where it changed most, as judged by a KL-weighted score.

mergekit's ``arcee_fusion`` method (Arcee AI, https://arcee.ai; Goddard et al.,
"Arcee's MergeKit: A Toolkit for Merging Large Language Models",
arXiv:2403.13257). For one tensor with base ``a`` and the other model's ``b``:

1. **Importance**: ``s = |b - a| * KL(softmax(b) || softmax(a))``, the
   divergence taken along the last dimension (one per row; both softmaxes
   shifted by ``1e-8`` so the logarithm stays finite), so an entry scores high
   when it moved far in a row whose distribution moved;
2. **Threshold**: an outlier fence over the scores, ``median + 1.5 IQR``, with
   each quartile the sorted score at position ``floor(q (n - 1))``;
3. **Fusion**: ``a + m (b - a)``, where ``m`` is 1 for scores at or above the
   fence and 0 elsewhere.

mergekit estimates the quartiles from a random sample of a million scores for
larger tensors; diversa takes them exactly (one ``kthvalue`` each), so the two
agree on every tensor up to that size and diversa's result does not depend on
a random draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys

__all__ = ["arcee_fusion", "arcee_fusion_tensor", "fusion_importance"]

#: Keeps both softmaxes away from zero inside the logarithm of the divergence.
_SHIFT = 1e-8


def fusion_importance(base: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``|other - base|`` times the row-wise ``KL(softmax(other) || softmax(base))`` (float32, their shape)."""
    a, b = _f32(base), _f32(other)
    if a.shape != b.shape:
        raise ValueError(f"base and other have different shapes {tuple(a.shape)} and {tuple(b.shape)}")
    p = torch.softmax(b, dim=-1) + _SHIFT
    q = torch.softmax(a, dim=-1) + _SHIFT
    divergence = (p * torch.log(p / q)).sum(dim=-1, keepdim=True)
    return (b - a).abs() * divergence


def _lower_quantile(sorted_position: float, flat: torch.Tensor) -> torch.Tensor:
    """The value at ``floor(q (n - 1))`` of ``flat`` sorted ascending (``kthvalue`` counts from 1)."""
    return flat.kthvalue(int(sorted_position * (flat.numel() - 1)) + 1).values


def _outlier_fence(scores: torch.Tensor) -> torch.Tensor:
    flat = scores.reshape(-1)
    q1, median, q3 = (_lower_quantile(q, flat) for q in (0.25, 0.5, 0.75))
    return median + 1.5 * (q3 - q1)


def arcee_fusion_tensor(base: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Arcee Fusion of one tensor: ``base`` with ``other``'s values where the importance reaches the fence."""
    scores = fusion_importance(base, other)
    a, b = _f32(base), _f32(other)
    mask = (scores >= _outlier_fence(scores)).to(torch.float32)
    return a + (b - a) * mask


def arcee_fusion(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                 keys: Sequence[str] | None = None) -> StateDict:
    """Arcee Fusion of the one model of ``models`` into ``base`` (mergekit's ``arcee_fusion``)."""
    if base is None:
        raise ValueError("base must be given for Arcee Fusion")
    if isinstance(models, Mapping) or not isinstance(models, Sequence) or len(models) != 1:
        raise ValueError("models must hold exactly one model besides the base for Arcee Fusion")
    keys = _resolve_keys(base, models, keys)
    return _assemble(base, {key: arcee_fusion_tensor(base[key], models[0][key]) for key in keys})
