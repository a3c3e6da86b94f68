"""Mixing laws: static log-linear fit and its optimum, linear dynamic fit, parameter similarity, static baselines."""

import numpy as np
import pytest

from diversa.data.mix import (
    data_mixing_law_mixture,
    fit_dynamic_mixing_law,
    fit_static_mixing_law,
    grid_search_mixture,
    mixing_law_similarity,
    simplex_grid,
)


def _static_data(m=3, r=12, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.2, 3.0, size=(m, m))
    c, b = rng.uniform(1, 2, m), rng.uniform(0.5, 2, m)
    P = rng.dirichlet(np.ones(m), size=r)
    L = c + b * np.exp(-P @ A.T) + noise * rng.normal(size=(r, m))
    return P, L, (c, b, A)


def test_static_law_recovers_synthetic_losses():
    P, L, _ = _static_data()
    law = fit_static_mixing_law(P, L)
    assert law.r2_ > 0.99
    Pn, Ln, _ = _static_data(r=20, seed=0)   # same law, new mixtures (same seed: same parameters)
    np.testing.assert_allclose(law.predict(Pn), Ln, atol=1e-3)


def test_static_optimum_matches_brute_force_grid_m2():
    P, L, (c, b, A) = _static_data(m=2, r=10, seed=3)
    law = fit_static_mixing_law(P, L)
    grid = simplex_grid(2, 0.01)
    best = grid[np.argmin(law.predict(grid).mean(1))]
    assert np.abs(law.optimal_mixture() - best).max() < 0.02
    assert np.abs(data_mixing_law_mixture(P, L) - best).max() < 0.02


def test_static_law_needs_enough_runs():
    P, L, _ = _static_data(r=4)
    with pytest.raises(ValueError, match="P must hold at least"):
        fit_static_mixing_law(P, L)
    P, L, _ = _static_data()
    P[0] = [0.5, 0.6, -0.1]
    with pytest.raises(ValueError, match=r"P\[0\]"):
        fit_static_mixing_law(P, L)


def test_dynamic_law_recovers_A():
    rng = np.random.default_rng(1)
    A = rng.uniform(0, 1, (3, 3))
    L0 = np.array([3.0, 2.5, 4.0])
    P = rng.dirichlet(np.ones(3), size=8)
    L1 = L0 - P @ A.T
    law = fit_dynamic_mixing_law(P, L1, L0)
    np.testing.assert_allclose(law.A, A, atol=1e-10)
    assert law.r2_ == pytest.approx(1.0)
    free = fit_dynamic_mixing_law(P, L1)
    np.testing.assert_allclose(free.predict(P), L1, atol=1e-10)
    with pytest.raises(ValueError, match="L_prev"):
        fit_dynamic_mixing_law(P, L1, L0[:2])


def test_similarity():
    A = np.random.default_rng(2).uniform(0, 1, (4, 4))
    assert mixing_law_similarity(A, A) == pytest.approx(1.0)
    assert mixing_law_similarity(3.0 * A, A) == pytest.approx(1.0)
    assert mixing_law_similarity(A[:, ::-1], A) < 1.0


def test_grid_search_picks_lowest_weighted_mean():
    P = simplex_grid(2, 0.5)
    L = np.array([[1.0, 5.0], [2.0, 2.0], [5.0, 1.0]])
    assert grid_search_mixture(P, L).tolist() == [0.5, 0.5]
    assert grid_search_mixture(P, L, weights=[0.1, 0.9]).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="val_losses"):
        grid_search_mixture(P, L[:2])
    with pytest.raises(ValueError, match="weights"):
        grid_search_mixture(P, L, weights=[0.5, 0.6])
