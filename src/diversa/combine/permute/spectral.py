"""Why weight matching works: distances and singular components (Ito et al.).

Ito, Yamada, Kumagai, "Analysis of Linear Mode Connectivity via
Permutation-Based Weight Matching", ICLR 2025 (arXiv:2402.04051). Their
findings, measured here:

* weight matching barely shortens the distance between the two models, so
  linear mode connectivity is not explained by proximity
  (:func:`normalized_distance`, :func:`distance_ratio`);
* a permutation leaves each layer's singular values unchanged and only moves
  its singular vectors; weight matching maximises
  ``<W_a, W_b> = sum_ij s_a,i s_b,j (u_a,i . u_b,j)(v_a,i . v_b,j)``, which is
  dominated by pairs of large singular values, so it aligns the dominant
  singular directions that carry the function, and the midpoint
  ``(W_a + W_b') / 2`` keeps them (:func:`singular_component_retention`: 1 =
  the component survives the merge, about 0.5 = the other model contributes
  nothing along it).

The normalised distance's normaliser ``sqrt(|a|^2 + |b|^2)`` is our choice (the
paper's could not be read; it is about 1 for unrelated models and 0 for equal
ones); :func:`distance_ratio` is normaliser-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

__all__ = ["distance_ratio", "normalized_distance", "singular_component_retention"]


def _keys(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], keys: Sequence[str] | None) -> list[str]:
    if keys is None:
        keys = [k for k in a if k in b and a[k].is_floating_point()]
    for k in keys:
        if k not in a or k not in b:
            raise ValueError(f"keys: tensor {k!r} is missing from one of the models")
        if a[k].shape != b[k].shape:
            raise ValueError(f"tensor {k!r} has shape {list(a[k].shape)} and {list(b[k].shape)} in the two models")
    return list(keys)


def _sq_norm(tensors) -> float:
    return float(sum(t.detach().to(torch.float64).square().sum() for t in tensors))


def normalized_distance(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor],
                        keys: Sequence[str] | None = None) -> float:
    """``|a - b| / sqrt(|a|^2 + |b|^2)`` over ``keys`` (default: every shared floating tensor)."""
    keys = _keys(a, b, keys)
    diff = _sq_norm(a[k].to(torch.float64) - b[k].to(torch.float64) for k in keys)
    total = _sq_norm(a[k] for k in keys) + _sq_norm(b[k] for k in keys)
    return (diff / total) ** 0.5 if total > 0 else 0.0


def distance_ratio(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor],
                   b_aligned: Mapping[str, torch.Tensor], keys: Sequence[str] | None = None) -> float:
    """``|a - b_aligned| / |a - b|``: how much alignment shortened the distance (1 = not at all)."""
    keys = _keys(a, b, keys)
    before = _sq_norm(a[k].to(torch.float64) - b[k].to(torch.float64) for k in keys)
    after = _sq_norm(a[k].to(torch.float64) - b_aligned[k].to(torch.float64) for k in keys)
    if before == 0:
        raise ValueError("a and b are equal: the distance ratio is undefined")
    return (after / before) ** 0.5


def singular_component_retention(w_ref: torch.Tensor, w_merged: torch.Tensor,
                                 idx: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """``u_i^T W_merged v_i / s_i`` for the singular triplets ``(u_i, s_i, v_i)`` of ``w_ref`` (descending s).

    ``w_ref``, ``w_merged``: 2-D weights of one shape; ``idx``: which
    components (default all). Returns a float64 tensor: 1 where the merged
    weight keeps the reference's component at full strength.
    """
    if w_ref.dim() != 2 or w_ref.shape != w_merged.shape:
        raise ValueError(f"w_ref and w_merged must be 2-D of one shape, got {list(w_ref.shape)} and "
                         f"{list(w_merged.shape)}")
    U, S, Vh = torch.linalg.svd(w_ref.detach().to(torch.float64), full_matrices=False)
    idx = torch.arange(S.numel()) if idx is None else torch.as_tensor(idx, dtype=torch.long)
    merged = w_merged.detach().to(torch.float64)
    projected = torch.einsum("ik,ij,jk->k", U[:, idx], merged, Vh[idx].T)
    return projected / S[idx]
