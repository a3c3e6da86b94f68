"""The SMOTE interpolation step, shared by SMOTE and SMOTE-NC.

A synthetic sample is ``x_base + gap * (x_neighbour - x_base)`` (Chawla,
Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
Technique", JAIR 16 (2002), arXiv:1106.1813, section 4.2). The arithmetic is
done in the same order as imbalanced-learn's ``_generate_samples`` (difference
in the data's dtype, then scaled by float64 gaps, then added to the base and
cast back), so identical draws give bit-identical rows.
"""

from __future__ import annotations

import numpy as np


def interpolate(
    X_class: np.ndarray,
    base_rows: np.ndarray,
    neighbour_rows: np.ndarray,
    gaps: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Synthetic rows on the segments (or boxes) between base and neighbour rows.

    Parameters
    ----------
    X_class : ndarray of shape (T, d), float
        The rows of the class being over-sampled.
    base_rows, neighbour_rows : int ndarray of shape (S,)
        Row indices into ``X_class`` of each synthetic sample's base sample and
        of the neighbour it moves towards.
    gaps : float ndarray of shape (S,) or (S, d)
        Position along the segment (one gap per sample), or per feature (a
        point in the axis-aligned box spanned by the two rows).
    out : ndarray of shape (S, d), optional
        Where to write the result (e.g. a slice of the resampled matrix), which
        saves one copy; must have ``X_class``'s dtype.

    Returns
    -------
    ndarray of shape (S, d) with ``X_class``'s dtype.
    """
    gaps = np.asarray(gaps)
    gaps = gaps[:, np.newaxis] if gaps.ndim == 1 else gaps
    n_synthetic, n_features = len(base_rows), X_class.shape[1]
    if out is None:
        out = np.empty((n_synthetic, n_features), dtype=X_class.dtype)
    if n_synthetic == 0:
        return out
    base = X_class.take(base_rows, axis=0)
    difference = np.take(X_class, neighbour_rows, axis=0, out=out)
    np.subtract(difference, base, out=difference)
    if np.result_type(X_class.dtype, gaps.dtype) == X_class.dtype:
        np.multiply(difference, gaps, out=difference)
        np.add(difference, base, out=difference)
    else:
        # float32 data with float64 gaps: scale and add in float64, then round
        # once, as imbalanced-learn does.
        np.copyto(out, np.add(base, gaps * difference), casting="same_kind")
    return out
