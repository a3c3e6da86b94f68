"""How much the distribution of predictions differs across (intersectional) groups.

Lee, Antonio, Avanzi, Marchi, Zhou, arXiv:2509.08163 (spec ``tabular.md#dcov-fairness``): the
authors calibrate the penalty weight with a generalised Jensen-Shannon divergence across groups,
``JSD = H(sum_g pi_g p_g) - sum_g pi_g H(p_g)`` (bits), where ``p_g`` is a Gaussian kernel density
estimate of group g's predictions (bandwidth 0.15 in prediction units, the semantics of
scikit-learn's ``KernelDensity(kernel="gaussian", bandwidth=0.15)``, not scipy's ``gaussian_kde``
factor) evaluated on 1000 equally spaced points between the smallest and largest prediction and
normalised to sum to 1, entropies taken with values clipped at 1e-10. The kernel sums are done
directly (in row chunks): they equal ``KernelDensity``'s densities up to its normalising constant,
which the normalisation removes, and are about ten times faster than its tree queries. It is 0 when
all groups' distributions coincide and at most ``log2(G)``. The unfairness ratio UF is the share of
the prediction variance explained by group membership.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from diversa.evaluate.fairness.groups import intersectional_groups

__all__ = ["generalized_jsd", "uf_ratio"]

#: Entropies clip probabilities here before the logarithm (the authors' helper).
CLIP = 1e-10
#: Rows per block of the kernel sums (bounds memory at grid_size x CHUNK).
CHUNK = 4096


def _predictions(y_pred, name: str = "y_pred") -> np.ndarray:
    values = np.asarray(y_pred, dtype=float)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of predictions, got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return values


def _group_labels(groups, n: int) -> np.ndarray:
    labels = np.asarray(groups, dtype=object) if not isinstance(groups, pd.DataFrame) else None
    if labels is None or labels.ndim == 2:
        labels = intersectional_groups(groups)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"groups must give one group per prediction ({n}), got shape {labels.shape}.")
    if pd.isna(pd.Series(labels)).any():
        raise ValueError("groups contains NaN.")
    return labels


def _kept_groups(y: np.ndarray, labels: np.ndarray, min_group_size: int) -> list[np.ndarray]:
    kept = [y[labels == g] for g in pd.unique(labels)]
    kept = [values for values in kept if values.size >= min_group_size]
    if len(kept) < 2:
        raise ValueError(f"groups must hold at least two groups with >= {min_group_size} rows, got {len(kept)}.")
    return kept


def _grid_density(values: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of ``values`` on ``grid``, normalised to sum to 1."""
    density = np.zeros(grid.size)
    for start in range(0, values.size, CHUNK):
        block = values[start:start + CHUNK]
        density += np.exp(-0.5 * ((grid[:, None] - block[None, :]) / bandwidth) ** 2).sum(axis=1)
    total = density.sum()
    return density / total if total > 0 else np.full(grid.size, 1.0 / grid.size)


def _entropy_bits(p: np.ndarray) -> float:
    return float(-np.sum(p * np.log2(np.clip(p, CLIP, None))))


def generalized_jsd(y_pred, groups, *, weights: str = "proportion", bandwidth: float = 0.15, grid_size: int = 1000,
                    min_group_size: int = 1, standardize: bool = False) -> float:
    """Generalised Jensen-Shannon divergence (bits) of the prediction distributions across groups.

    Lee et al., arXiv:2509.08163. ``y_pred`` ``(n,)``; ``groups`` ``(n,)`` labels (or a
    DataFrame / 2-D array of attributes, grouped by :func:`intersectional_groups`). ``weights``:
    "proportion" (``pi_g`` = share of rows, the authors' default) or "equal" (``1/G``). Groups
    with fewer than ``min_group_size`` rows are dropped (weights renormalised over the rest). The
    bandwidth is in prediction units (suits probabilities); ``standardize=True`` divides the
    predictions by their SD first, for predictions on other scales. Constant predictions give 0.
    """
    y = _predictions(y_pred)
    labels = _group_labels(groups, y.size)
    if weights not in ("proportion", "equal"):
        raise ValueError(f"weights must be 'proportion' or 'equal', got {weights!r}.")
    if not (np.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"bandwidth must be a finite number > 0, got {bandwidth!r}.")
    if isinstance(grid_size, bool) or not isinstance(grid_size, (int, np.integer)) or grid_size < 2:
        raise ValueError(f"grid_size must be an int >= 2, got {grid_size!r}.")
    parts = _kept_groups(y, labels, int(min_group_size))
    if standardize:
        scale = np.concatenate(parts).std()
        parts = [values / scale for values in parts] if scale > 0 else parts
    low, high = min(v.min() for v in parts), max(v.max() for v in parts)
    if high == low:
        return 0.0
    grid = np.linspace(low, high, int(grid_size))
    densities = [_grid_density(values, grid, bandwidth) for values in parts]
    sizes = np.array([v.size for v in parts], dtype=float)
    pi = sizes / sizes.sum() if weights == "proportion" else np.full(len(parts), 1.0 / len(parts))
    mixture = np.sum(pi[:, None] * np.asarray(densities), axis=0)
    return max(0.0, _entropy_bits(mixture) - float(np.sum(pi * [_entropy_bits(p) for p in densities])))


def uf_ratio(y_pred, groups, *, min_group_size: int = 1) -> float:
    """Unfairness ratio ``Var_g(mean of y_pred in g) / Var(y_pred)`` (ddof = 1, groups unweighted).

    The authors' helper (arXiv:2509.08163): the share of prediction variance explained by group
    membership; 0 when every group has the same mean prediction (with few groups the ddof = 1
    of the group means can lift it somewhat above 1). ``y_pred`` ``(n,)``; ``groups``
    as :func:`generalized_jsd`. Constant predictions give 0.
    """
    y = _predictions(y_pred)
    parts = _kept_groups(y, _group_labels(groups, y.size), int(min_group_size))
    total = y.var(ddof=1)
    if total == 0:
        return 0.0
    return float(np.var([values.mean() for values in parts], ddof=1) / total)
