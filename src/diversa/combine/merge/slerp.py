"""Spherical linear interpolation (SLERP) of two models' weights.

Shoemake, "Animating rotation with quaternion curves", SIGGRAPH 1985: the
point at fraction ``t`` of the great-circle arc between two directions,
``sin((1 - t) theta) / sin(theta) v0 + sin(t theta) / sin(theta) v1`` with
``cos(theta) = <v0, v1> / (|v0| |v1|)``. As in mergekit's ``slerp``, each
tensor is one vector (flattened), the arc runs from the base model (``t = 0``)
to the other model (``t = 1``), the raw (unnormalized) tensors are combined
with the angle of their directions, and nearly collinear pairs
(``|cos theta| > dot_threshold``) fall back to linear interpolation. ``t`` is
usually a per-layer gradient in a YAML config (``t: [0, 0.5, 1]``, see
:mod:`diversa.combine.merge.config`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys

__all__ = ["slerp", "slerp_tensor"]


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def slerp_tensor(t: float, v0: torch.Tensor, v1: torch.Tensor, dot_threshold: float = 0.9995,
                 eps: float = 1e-8) -> torch.Tensor:
    """SLERP from ``v0`` (``t = 0``) to ``v1`` (``t = 1``), each tensor taken as one flat vector.

    Norms at or below ``eps`` count as 1 (a zero tensor has no direction);
    ``|cos theta| > dot_threshold`` interpolates linearly. Returns a float32
    tensor of ``v0``'s shape.
    """
    t = _number(t, "t")
    dot_threshold = _number(dot_threshold, "dot_threshold")
    if not 0.0 <= dot_threshold <= 1.0:
        raise ValueError(f"dot_threshold must lie in [0, 1], got {dot_threshold}")
    if tuple(v0.shape) != tuple(v1.shape):
        raise ValueError(f"v0 and v1 have different shapes {tuple(v0.shape)} and {tuple(v1.shape)}")
    a, b = _f32(v0).reshape(-1), _f32(v1).reshape(-1)
    if a.numel() == 0:
        return a.reshape(v0.shape).clone()
    norm_a, norm_b = torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)
    norm_a = torch.where(norm_a > eps, norm_a, 1.0)
    norm_b = torch.where(norm_b > eps, norm_b, 1.0)
    dot = float(((a / norm_a) * (b / norm_b)).sum().clamp(-1.0, 1.0))
    if abs(dot) > dot_threshold:
        return ((1.0 - t) * a + t * b).reshape(v0.shape)
    theta = math.acos(dot)
    sin_theta = math.sin(theta)
    coef_a = math.sin((1.0 - t) * theta) / sin_theta
    coef_b = math.sin(t * theta) / sin_theta
    return (coef_a * a + coef_b * b).reshape(v0.shape)


def slerp(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]], t: float,
          dot_threshold: float = 0.9995, eps: float = 1e-8, keys: Sequence[str] | None = None) -> StateDict:
    """SLERP of every merged key from ``base`` (``t = 0``) to the one model of ``models`` (``t = 1``).

    mergekit's ``slerp``: exactly one model besides the base; ``t`` is usually
    outside [0, 1] only by mistake but is not restricted (extrapolation along
    the arc). Other keys are copied from ``base``.
    """
    if base is None:
        raise ValueError("base must be given for SLERP (the arc runs from the base, t = 0, to the model, t = 1)")
    if isinstance(models, Mapping) or not isinstance(models, Sequence) or len(models) != 1:
        raise ValueError(f"models must hold exactly one model besides the base for SLERP, got "
                         f"{len(models) if isinstance(models, Sequence) else type(models).__name__}")
    t = _number(t, "t")
    keys = _resolve_keys(base, models, keys)
    merged = {key: slerp_tensor(t, base[key], models[0][key], dot_threshold, eps) for key in keys}
    return _assemble(base, merged)
