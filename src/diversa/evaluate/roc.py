"""ROC points, curves from sweeps, trapezoid AUC and the ROC convex hull.

The evaluation of Chawla, Bowyer, Hall, Kegelmeyer, "SMOTE: Synthetic
Minority Over-sampling Technique", JAIR 16 (2002), arXiv:1106.1813: each
setting of a method (an under-sampling level, a SMOTE amount, a prior)
gives one hard-prediction ROC point; the points of a sweep are joined into a
curve whose trapezoid area is the AUC; and the ROC convex hull (ROCCH,
Provost and Fawcett) of all methods' points shows which method reaches the
potentially optimal operating points.

Points are ``(FPR, TPR)`` pairs; arrays of points have shape ``(m, 2)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

HULL_TOLERANCE = 1e-12


class ROCPoint(NamedTuple):
    """One ROC operating point; unpacks as ``fpr, tpr = roc_point(...)``."""

    fpr: float
    tpr: float


def roc_point(y_true, y_pred, pos_label=1) -> ROCPoint:
    """``(FPR, TPR)`` of hard predictions.

    ``y_true`` and ``y_pred`` have shape (n,); a prediction counts as positive
    when it equals ``pos_label``. ``TPR = TP / P`` and ``FPR = FP / N``; both
    classes must occur in ``y_true``.
    """
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length; got {y_true.size} and {y_pred.size}."
        )
    actual = y_true == pos_label
    predicted = y_pred == pos_label
    n_positive = int(actual.sum())
    n_negative = actual.size - n_positive
    if n_positive == 0 or n_negative == 0:
        raise ValueError(
            f"y_true must contain both pos_label={pos_label!r} and other labels to define "
            f"TPR and FPR; got {n_positive} positives and {n_negative} negatives."
        )
    tpr = float(np.count_nonzero(actual & predicted)) / n_positive
    fpr = float(np.count_nonzero(~actual & predicted)) / n_negative
    return ROCPoint(fpr, tpr)


def check_points(points, name: str = "points") -> np.ndarray:
    """Return ``points`` as a float array of shape (m, 2) with coordinates in [0, 1]."""
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.empty((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (m, 2) of (FPR, TPR) pairs; got {array.shape}.")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise ValueError(f"{name} must hold finite (FPR, TPR) values in [0, 1].")
    return array


def curve_from_points(points) -> tuple[np.ndarray, np.ndarray]:
    """The ROC polyline of a sweep: ``(fpr, tpr)``, each of shape (m + 2,).

    Points are sorted by FPR, then TPR; ``(0, 0)`` is prepended and ``(1, 1)``
    appended.
    """
    array = check_points(points)
    order = np.lexsort((array[:, 1], array[:, 0]))
    fpr = np.concatenate([[0.0], array[order, 0], [1.0]])
    tpr = np.concatenate([[0.0], array[order, 1], [1.0]])
    return fpr, tpr


def auc_from_points(points) -> float:
    """Trapezoid area under :func:`curve_from_points` of ``points`` (m, 2)."""
    fpr, tpr = curve_from_points(points)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def _cross(origin: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - origin[0]) * (b[1] - origin[1]) - (a[1] - origin[1]) * (b[0] - origin[0]))


def roc_convex_hull(points) -> np.ndarray:
    """Vertices of the ROC convex hull, shape (h, 2), from (0, 0) to (1, 1).

    The upper convex hull (Andrew's monotone chain) of ``points`` together
    with ``(0, 0)`` and ``(1, 1)``, ordered by increasing FPR. Points on a
    hull edge but not at a corner (collinear within 1e-12) are not vertices.
    """
    array = np.unique(np.vstack([check_points(points), [[0.0, 0.0], [1.0, 1.0]]]), axis=0)
    # np.unique sorts rows lexicographically: by FPR, then TPR.
    hull: list[np.ndarray] = []
    for point in array:
        # Keep only clockwise turns: drop the last vertex while it lies on or
        # below the segment from the one before it to the new point.
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) >= -HULL_TOLERANCE:
            hull.pop()
        hull.append(point)
    return np.array(hull)


def _near_any(vertices: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(h,) mask: which vertices have a point within the tolerance in both coordinates."""
    if len(points) == 0:
        return np.zeros(len(vertices), dtype=bool)
    close = np.abs(vertices[:, np.newaxis, :] - points[np.newaxis, :, :]) <= HULL_TOLERANCE
    return np.any(np.all(close, axis=2), axis=1)


def hull_membership(points_by_method: dict) -> dict[str, int]:
    """How many ROC convex hull vertices belong to each method.

    ``points_by_method`` maps a method name to its points, shape (m, 2). A
    vertex belongs to every method that has a point within 1e-12 of it (in
    both coordinates). The corners ``(0, 0)`` and ``(1, 1)`` — the trivial
    all-negative and all-positive classifiers, always on the hull — are not
    counted. A method "is on the hull" when its count is positive.
    """
    checked = {
        name: check_points(points, f"points_by_method[{name!r}]")
        for name, points in points_by_method.items()
    }
    vertices = roc_convex_hull(np.vstack([np.empty((0, 2))] + list(checked.values())))
    vertices = vertices[~_near_any(vertices, np.array([[0.0, 0.0], [1.0, 1.0]]))]
    return {name: int(_near_any(vertices, points).sum()) for name, points in checked.items()}
