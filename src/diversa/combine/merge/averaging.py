"""Weight averaging ("model soup"; mergekit's ``linear`` method).

Wortsman et al., "Model soups: averaging weights of multiple fine-tuned
models improves accuracy without increasing inference time", ICML 2022,
arXiv:2203.05482. ``theta = sum_t w_t theta_t / sum_t w_t`` (uniform weights
by default); with ``normalize=False`` the plain weighted sum, as mergekit's
``linear`` with ``normalize: false``. Needs no base model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _as_f32, _assemble, _resolve_keys, _weights

__all__ = ["weight_average"]


def weight_average(models: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float] | None = None,
                   normalize: bool = True, keys: Sequence[str] | None = None) -> StateDict:
    """Weighted average of the models' merged keys; other keys come from ``models[0]``.

    ``weights`` (one per model, default uniform) are divided by their sum when
    ``normalize``; a sum of (almost) zero then raises ``ValueError``.
    """
    keys = _resolve_keys(None, models, keys)
    w = _weights(weights, len(models), "weights")
    total = sum(w)
    if normalize:
        if abs(total) < 1e-8:
            raise ValueError(f"weights sum to {total}; cannot normalize (pass normalize=False)")
        w = [x / total for x in w]
    merged = {}
    for key in keys:
        acc, _ = _as_f32(models[0][key], None, copy=True)  # a new float32 tensor, accumulated in place
        acc.mul_(w[0])
        scratch = None
        for wt, m in zip(w[1:], models[1:]):
            term, scratch = _as_f32(m[key], scratch)
            acc.add_(term, alpha=wt)
        merged[key] = acc
    return _assemble(models[0], merged)
