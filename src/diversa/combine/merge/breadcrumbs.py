"""Model Breadcrumbs: drop both the smallest and the largest (outlier) entries of each task vector.

Davari, Belilovsky, "Model Breadcrumbs: Scaling Multi-Task Model Merging with
Sparse Masks", ECCV 2024, arXiv:2312.06795. Each task vector ``tau_t`` keeps
the entries whose magnitude ranks just below its top ``gamma`` fraction: the
``gamma`` largest (outliers that a few tasks dominate) and the smallest
(noise) are masked, leaving ``density`` of the entries. As in mergekit's
``breadcrumbs`` / ``breadcrumbs_ties``: with n entries, ``int(density n)`` are
kept, those ranked from ``n - int(density n) - int(gamma n)`` (never below 0:
the outlier cut shrinks to honour the density) in ascending magnitude; entries
of equal magnitude are ranked by index. The masked vectors are combined by
Task Arithmetic (``breadcrumbs``) or TIES' sign election and disjoint merge
(``breadcrumbs_ties``) with mergekit's weighting
(:func:`~diversa.combine.merge.dare.combine_deltas`); ``rescale="l1"`` restores
each vector's L1 norm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.dare import check_sparse_merge, combine_deltas, l1_rescale
from diversa.combine.merge.keys import StateDict, _assemble, _choice, _f32, _fraction, _resolve_keys, _weights

__all__ = ["breadcrumbs_merging", "breadcrumbs_tensor"]


def breadcrumbs_tensor(tau: torch.Tensor, density: float, gamma: float = 0.01, rescale: str = "none") -> torch.Tensor:
    """``tau`` with all but its ``density`` entries ranked below the top ``gamma`` zeroed (float32).

    ``density >= 1`` returns ``tau`` unchanged (nothing is cut, not even the outliers).
    """
    density = _fraction(density, "density")
    gamma = _fraction(gamma, "gamma")
    _choice(rescale, "rescale", ("l1", "none"))
    tau = _f32(tau)
    if density >= 1.0:
        return tau.clone()
    n = tau.numel()
    keep = int(density * n)
    top = int(gamma * n)
    bottom = max(0, n - keep - top)
    order = torch.sort(tau.abs().reshape(-1), stable=True).indices
    mask = torch.zeros(n, dtype=torch.float32)
    mask[order[bottom:bottom + keep]] = 1.0
    masked = tau * mask.reshape(tau.shape)
    return l1_rescale(tau, masked) if rescale == "l1" else masked


def breadcrumbs_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                        density: float | Sequence[float] = 1.0, gamma: float | Sequence[float] = 0.01,
                        combine: str = "task_arithmetic", scaling: float = 1.0,
                        weights: Sequence[float] | None = None, rescale: str = "none", normalize: bool = False,
                        sign_method: str = "sum", zero_sign: str = "positive",
                        keys: Sequence[str] | None = None) -> StateDict:
    """Model Breadcrumbs of ``models`` onto ``base``: ``theta_0 + scaling * tau_m``.

    ``density`` (kept fraction) and ``gamma`` (outlier fraction cut from the
    top) are one value or one per model, in [0, 1]; mergekit's defaults
    (1.0, 0.01) cut nothing until a density is set. ``combine``:
    ``"task_arithmetic"`` (mergekit ``breadcrumbs``) or ``"ties"``
    (``breadcrumbs_ties``).
    """
    check_sparse_merge(base, combine, scaling, "Model Breadcrumbs")
    _choice(rescale, "rescale", ("l1", "none"))
    keys = _resolve_keys(base, models, keys)
    dens = _weights(density, len(models), "density")
    gammas = _weights(gamma, len(models), "gamma")
    for d, g in zip(dens, gammas):
        _fraction(d, "density")
        _fraction(g, "gamma")
    w = _weights(weights, len(models), "weights")
    merged = {}
    for key in keys:
        b = _f32(base[key])
        sparse = [breadcrumbs_tensor(_f32(m[key]) - b, d, g, rescale) for m, d, g in zip(models, dens, gammas)]
        merged[key] = b + float(scaling) * combine_deltas(sparse, w, combine, normalize, sign_method, zero_sign)
    return _assemble(base, merged)
