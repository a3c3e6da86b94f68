"""Task vectors: what fine-tuning added to the pre-trained weights.

Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023,
arXiv:2212.04089. A task vector is ``tau_t = theta_t - theta_0`` per key; adding
a scaled task vector back to the base steers the model toward (scale > 0) or
away from (scale < 0) the task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys

__all__ = ["add_task_vector", "task_vectors"]


def task_vectors(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                 keys: Sequence[str] | None = None) -> list[StateDict]:
    """``[theta_t - theta_0 for each model]`` over the merged keys, in float32.

    Task vectors stay in float32 (not cast back) because they are an
    intermediate: a low-precision difference of two nearby weights loses most
    of its digits. ``keys`` defaults to :func:`~diversa.combine.merge.keys.merge_keys`.
    """
    if base is None:
        raise ValueError("base must be given to compute task vectors")
    keys = _resolve_keys(base, models, keys)
    return [{k: _f32(m[k]) - _f32(base[k]) for k in keys} for m in models]


def add_task_vector(base: Mapping[str, torch.Tensor], tv: Mapping[str, torch.Tensor],
                    scale: float = 1.0) -> StateDict:
    """``theta_0 + scale * tau`` for the keys of ``tv``; other keys copied from ``base``.

    Computed in float32 and cast back to each base tensor's dtype.
    """
    if not isinstance(tv, Mapping):
        raise TypeError(f"tv must be a state dict, got {type(tv).__name__}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"scale must be a number, got {scale!r}")
    merged = {}
    for key, delta in tv.items():
        if key not in base:
            raise ValueError(f"tv: tensor {key!r} is not in base")
        if tuple(delta.shape) != tuple(base[key].shape):
            raise ValueError(f"tv: tensor {key!r} has shape {tuple(delta.shape)}, base has "
                             f"{tuple(base[key].shape)}")
        merged[key] = _f32(base[key]) + float(scale) * _f32(delta)
    return _assemble(base, merged)
