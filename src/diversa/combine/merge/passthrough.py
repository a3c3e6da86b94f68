"""Passthrough: one model's tensors, unchanged or scaled (mergekit's ``passthrough``).

Goddard et al., "Arcee's MergeKit: A Toolkit for Merging Large Language
Models", arXiv:2403.13257. In mergekit the method's use is layer stacking
("frankenmerges") through ``slices:``, which copy layer ranges of several
models into one deeper model; diversa's configs have no ``slices:``, so here
the method copies its single model, each tensor optionally multiplied by a
per-tensor ``scale`` (mergekit's parameter, e.g. ``scale: [{filter: o_proj,
value: 0.5}]``) -- the piece of a stacking recipe that applies to whole models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys, _weights

__all__ = ["passthrough"]


def passthrough(models: Sequence[Mapping[str, torch.Tensor]], scale: float | Sequence[float] = 1.0,
                keys: Sequence[str] | None = None) -> StateDict:
    """The one model of ``models``, its merged keys multiplied by ``scale`` (default 1: a copy)."""
    if isinstance(models, Mapping) or not isinstance(models, Sequence) or len(models) != 1:
        raise ValueError("models must hold exactly one model for passthrough (diversa configs have no slices)")
    (factor,) = _weights(scale, 1, "scale")
    if not math.isfinite(factor):
        raise ValueError(f"scale must be finite, got {factor}")
    keys = _resolve_keys(None, models, keys)
    model = models[0]
    merged = {key: _f32(model[key]) * factor if factor != 1.0 else model[key].detach().clone() for key in keys}
    return _assemble(model, merged)
