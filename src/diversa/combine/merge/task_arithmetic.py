"""Task Arithmetic: add scaled task vectors to the pre-trained model.

Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023,
arXiv:2212.04089. ``theta = theta_0 + sum_t lambda_t tau_t``; a scalar
``scaling`` applies to every task. The paper picks lambda on validation data
from {0.05, ..., 1.0}; the default 0.3 is the value Twin-Merging's configs use.
mergekit's ``task_arithmetic`` is this method with per-model ``weights``
(its ``weight``), ``scaling`` its global ``lambda`` and its ``normalize``
(divide the weighted sum of task vectors by the sum of the weights, before
``lambda``): ``theta_0 + lambda sum_t w_t tau_t / sum_t w_t``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _as_f32, _assemble, _f32, _resolve_keys, _weights

__all__ = ["task_arithmetic"]


def task_arithmetic(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                    scaling: float | Sequence[float] = 0.3, weights: Sequence[float] | None = None,
                    normalize: bool = False, keys: Sequence[str] | None = None) -> StateDict:
    """``theta_0 + sum_t scaling_t w_t (theta_t - theta_0)`` on the merged keys (``w_t`` = 1 by default).

    ``normalize`` divides the sum by ``sum_t w_t`` (mergekit's ``normalize``;
    ``ValueError`` when that sum is about zero). Negative scalings are allowed
    (task negation). Other keys are copied from ``base``.
    """
    if base is None:
        raise ValueError("base must be given for task arithmetic")
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be true or false, got {normalize!r}")
    keys = _resolve_keys(base, models, keys)
    lam = _weights(scaling, len(models), "scaling")
    w = _weights(weights, len(models), "weights")
    if normalize:
        if abs(sum(w)) < 1e-8:
            raise ValueError(f"weights sum to {sum(w)}; cannot normalize")
        w = [x / sum(w) for x in w]
    lam = [a * b for a, b in zip(lam, w)]
    merged = {}
    for key in keys:
        b = _f32(base[key])
        acc = b.clone()
        scratch = None  # one float32 buffer for every task vector, accumulated in place
        for wt, m in zip(lam, models):
            delta, scratch = _as_f32(m[key], scratch, copy=True)
            acc.add_(delta.sub_(b), alpha=wt)
        merged[key] = acc
    return _assemble(base, merged)
