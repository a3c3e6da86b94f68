"""Intersectional groups of several protected attributes and group-fairness differences over them.

Lee, Antonio, Avanzi, Marchi, Zhou, arXiv:2509.08163 (spec ``tabular.md#dcov-fairness``) audit
predictions across intersections of protected attributes, continuous ones binned (age bands).
:func:`intersectional_groups` labels every row with its intersection; the demographic-parity and
equalized-odds differences are fairlearn's definitions (``fairlearn.metrics``, with several
sensitive columns forming all combinations as groups) over those intersections, so continuous
attributes can take part.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["demographic_parity_difference", "equalized_odds_difference", "intersectional_groups"]


def _frame(sensitive_features, name: str) -> pd.DataFrame:
    if isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features.reset_index(drop=True)
    elif isinstance(sensitive_features, pd.Series):
        label = sensitive_features.name if sensitive_features.name is not None else "s0"
        frame = sensitive_features.reset_index(drop=True).to_frame(label)
    else:
        values = np.asarray(sensitive_features)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"{name} must be 1-D or 2-D, got shape {values.shape}.")
        frame = pd.DataFrame(values, columns=[f"s{k}" for k in range(values.shape[1])])
    if frame.shape[1] == 0 or len(frame) == 0:
        raise ValueError(f"{name} must hold at least one row and one column, got shape {frame.shape}.")
    if frame.isna().to_numpy().any():
        raise ValueError(f"{name} contains NaN.")
    return frame


def _is_continuous(values: pd.Series, max_levels: int) -> bool:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return numeric and values.nunique() > max_levels


def _band_labels(values: np.ndarray, spec, column) -> np.ndarray:
    """Bands of one continuous column: ``spec`` = number of quantile bins or the bin edges."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if spec < 1:
            raise ValueError(f"bins[{column!r}] must be a positive number of bins, got {spec}.")
        edges = np.quantile(values, np.linspace(0, 1, int(spec) + 1))
    else:
        edges = np.asarray(spec, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or not np.all(np.isfinite(edges)):
            raise ValueError(f"bins[{column!r}] must be an int or at least 2 increasing finite edges, got {spec!r}.")
    # inner edges cut; values beyond the outer edges join the first or last band
    index = np.digitize(values, edges[1:-1], right=False)
    names = np.array([f"[{edges[k]:.4g}, {edges[k + 1]:.4g}{']' if k == len(edges) - 2 else ')'}"
                      for k in range(len(edges) - 1)], dtype=object)
    return names[index]


def intersectional_groups(sensitive_features, bins: Mapping | None = None, n_bins: int = 3,
                          max_levels: int = 10) -> np.ndarray:
    """The intersection each row belongs to, as a label ``"age=[18, 38.67)|gender=1|ethnicity=2"`` ``(n,)``.

    ``sensitive_features``: DataFrame, Series or array ``(n,)|(n, d)``. Continuous columns are binned:
    those named in ``bins`` (a number of quantile bins, or bin edges: the inner edges cut and
    values beyond the outer edges join the end bands, so validation and test rows get the same
    bands), and numeric columns with more than ``max_levels`` distinct values into ``n_bins``
    quantile bins. Other columns are used as they are.
    """
    frame = _frame(sensitive_features, "sensitive_features")
    bins = dict(bins or {})
    unknown = set(bins) - set(frame.columns)
    if unknown:
        raise ValueError(f"bins names unknown columns {sorted(map(str, unknown))}; columns are {list(frame.columns)}.")
    parts = []
    for column in frame.columns:
        values = frame[column]
        if column in bins or _is_continuous(values, max_levels):
            levels = _band_labels(values.to_numpy(dtype=float), bins.get(column, n_bins), column)
        else:
            levels = values.astype(str).to_numpy(dtype=object)
        parts.append(f"{column}=" + pd.Series(levels, dtype=object))
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + "|" + part
    return labels.to_numpy(dtype=object)


def _binary_outcomes(y, name: str, pos_label, n: int | None = None) -> np.ndarray:
    values = np.asarray(y).ravel()
    if n is not None and values.shape[0] != n:
        raise ValueError(f"{name} must have {n} entries, got {values.shape[0]}.")
    return values == pos_label


def _group_rates(hits: np.ndarray, groups: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    rates = []
    for group in pd.unique(groups):
        members = groups == group
        if mask is not None:
            members = members & mask
        rates.append(hits[members].mean() if members.any() else 0.0)
    return np.asarray(rates, dtype=float)


def _groups_for(sensitive_features, n: int, bins) -> np.ndarray:
    groups = intersectional_groups(sensitive_features, bins=bins)
    if groups.shape[0] != n:
        raise ValueError(f"sensitive_features must have one row per prediction: {groups.shape[0]} rows, {n} predictions.")
    return groups


def demographic_parity_difference(y_true, y_pred, *, sensitive_features, bins: Mapping | None = None,
                                  pos_label=1) -> float:
    """Largest minus smallest selection rate ``P(y_pred = pos_label | group)`` over the intersectional groups.

    fairlearn's ``demographic_parity_difference`` (``method="between_groups"``); ``y_true`` is
    unused, kept for the same call. ``y_pred`` ``(n,)``; groups as :func:`intersectional_groups`.
    """
    predicted = _binary_outcomes(y_pred, "y_pred", pos_label)
    groups = _groups_for(sensitive_features, predicted.shape[0], bins)
    rates = _group_rates(predicted, groups)
    return float(rates.max() - rates.min())


def equalized_odds_difference(y_true, y_pred, *, sensitive_features, bins: Mapping | None = None, pos_label=1,
                              agg: str = "worst_case") -> float:
    """The larger (``agg="worst_case"``) or the mean of the true- and false-positive-rate differences between groups.

    fairlearn's ``equalized_odds_difference``. As there (scikit-learn's normalised confusion
    matrix), a group without positives has true-positive rate 0 and one without negatives
    false-positive rate 0. ``y_true``, ``y_pred`` ``(n,)``; groups as :func:`intersectional_groups`.
    """
    if agg not in ("worst_case", "mean"):
        raise ValueError(f"agg must be 'worst_case' or 'mean', got {agg!r}.")
    predicted = _binary_outcomes(y_pred, "y_pred", pos_label)
    positive = _binary_outcomes(y_true, "y_true", pos_label, predicted.shape[0])
    groups = _groups_for(sensitive_features, predicted.shape[0], bins)
    tpr = _group_rates(predicted, groups, positive)
    fpr = _group_rates(predicted, groups, ~positive)
    gaps = (tpr.max() - tpr.min(), fpr.max() - fpr.min())
    return float(max(gaps) if agg == "worst_case" else np.mean(gaps))

