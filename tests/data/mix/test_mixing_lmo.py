"""LMO pieces of Aioli: exponentiated gradient, normalisation, smoothed one-hot solve, simplex grid."""

import numpy as np
import pytest
from scipy.special import softmax

from diversa.data.mix import (
    exponentiated_gradient_step,
    normalize_mixing_matrix,
    simplex_grid,
    smoothed_onehot,
    smoothed_onehot_matrix,
    solve_smoothed_onehot,
)

RNG = np.random.default_rng(0)


def test_eg_matches_softmax_of_log_plus_column_sums():
    p = RNG.dirichlet(np.ones(4))
    A = RNG.normal(size=(4, 4))
    np.testing.assert_allclose(exponentiated_gradient_step(p, A, 0.7), softmax(np.log(p) + 0.7 * A.sum(0)))


def test_eg_properties():
    p = np.array([0.2, 0.3, 0.5])
    A = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(exponentiated_gradient_step(p, A, 0.0), p)          # eta = 0 keeps p
    np.testing.assert_allclose(exponentiated_gradient_step(p, np.ones((3, 3)), 5.0), p)  # equal column sums
    q = exponentiated_gradient_step(np.full(3, 1 / 3), A, 1.0)
    assert q[2] > q[0] == pytest.approx(q[1])                                     # larger column sum wins
    assert q.sum() == pytest.approx(1.0) and np.all(q >= 0)


def test_eg_non_cumulative_base():
    A = np.array([[1.0, 0.0], [0.0, 0.0]])
    q = exponentiated_gradient_step([0.9, 0.1], A, 1.0, base=np.ones(2))
    np.testing.assert_allclose(q, softmax([1.0, 0.0]))


def test_eg_zero_proportion_stays_zero():
    q = exponentiated_gradient_step([0.5, 0.5, 0.0], np.ones((3, 3)) + np.eye(3), 1.0)
    assert q[2] == 0.0 and q.sum() == pytest.approx(1.0)


def test_normalize_nonnegative_sums_to_one_and_shift_invariant():
    A = RNG.normal(size=(3, 3))
    N = normalize_mixing_matrix(A)
    assert N.min() >= 0 and N.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(normalize_mixing_matrix(A - 5.0), N)
    np.testing.assert_allclose(normalize_mixing_matrix(np.zeros((2, 2))), np.full((2, 2), 0.25))
    pos = np.abs(A)
    np.testing.assert_allclose(normalize_mixing_matrix(pos), pos / pos.sum())   # no shift when non-negative


def test_smoothed_onehot_and_solve():
    assert smoothed_onehot(4, 1, 0.7).tolist() == pytest.approx([0.1, 0.7, 0.1, 0.1])
    beta = RNG.normal(size=(4, 4))
    np.testing.assert_allclose(solve_smoothed_onehot(beta, 1.0), beta)
    f, m = 0.6, 4
    A = solve_smoothed_onehot(beta, f)
    P = smoothed_onehot_matrix(m, f)
    for i in range(m):
        np.testing.assert_allclose(P @ A[i], beta[i], atol=1e-12)
    closed = (f - (1 - f) / (m - 1)) * np.eye(m) + (1 - f) / (m - 1) * np.ones((m, m))
    np.testing.assert_allclose(P, closed)


def test_solve_rejects_uniform_factor():
    with pytest.raises(ValueError, match="factor"):
        solve_smoothed_onehot(np.eye(3), 1 / 3)


def test_simplex_grid():
    g = simplex_grid(3, 0.25)
    assert g.shape == (15, 3)
    np.testing.assert_allclose(g.sum(1), 1.0)
    assert len({tuple(r) for r in g}) == 15
    with pytest.raises(ValueError, match="step"):
        simplex_grid(3, 0.3)


@pytest.mark.parametrize("p, match", [
    ([0.5, 0.6], "sum to 1"), ([1.2, -0.2], "non-negative"), ([np.nan, 1.0], "NaN"), ([], "non-empty"),
])
def test_bad_proportions_name_the_argument(p, match):
    with pytest.raises(ValueError, match=match) as err:
        exponentiated_gradient_step(p, np.eye(max(len(p), 1)), 1.0)
    assert str(err.value).startswith("p ")


def test_bad_matrix_shapes():
    with pytest.raises(ValueError, match="A must have shape"):
        exponentiated_gradient_step([0.5, 0.5], np.eye(3), 1.0)
    with pytest.raises(ValueError, match="eta"):
        exponentiated_gradient_step([0.5, 0.5], np.eye(2), -1.0)
    with pytest.raises(ValueError, match="A contains NaN"):
        normalize_mixing_matrix([[np.nan, 0.0], [0.0, 1.0]])
    with pytest.raises(TypeError, match="p must be a sequence"):
        exponentiated_gradient_step("ab", np.eye(2), 1.0)
