"""Tests of the boosting machinery shared by R-MTGB's blocks (arXiv:2507.11411)."""

import numpy as np
import pytest

from diversa.learners.multitask.gradient_boosting import (
    EnsembleParts,
    SoftmaxCrossEntropyLoss,
    SquaredErrorLoss,
    TreeSettings,
    compose,
    draw_rows,
    fit_tree,
    sum_trees,
    tree_output,
)


def _numeric_gradient(loss, Y, F, eps=1e-6):
    grad = np.zeros_like(F)
    for index in np.ndindex(F.shape):
        up, down = F.copy(), F.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (loss.row_loss(Y, up).sum() - loss.row_loss(Y, down).sum()) / (2 * eps)
    return grad


@pytest.mark.parametrize("loss, n_outputs", [(SquaredErrorLoss(), 1), (SoftmaxCrossEntropyLoss(), 3)])
def test_negative_gradient_is_minus_the_derivative_of_the_loss(loss, n_outputs):
    rng = np.random.RandomState(0)
    F = rng.normal(size=(6, n_outputs))
    Y = rng.normal(size=(6, 1)) if n_outputs == 1 else np.eye(n_outputs)[rng.randint(0, n_outputs, 6)]
    np.testing.assert_allclose(loss.negative_gradient(Y, F), -_numeric_gradient(loss, Y, F), atol=1e-6)


def test_initial_raw_scores():
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    ce = SoftmaxCrossEntropyLoss()
    np.testing.assert_array_equal(ce.initial_raw(Y, "zero"), [0.0, 0.0])
    np.testing.assert_allclose(ce.initial_raw(Y, "mean"), np.log([0.75, 0.25]))
    se = SquaredErrorLoss()
    np.testing.assert_allclose(se.initial_raw(np.array([[1.0], [3.0]]), "mean"), [2.0])
    np.testing.assert_array_equal(se.initial_raw(np.array([[1.0], [3.0]]), "zero"), [0.0])


def test_compose_is_the_model_equation():
    rng = np.random.RandomState(1)
    meta, out, non, task = (rng.normal(size=(4, 2)) for _ in range(4))
    s = np.array([0.0, 1.0, 0.5, 0.2])
    F = compose(meta, out, non, task, s)
    np.testing.assert_allclose(F[0], meta[0] + non[0] + task[0])
    np.testing.assert_allclose(F[1], meta[1] + out[1] + task[1])
    np.testing.assert_allclose(F[3], meta[3] + 0.8 * non[3] + 0.2 * out[3] + task[3])
    parts = EnsembleParts(meta, out, non, task)
    np.testing.assert_allclose(parts.raw(s), F)


def test_parts_start_from_the_constant_score():
    parts = EnsembleParts.start(3, np.array([0.5, -0.5]))
    np.testing.assert_array_equal(parts.meta, [[0.5, -0.5]] * 3)
    assert not parts.out.any() and not parts.non.any() and not parts.task.any()


def test_base_tree_is_a_stump_with_mean_leaves():
    rng = np.random.RandomState(0)
    X32 = rng.uniform(size=(50, 3)).astype(np.float32)
    target = rng.normal(size=(50, 2))
    tree = fit_tree(X32, target, TreeSettings(), rng)
    assert tree.get_n_leaves() == 2
    out = tree_output(tree, X32, 2)
    leaves = tree.apply(X32)
    for leaf in np.unique(leaves):
        np.testing.assert_allclose(out[leaves == leaf][0], target[leaves == leaf].mean(axis=0))
    np.testing.assert_allclose(sum_trees([tree, tree], X32, 0.1, 2), 0.2 * out)
    assert sum_trees([], X32, 0.1, 2).shape == (50, 2)


def test_draw_rows():
    rng = np.random.RandomState(0)
    assert draw_rows(10, 1.0, rng) is None
    rows = draw_rows(10, 0.5, rng)
    assert rows.shape == (5,) and len(set(rows)) == 5 and rows.max() < 10
    assert draw_rows(3, 0.01, rng).shape == (1,)
