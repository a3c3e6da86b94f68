"""Magnitude pruning of task vectors followed by their weighted sum.

peft's ``magnitude_prune`` combination (``peft.utils.merge_utils``), the trim
step of TIES-Merging (Yadav et al., arXiv:2306.01708) without sign election:
``theta = theta_0 + sum_t w_t trim_k(tau_t)`` with a per-tensor top-``density``
trim. As in peft, a kept count that rounds to zero keeps nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _fraction, _resolve_keys, _weights
from diversa.combine.merge.ties import magnitude_trim

__all__ = ["magnitude_prune_merging"]


def magnitude_prune_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                            density: float, weights: Sequence[float] | None = None,
                            keys: Sequence[str] | None = None) -> StateDict:
    """``theta_0 + sum_t w_t * top_density(|tau_t|)`` per tensor (unit weights by default)."""
    if base is None:
        raise ValueError("base must be given for magnitude-prune merging")
    density = _fraction(density, "density")
    keys = _resolve_keys(base, models, keys)
    w = _weights(weights, len(models), "weights")
    merged = {}
    for key in keys:
        b = _f32(base[key])
        acc = b.clone()
        for wt, m in zip(w, models):
            acc += wt * magnitude_trim(_f32(m[key]) - b, density, convention="peft")
        merged[key] = acc
    return _assemble(base, merged)
