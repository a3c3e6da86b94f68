"""Static mixture baselines chosen from a set of short static runs.

As framed by Chen et al., "Aioli: A Unified Optimization Framework for Language
Model Data Mixing", ICLR 2025, arXiv:2411.05735: grid search (GS) keeps the
mixture whose run had the lowest mean validation loss; Data Mixing Laws (DML;
Ye et al., arXiv:2403.16952) fits the static log-linear law to the same runs
and trains on its optimum.

>>> import numpy as np
>>> P = np.array([[1, 0], [0.5, 0.5], [0, 1.0]])
>>> grid_search_mixture(P, [[1.0, 3.0], [1.5, 1.6], [3.0, 1.0]]).tolist()
[0.5, 0.5]
"""

from __future__ import annotations

import numpy as np

from diversa.data.mix._checks import check_matrix, check_proportions
from diversa.data.mix.laws import fit_static_mixing_law

__all__ = ["data_mixing_law_mixture", "grid_search_mixture"]


def _weights(weights, m: int) -> np.ndarray:
    return np.full(m, 1.0 / m) if weights is None else check_proportions(weights, "weights", m)


def grid_search_mixture(P, val_losses, weights=None) -> np.ndarray:
    """The row of ``P`` (r, m) whose per-group validation losses (r, m) have the lowest weighted mean."""
    P = check_matrix(P, "P")
    L = check_matrix(val_losses, "val_losses", shape=P.shape)
    for r, row in enumerate(P):
        check_proportions(row, f"P[{r}]")
    return P[int(np.argmin(L @ _weights(weights, P.shape[1])))].copy()


def data_mixing_law_mixture(P, val_losses, weights=None, n_restarts: int = 3, random_state=0) -> np.ndarray:
    """Optimum of the log-linear static law fitted to runs ``P`` (r, m) with losses (r, m)."""
    law = fit_static_mixing_law(P, val_losses)
    return law.optimal_mixture(weights=weights, n_restarts=n_restarts, random_state=random_state)
