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
                            density: float | Sequence[float], weights: Sequence[float] | None = None,
                            keys: Sequence[str] | None = None) -> StateDict:
    """``theta_0 + sum_t w_t * top_density_t(|tau_t|)`` per tensor (unit weights by default).

    ``density``: kept fraction, one value or one per model.
    """
    if base is None:
        raise ValueError("base must be given for magnitude-prune merging")
    keys = _resolve_keys(base, models, keys)
    dens = [_fraction(d, "density") for d in _weights(density, len(models), "density")]
    w = _weights(weights, len(models), "weights")
    merged = {}
    for key in keys:
        b = _f32(base[key])
        acc = b.clone()
        for wt, d, m in zip(w, dens, models):
            acc += wt * magnitude_trim(_f32(m[key]) - b, d, convention="peft")
        merged[key] = acc
    return _assemble(base, merged)
