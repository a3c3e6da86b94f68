"""Family-wise error control for several tests: Bonferroni and Holm.

Raschka, "Model Evaluation, Model Selection, and Algorithm Selection in
Machine Learning" (arXiv:1811.12808, 2018), Section 6: when many pairs of
models are compared (e.g. pairwise McNemar tests after a rejecting Cochran's
Q), the chance of at least one false rejection grows with the number of tests
m, so the p-values are adjusted.

* Bonferroni (Dunn 1961, "Multiple comparisons among means", JASA 56(293)):
  ``p_adj = min(1, m p)``.
* Holm (1979), "A simple sequentially rejective multiple test procedure",
  Scandinavian Journal of Statistics 6(2): sort ascending,
  ``p_adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``; uniformly more
  powerful than Bonferroni with the same family-wise guarantee.

Both match ``statsmodels.stats.multitest.multipletests``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from diversa.evaluate._shared import check_choice, check_fraction

__all__ = ["Correction", "bonferroni", "holm", "multipletests"]


class Correction(NamedTuple):
    """Reject flags and adjusted p-values, in the input order; unpacks as ``reject, pvalues``."""

    reject: np.ndarray
    pvalues: np.ndarray


def _check_pvalues(pvalues) -> np.ndarray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"pvalues must be a non-empty 1-D array, got shape {p.shape}.")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must lie in [0, 1] (no NaN).")
    return p


def bonferroni(pvalues, alpha: float = 0.05) -> Correction:
    """Bonferroni adjustment ``min(1, m p)``; reject where the adjusted p <= alpha.

    Parameters
    ----------
    pvalues : array-like of shape (m,).
    """
    p = _check_pvalues(pvalues)
    alpha = check_fraction("alpha", alpha)
    adjusted = np.minimum(1.0, p * p.size)
    return Correction(adjusted <= alpha, adjusted)


def holm(pvalues, alpha: float = 0.05) -> Correction:
    """Holm's step-down adjustment; reject where the adjusted p <= alpha.

    Parameters
    ----------
    pvalues : array-like of shape (m,).
    """
    p = _check_pvalues(pvalues)
    alpha = check_fraction("alpha", alpha)
    order = np.argsort(p, kind="mergesort")
    multipliers = np.arange(p.size, 0, -1)
    # The running maximum keeps adjusted p-values monotone in the raw ones (step-down).
    stepped = np.minimum(1.0, np.maximum.accumulate(multipliers * p[order]))
    adjusted = np.empty_like(p)
    adjusted[order] = stepped
    return Correction(adjusted <= alpha, adjusted)


def multipletests(pvalues, alpha: float = 0.05, method: str = "holm") -> Correction:
    """Adjust p-values of m tests by ``method`` "holm" (default) or "bonferroni"."""
    check_choice("method", method, ("holm", "bonferroni"))
    return holm(pvalues, alpha) if method == "holm" else bonferroni(pvalues, alpha)
