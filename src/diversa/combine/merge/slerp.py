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

Two variants of mergekit's, on the same geometry:

* ``nuslerp`` (:func:`nuslerp`): SLERP of two models with ``t`` given by their
  weights (``t = w_1 / (w_0 + w_1)``), of their task vectors when a base is
  given, over the whole tensor (``flatten``, the default) or row by row
  (each row of the last dimension, or each column with ``row_wise``);
* ``multislerp`` (:func:`multislerp`): spherical barycentric interpolation of
  any number of models (Goddard, "Multi-SLERP", mergekit's author's note,
  https://goddard.blog/posts/multislerp-wow-what-a-cool-idea): the unit
  directions are projected onto the tangent space at their weighted mean
  direction, averaged there with the weights, mapped back by the exponential
  map and scaled by the weighted mean norm; of task vectors when a base is
  given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _reference, _resolve_keys, _weights

__all__ = ["multislerp", "multislerp_tensor", "nuslerp", "nuslerp_tensor", "slerp", "slerp_tensor"]


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


def nuslerp_tensor(t: float, v0: torch.Tensor, v1: torch.Tensor, row_wise: bool = False, flatten: bool = True,
                   eps: float = 1e-8) -> torch.Tensor:
    """SLERP of ``v0`` and ``v1`` over the whole tensor (``flatten``) or per row / column (float32).

    Without ``flatten``, the vectors are the rows of the last dimension, or
    with ``row_wise`` the slices along dimension 0 (the columns of a matrix);
    exactly collinear vectors (``1 - cos^2 <= eps^2``) are interpolated linearly.
    """
    t = _number(t, "t")
    for name, flag in (("row_wise", row_wise), ("flatten", flatten)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be true or false, got {flag!r}")
    if tuple(v0.shape) != tuple(v1.shape):
        raise ValueError(f"v0 and v1 have different shapes {tuple(v0.shape)} and {tuple(v1.shape)}")
    a, b = _f32(v0), _f32(v1)
    shape = a.shape
    if flatten:
        a, b = a.reshape(-1), b.reshape(-1)
    elif row_wise and a.dim() > 1:
        a, b = a.transpose(0, -1), b.transpose(0, -1)
    unit_a = a / torch.linalg.vector_norm(a, dim=-1, keepdim=True).clamp(min=1e-7)
    unit_b = b / torch.linalg.vector_norm(b, dim=-1, keepdim=True).clamp(min=1e-7)
    cos = (unit_a * unit_b).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    collinear = (1.0 - cos.square()) <= eps ** 2
    theta = torch.acos(torch.where(collinear, 0.0, cos))
    spherical = (torch.sin((1.0 - t) * theta) * a + torch.sin(t * theta) * b) / torch.sin(theta)
    result = torch.where(collinear, (1.0 - t) * a + t * b, spherical)
    if not flatten and row_wise and result.dim() > 1:
        result = result.transpose(0, -1)
    return result.reshape(shape)


def nuslerp(base: Mapping[str, torch.Tensor] | None, models: Sequence[Mapping[str, torch.Tensor]],
            weights: Sequence[float] | None = None, nuslerp_row_wise: bool = False, nuslerp_flatten: bool = True,
            keys: Sequence[str] | None = None) -> StateDict:
    """mergekit's ``nuslerp`` of two models: SLERP at ``t = w_1 / (w_0 + w_1)`` (0.5 when the sum is ~0).

    With ``base``, the task vectors are interpolated and added to the base;
    without, the models themselves. Other keys come from ``base`` (or the
    first model).
    """
    if isinstance(models, Mapping) or not isinstance(models, Sequence) or len(models) != 2:
        raise ValueError("models must hold exactly two models besides the base for nuslerp")
    w = _weights(weights, 2, "weights")
    total = w[0] + w[1]
    t = 0.5 if abs(total) < 1e-6 else w[1] / total
    keys = _resolve_keys(base, models, keys)
    merged = {}
    for key in keys:
        if base is None:
            merged[key] = nuslerp_tensor(t, models[0][key], models[1][key], nuslerp_row_wise, nuslerp_flatten)
        else:
            b = _f32(base[key])
            merged[key] = b + nuslerp_tensor(t, _f32(models[0][key]) - b, _f32(models[1][key]) - b,
                                             nuslerp_row_wise, nuslerp_flatten)
    return _assemble(_reference(base, models), merged)


def multislerp_tensor(tensors: Sequence[torch.Tensor], weights: Sequence[float] | None = None,
                      base: torch.Tensor | None = None, normalize_weights: bool = True,
                      eps: float = 1e-8) -> torch.Tensor:
    """Spherical barycentric interpolation of ``tensors`` (of their offsets from ``base`` when given), float32.

    Raises ``ValueError`` when the weighted mean direction vanishes for three or
    more tensors (antipodal inputs whose weights cancel); two such tensors are
    interpolated linearly.
    """
    if isinstance(tensors, torch.Tensor) or len(tensors) == 0:
        raise ValueError("tensors must be a non-empty sequence of tensors")
    w = _weights(weights, len(tensors), "weights")
    if not isinstance(normalize_weights, bool):
        raise TypeError(f"normalize_weights must be true or false, got {normalize_weights!r}")
    if len(tensors) == 1:
        return _f32(tensors[0]).clone()
    if normalize_weights:
        if abs(sum(w)) < 1e-12:
            raise ValueError(f"weights sum to {sum(w)}; cannot normalize (set normalize_weights false)")
        w = [x / sum(w) for x in w]
    shape = tensors[0].shape
    stacked = torch.stack([_f32(x) for x in tensors])
    if base is not None:
        stacked = stacked - _f32(base)
    flat = stacked.reshape(len(tensors), -1)
    wt = torch.tensor(w, dtype=torch.float32).reshape(-1, 1)
    norms = torch.linalg.vector_norm(flat, dim=-1, keepdim=True)
    units = flat / (norms + eps)
    mean = (units * wt).sum(dim=0)
    mean_norm = float(torch.linalg.vector_norm(mean))
    if mean_norm < eps:
        if len(tensors) != 2:
            raise ValueError("the weighted mean direction of the tensors is zero (antipodal inputs whose weights "
                             "cancel); change the weights")
        result = (flat * wt).sum(dim=0)
    else:
        mean = mean / mean_norm
        tangents = units - (units * mean).sum(dim=-1, keepdim=True) * mean
        tangent = (tangents * wt).sum(dim=0)
        length = torch.linalg.vector_norm(tangent) + eps
        result = (mean * torch.cos(length) + tangent * (torch.sin(length) / length)) * (norms * wt).sum()
    result = result.reshape(shape)
    return result + _f32(base) if base is not None else result


def multislerp(base: Mapping[str, torch.Tensor] | None, models: Sequence[Mapping[str, torch.Tensor]],
               weights: Sequence[float] | None = None, normalize_weights: bool = True, eps: float = 1e-8,
               keys: Sequence[str] | None = None) -> StateDict:
    """mergekit's ``multislerp`` of any number of models (of their task vectors when ``base`` is given)."""
    keys = _resolve_keys(base, models, keys)
    w = _weights(weights, len(models), "weights")
    merged = {key: multislerp_tensor([m[key] for m in models], w, None if base is None else base[key],
                                     normalize_weights, eps) for key in keys}
    return _assemble(_reference(base, models), merged)
