"""Tests of diversa.evaluate.roc: ROC points, sweep curves, trapezoid AUC and the ROC convex hull."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial import ConvexHull
from sklearn.metrics import confusion_matrix

from diversa.evaluate.roc import (
    auc_from_points,
    curve_from_points,
    hull_membership,
    roc_convex_hull,
    roc_point,
)


# --- roc_point -----------------------------------------------------------------------------------

def test_roc_point_counts_true_and_false_positive_rates():
    y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0]
    y_pred = [1, 1, 1, 0, 1, 0, 0, 0, 0]
    fpr, tpr = roc_point(y_true, y_pred)
    assert (fpr, tpr) == (0.2, 0.75)


def test_roc_point_agrees_with_the_confusion_matrix_and_string_labels():
    rng = np.random.default_rng(0)
    y_true = rng.choice(["pos", "neg"], 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.choice(["pos", "neg"], 200))
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=["neg", "pos"]).ravel()
    point = roc_point(y_true, y_pred, pos_label="pos")
    assert point.fpr == pytest.approx(fp / (fp + tn)) and point.tpr == pytest.approx(tp / (tp + fn))


def test_roc_point_refuses_a_single_class_and_mismatched_lengths():
    with pytest.raises(ValueError, match="y_true must contain both"):
        roc_point([1, 1, 1], [1, 0, 1])
    with pytest.raises(ValueError, match="same length"):
        roc_point([0, 1, 1], [1, 0])


# --- curve and AUC -------------------------------------------------------------------------------

def test_curve_sorts_by_fpr_then_tpr_and_adds_the_corners():
    fpr, tpr = curve_from_points([(0.5, 0.9), (0.1, 0.4), (0.5, 0.7)])
    np.testing.assert_array_equal(fpr, [0, 0.1, 0.5, 0.5, 1])
    np.testing.assert_array_equal(tpr, [0, 0.4, 0.7, 0.9, 1])


def test_auc_of_the_perfect_curve_is_one_and_of_the_diagonal_is_half():
    assert auc_from_points([(0, 0), (0, 1), (1, 1)]) == 1.0
    assert auc_from_points([]) == 0.5
    assert auc_from_points([(0.3, 0.3), (0.6, 0.6)]) == pytest.approx(0.5)


def test_auc_of_one_point_is_the_trapezoid_area():
    # (0,0)-(0.2,0.8): 0.2 * 0.4 = 0.08; (0.2,0.8)-(1,1): 0.8 * 0.9 = 0.72.
    assert auc_from_points([(0.2, 0.8)]) == pytest.approx(0.8)
    assert auc_from_points(np.array([[0.2, 0.8]])) == pytest.approx(np.trapezoid([0, 0.8, 1], [0, 0.2, 1]))


@pytest.mark.parametrize("bad", [[(0.1, 1.2)], [(-0.1, 0.5)], [(np.nan, 0.5)], [[0.1, 0.2, 0.3]]])
def test_points_must_be_fpr_tpr_pairs_in_the_unit_square(bad):
    with pytest.raises(ValueError, match="points"):
        auc_from_points(bad)


# --- convex hull ---------------------------------------------------------------------------------

def test_hull_excludes_a_point_under_the_hull_spec_example():
    hull = roc_convex_hull([(0, 0), (1, 1), (0.2, 0.8), (0.5, 0.6)])
    np.testing.assert_array_equal(hull, [[0, 0], [0.2, 0.8], [1, 1]])


def test_hull_drops_collinear_and_below_diagonal_points_and_keeps_a_vertical_start():
    hull = roc_convex_hull([(0.0, 0.4), (0.1, 0.2), (0.25, 0.7), (0.7, 0.3)])
    np.testing.assert_array_equal(hull, [[0, 0], [0, 0.4], [0.25, 0.7], [1, 1]])
    # (0.25, 0.625) and (0.5, 0.75) lie on the edge from (0, 0.5) to (1, 1): not vertices.
    collinear = roc_convex_hull([(0.25, 0.625), (0.5, 0.75), (0.0, 0.5)])
    np.testing.assert_array_equal(collinear, [[0, 0], [0, 0.5], [1, 1]])


def test_hull_of_no_points_or_duplicates_is_the_diagonal_or_the_unique_vertices():
    np.testing.assert_array_equal(roc_convex_hull(np.empty((0, 2))), [[0, 0], [1, 1]])
    np.testing.assert_array_equal(
        roc_convex_hull([(0.3, 0.9), (0.3, 0.9), (0, 0)]), [[0, 0], [0.3, 0.9], [1, 1]]
    )


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 30), st.just(2)), elements=st.integers(0, 200)))
def test_hull_is_concave_covers_all_points_and_matches_scipy(counts):
    # ROC points are ratios of counts: draw them on a 1/200 grid.
    points = counts / 200.0
    hull = roc_convex_hull(points)
    assert hull[0].tolist() == [0, 0] and hull[-1].tolist() == [1, 1]
    assert np.all(np.diff(hull[1:, 0]) > 0)  # only the first edge may be vertical
    edges = np.diff(hull[1:] if hull[1, 0] == 0 else hull, axis=0)
    slopes = edges[:, 1] / edges[:, 0]
    assert np.all(np.diff(slopes) < 0)  # concave: slopes strictly decrease
    # Every point lies on or under the hull polyline.
    polyline = hull[1:] if hull[1, 0] == 0 else hull  # a vertical first edge tops out at hull[1]
    upper = np.interp(points[:, 0], polyline[:, 0], polyline[:, 1])
    assert np.all(points[:, 1] <= upper + 1e-9)
    # Vertices are input points or the two corners, and agree with scipy's full hull.
    candidates = np.vstack([points, [[0, 0], [1, 1]]])
    assert all(np.any(np.all(np.isclose(candidates, v, atol=1e-12), axis=1)) for v in hull)
    unique = np.unique(candidates, axis=0)
    if len(unique) >= 3 and np.linalg.matrix_rank(unique[1:] - unique[0]) == 2:
        scipy_vertices = {tuple(v) for v in unique[ConvexHull(unique).vertices]}
        assert {tuple(v) for v in hull} <= scipy_vertices
    assert auc_from_points(hull[1:-1]) >= auc_from_points(points) - 1e-12


# --- hull membership -----------------------------------------------------------------------------

def test_hull_membership_counts_vertices_per_method_without_the_corners():
    counts = hull_membership({
        "smote": [(0.1, 0.6), (0.3, 0.85), (0.6, 0.8)],
        "under": [(0.2, 0.5), (0.5, 0.95), (1.0, 1.0)],
        "nb": [(0.0, 0.0), (0.9, 0.7)],
        "empty": np.empty((0, 2)),
    })
    assert counts == {"smote": 2, "under": 1, "nb": 0, "empty": 0}


def test_a_vertex_shared_within_tolerance_counts_for_both_methods():
    counts = hull_membership({"a": [(0.2, 0.9)], "b": [(0.2 + 1e-13, 0.9)], "c": [(0.2 + 1e-6, 0.9)]})
    assert counts["a"] == 1 and counts["b"] == 1 and counts["c"] == 0


def test_hull_membership_names_the_method_with_bad_points():
    with pytest.raises(ValueError, match="points_by_method\\['bad'\\]"):
        hull_membership({"ok": [(0.1, 0.5)], "bad": [(0.1, 2.0)]})
