"""The Linear Mixing Optimization (LMO) pieces Aioli is built from.

Chen, Hu, Lourie, Cho, Ré, "Aioli: A Unified Optimization Framework for
Language Model Data Mixing", ICLR 2025, arXiv:2411.05735. Data-mixing methods
choose proportions ``p`` over ``m`` groups to minimise the summed per-group
loss under a mixing law ``L_i^{t+1} = c_i + b_i sigma(-sum_j A_ij p_j)``; for
the linear dynamic law (sigma = identity) the LMO problem is solved online by
exponentiated gradient, ``p_j <- p_j exp(eta sum_i A_ij)`` renormalised.

>>> import numpy as np
>>> A = np.array([[2.0, 0.0], [0.0, 1.0]])
>>> exponentiated_gradient_step([0.5, 0.5], normalize_mixing_matrix(A), eta=1.0).round(3)
array([0.583, 0.417])
>>> smoothed_onehot(3, 0, factor=0.5)
array([0.5 , 0.25, 0.25])
"""

from __future__ import annotations

import itertools

import numpy as np

from diversa.data.mix._checks import check_finite, check_matrix, check_positive_int, check_proportions

__all__ = ["exponentiated_gradient_step", "normalize_mixing_matrix", "simplex_grid", "smoothed_onehot",
           "smoothed_onehot_matrix", "solve_smoothed_onehot"]


def exponentiated_gradient_step(p, A, eta: float, *, base=None) -> np.ndarray:
    """One EG step of the LMO: ``q_j proportional to base_j * exp(eta * sum_i A_ij)``.

    ``base`` defaults to ``p`` (the cumulative update); pass ``base=ones`` for
    the non-cumulative form Aioli uses with an EMA of ``A`` (Algorithm 1).
    Computed in log space: equal to ``softmax(log(base) + eta * A.sum(0))``.
    """
    p = check_proportions(p, "p")
    A = check_matrix(A, "A", shape=(p.size, p.size))
    eta = check_finite(eta, "eta", low=0.0)
    if base is None:
        base = p
    base = check_matrix(base, "base", shape=(p.size,), ndim=1)
    if np.any(base < 0):
        raise ValueError("base must be non-negative.")
    with np.errstate(divide="ignore"):
        logits = np.log(base) + eta * A.sum(axis=0)
    logits -= logits[np.isfinite(logits)].max()
    w = np.exp(logits)
    return w / w.sum()


def normalize_mixing_matrix(A) -> np.ndarray:
    """Shift ``A`` to be non-negative (if its minimum is negative) and scale its entries to sum to 1.

    Keeps the step size meaningful across rounds: early rounds, whose loss
    drops are large, would otherwise dominate the cumulative update. An all-zero
    (or constant after shifting) matrix maps to the uniform matrix.
    """
    A = check_matrix(A, "A")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}.")
    out = A - A.min() if A.min() < 0 else A.copy()
    total = out.sum()
    if total <= 0:
        return np.full_like(out, 1.0 / out.size)
    return out / total


def smoothed_onehot(n_groups: int, j: int, factor: float) -> np.ndarray:
    """The mixture with ``factor`` on group ``j`` and ``(1 - factor) / (m - 1)`` on every other group."""
    m = check_positive_int(n_groups, "n_groups")
    if not 0 <= j < m:
        raise ValueError(f"j must index a group in 0..{m - 1}, got {j}.")
    factor = check_finite(factor, "factor", low=0.0, high=1.0)
    if m == 1:
        return np.ones(1)
    p = np.full(m, (1.0 - factor) / (m - 1))
    p[j] = factor
    return p


def smoothed_onehot_matrix(n_groups: int, factor: float) -> np.ndarray:
    """Matrix whose row ``j`` is :func:`smoothed_onehot` ``(n_groups, j, factor)`` (symmetric)."""
    return np.stack([smoothed_onehot(n_groups, j, factor) for j in range(check_positive_int(n_groups, "n_groups"))])


def solve_smoothed_onehot(beta, factor: float) -> np.ndarray:
    """Mixing matrix ``A`` from loss drops ``beta`` measured after training on smoothed one-hot mixtures.

    ``beta[i, j]`` is the drop of group ``i``'s loss after training on mixture
    ``p_(j)``; under the linear law ``beta_ij = sum_l P_jl A_il``, so each row
    of ``A`` solves ``P a = beta_i``. ``factor = 1`` returns ``beta``. The
    uniform mixture (``factor = 1/m``) is singular and rejected.
    """
    beta = check_matrix(beta, "beta")
    m = beta.shape[0]
    if beta.shape != (m, m):
        raise ValueError(f"beta must be square, got shape {beta.shape}.")
    factor = check_finite(factor, "factor", low=0.0, high=1.0)
    if factor == 1.0:
        return beta.copy()
    if m > 1 and abs(factor - 1.0 / m) < 1e-9:
        raise ValueError(f"factor must differ from 1/m = {1.0 / m:.4g}: the uniform mixtures carry no signal.")
    P = smoothed_onehot_matrix(m, factor)
    return np.linalg.solve(P, beta.T).T


def simplex_grid(n_groups: int, step: float) -> np.ndarray:
    """All mixtures of ``n_groups`` groups whose entries are multiples of ``step`` (rows sum to 1).

    >>> simplex_grid(2, 0.5)
    array([[0. , 1. ],
           [0.5, 0.5],
           [1. , 0. ]])
    """
    m = check_positive_int(n_groups, "n_groups")
    step = check_finite(step, "step", low=0.0, high=1.0, low_open=True)
    k = round(1.0 / step)
    if abs(k * step - 1.0) > 1e-9:
        raise ValueError(f"step must divide 1 evenly, got {step}.")
    rows = [c for c in itertools.product(range(k + 1), repeat=m - 1) if sum(c) <= k]
    grid = np.array([list(c) + [k - sum(c)] for c in rows], dtype=float) / k
    return grid[np.lexsort(grid.T[::-1])]
