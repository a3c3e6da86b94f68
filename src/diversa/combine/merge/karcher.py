"""The Karcher (Riemannian) mean of the models' weight directions on the unit sphere.

Karcher, "Riemannian center of mass and mollifier smoothing", Communications
on Pure and Applied Mathematics 30(5), 1977: the point of the sphere that
minimizes the weighted sum of squared geodesic distances to the inputs, found
by Riemannian gradient descent (average the inputs' logarithmic maps in the
tangent space at the current mean, step along the exponential map). As in
mergekit's ``karcher`` method, each tensor of each model is one vector: its
direction ``u_i = x_i / |x_i|`` enters the spherical mean with uniform weights
(inputs with norm at or below ``tol`` are left out of the direction), the
iteration starts from the normalized Euclidean mean of the directions (or the
first direction when that mean is about zero) and stops after ``max_iter``
steps or when the tangent step is shorter than ``tol``; the result is the mean
direction scaled by the mean norm ``sum_i |x_i| / n``. No base model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys

__all__ = ["karcher_mean", "karcher_tensor"]


def _check(max_iter, tol) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")


def karcher_tensor(tensors: Sequence[torch.Tensor], max_iter: int = 10, tol: float = 1e-5) -> torch.Tensor:
    """The Karcher mean of ``tensors`` (each one flat vector), float32 of their shape."""
    _check(max_iter, tol)
    if isinstance(tensors, torch.Tensor) or len(tensors) == 0:
        raise ValueError("tensors must be a non-empty sequence of tensors")
    xs = [_f32(x) for x in tensors]
    if len(xs) == 1:
        return xs[0].clone()
    shape = xs[0].shape
    flat = [x.reshape(-1) for x in xs]
    norms = [float(torch.linalg.vector_norm(x)) for x in flat]
    valid = [i for i, n in enumerate(norms) if n > tol]
    if not valid:
        return torch.zeros(shape)
    alphas = [1.0 / len(valid)] * len(valid)
    units = [flat[i] / norms[i] for i in valid]
    mean = sum(a * u for a, u in zip(alphas, units))
    mean_norm = float(torch.linalg.vector_norm(mean))
    mean = units[0].clone() if mean_norm < tol else mean / mean_norm
    for _ in range(max_iter):
        tangent = torch.zeros_like(mean)
        for a, u in zip(alphas, units):
            cos = float(torch.dot(mean, u).clamp(-1.0, 1.0))
            theta = math.acos(cos)
            if theta < tol:
                continue
            tangent += (a * theta / math.sin(theta)) * (u - cos * mean)
        step = float(torch.linalg.vector_norm(tangent))
        if step < tol:
            break
        mean = math.cos(step) * mean + math.sin(step) * (tangent / step)
        length = float(torch.linalg.vector_norm(mean))
        if length > tol:
            mean = mean / length
    scale = sum(norms) / len(norms)
    return (scale * mean).reshape(shape)


def karcher_mean(models: Sequence[Mapping[str, torch.Tensor]], max_iter: int = 10, tol: float = 1e-5,
                 keys: Sequence[str] | None = None) -> StateDict:
    """The Karcher mean of every merged key of ``models``; other keys come from ``models[0]``."""
    _check(max_iter, tol)
    keys = _resolve_keys(None, models, keys)
    merged = {key: karcher_tensor([m[key] for m in models], max_iter, tol) for key in keys}
    return _assemble(models[0], merged)
