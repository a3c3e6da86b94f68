"""Mixing laws: how each group's loss depends on the mixture, fitted from training runs.

Chen, Hu, Lourie, Cho, Ré, "Aioli: A Unified Optimization Framework for
Language Model Data Mixing", ICLR 2025, arXiv:2411.05735 (Table 1, Section 4).

* Static log-linear law (Data Mixing Laws, Ye et al. 2024), fitted on the
  final losses of several static runs: ``L_i(p) = c_i + b_i exp(-sum_j A_ij p_j)``;
  its optimum over the simplex is the "DML" baseline.
* Linear dynamic law, fitted on short branches from one checkpoint:
  ``L_i^{t+1} = b_i - sum_j A_ij p_j`` (``b_i = L_i^t`` when the previous losses
  are given).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> P = rng.dirichlet(np.ones(2), size=12)
>>> A = np.array([[3.0, 0.5], [0.2, 2.0]])
>>> L = 1.0 + 2.0 * np.exp(-P @ A.T)
>>> law = fit_static_mixing_law(P, L)
>>> bool(law.r2_ > 0.999)
True
>>> law.optimal_mixture().round(2)
array([0.43, 0.57])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diversa.data.mix._checks import check_matrix, check_proportions

__all__ = ["LinearMixingLaw", "LogLinearMixingLaw", "fit_dynamic_mixing_law", "fit_static_mixing_law",
           "mixing_law_similarity", "r_squared"]


def _check_runs(P, L, name_l: str = "L") -> tuple[np.ndarray, np.ndarray]:
    P = check_matrix(P, "P")
    L = check_matrix(L, name_l)
    if L.shape[0] != P.shape[0]:
        raise ValueError(f"P and {name_l} must have one row per run, got {P.shape[0]} and {L.shape[0]}.")
    for r, row in enumerate(P):
        check_proportions(row, f"P[{r}]")
    return P, L


def r_squared(y, y_hat) -> float:
    """Coefficient of determination of predictions ``y_hat`` for ``y`` (pooled over all entries)."""
    y, y_hat = np.asarray(y, float).ravel(), np.asarray(y_hat, float).ravel()
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - y_hat) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float(ss_res == 0)


def _group_r2(L: np.ndarray, pred: np.ndarray) -> float:
    """Mean over groups of each group's R^2 (centred per group, so level differences between groups do not count)."""
    return float(np.mean([r_squared(L[:, i], pred[:, i]) for i in range(L.shape[1])]))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


@dataclass
class LogLinearMixingLaw:
    """``L_i(p) = c[i] + b[i] * exp(-A[i] @ p)`` for every group ``i``; ``r2_``: mean per-group R^2 on the fitted runs."""

    c: np.ndarray
    b: np.ndarray
    A: np.ndarray
    r2_: float = float("nan")

    def predict(self, P) -> np.ndarray:
        """Predicted per-group losses, (r, m), for mixtures ``P`` (r, m) (or one mixture (m,))."""
        P = np.atleast_2d(np.asarray(P, float))
        return self.c + self.b * np.exp(-P @ self.A.T)

    def optimal_mixture(self, weights=None, n_restarts: int = 1, random_state=None) -> np.ndarray:
        """Minimise the (weighted) mean predicted loss over the simplex, ``p = softmax(z)``, Nelder-Mead from z = 0."""
        from scipy.optimize import minimize

        m = self.A.shape[0]
        w = np.full(m, 1.0 / m) if weights is None else check_proportions(weights, "weights", m)
        rng = np.random.default_rng(random_state)
        best = None
        for r in range(max(1, int(n_restarts))):
            z0 = np.zeros(m) if r == 0 else rng.normal(size=m)
            res = minimize(lambda z: float(self.predict(_softmax(z))[0] @ w), z0, method="Nelder-Mead",
                           options={"maxiter": 10_000, "xatol": 1e-8, "fatol": 1e-12})
            if best is None or res.fun < best.fun:
                best = res
        return _softmax(best.x)


def fit_static_mixing_law(P, L, *, maxfev: int = 100_000) -> LogLinearMixingLaw:
    """Fit the log-linear static law to final losses ``L`` (r, m) of static runs with mixtures ``P`` (r, m).

    Each group is fitted separately by ``scipy.optimize.curve_fit`` from
    ``c = min L_i - 0.1|min|, b = 1, A_i = 1``; needs at least ``m + 2`` runs
    (the law's parameters per group).
    """
    from scipy.optimize import curve_fit

    P, L = _check_runs(P, L)
    r, m = P.shape
    if L.shape[1] != m:
        raise ValueError(f"L must have one column per group ({m}), got {L.shape[1]}.")
    if r < m + 2:
        raise ValueError(f"P must hold at least m + 2 = {m + 2} runs to fit the law, got {r}.")
    c, b, A = np.zeros(m), np.zeros(m), np.zeros((m, m))
    for i in range(m):
        def model(x, ci, bi, *ai):
            with np.errstate(over="ignore"):  # trial steps of the optimiser may overflow; they are rejected
                return ci + bi * np.exp(-x @ np.asarray(ai))
        p0 = [L[:, i].min() - 0.1 * abs(L[:, i].min()), 1.0] + [1.0] * m
        try:
            theta, _ = curve_fit(model, P, L[:, i], p0=p0, maxfev=maxfev)
        except RuntimeError as exc:
            raise RuntimeError(f"the static law did not converge for group {i}: {exc}") from None
        c[i], b[i], A[i] = theta[0], theta[1], theta[2:]
    law = LogLinearMixingLaw(c, b, A)
    law.r2_ = _group_r2(L, law.predict(P))
    return law


@dataclass
class LinearMixingLaw:
    """``L_i^{next} = b[i] - A[i] @ p``; ``r2_``: mean per-group R^2 on the fitted branches."""

    A: np.ndarray
    b: np.ndarray
    r2_: float = float("nan")

    def predict(self, P) -> np.ndarray:
        P = np.atleast_2d(np.asarray(P, float))
        return self.b - P @ self.A.T


def fit_dynamic_mixing_law(P, L_next, L_prev=None) -> LinearMixingLaw:
    """Least-squares fit of the linear dynamic law to branches from one checkpoint.

    ``P`` (r, m) the mixtures trained on, ``L_next`` (r, m) the losses after
    each branch. With ``L_prev`` (m,), the losses at the checkpoint, ``b`` is
    fixed to it and only ``A`` is fitted (needs ``r >= m``); without it ``b``
    is fitted too (needs ``r >= m + 1``; mixtures on the simplex make an
    intercept collinear with ``P``, so ``b`` is then identified only up to the
    law's constraint and the fit uses the minimum-norm solution).
    """
    P, L_next = _check_runs(P, L_next, "L_next")
    r, m = P.shape
    if L_next.shape[1] != m:
        raise ValueError(f"L_next must have one column per group ({m}), got {L_next.shape[1]}.")
    if L_prev is not None:
        L_prev = check_matrix(L_prev, "L_prev", shape=(m,), ndim=1)
        if r < m:
            raise ValueError(f"P must hold at least m = {m} branches, got {r}.")
        A = np.linalg.lstsq(P, (L_prev - L_next), rcond=None)[0].T
        b = L_prev.copy()
    else:
        if r < m + 1:
            raise ValueError(f"P must hold at least m + 1 = {m + 1} branches, got {r}.")
        X = np.hstack([np.ones((r, 1)), -P])
        coef = np.linalg.lstsq(X, L_next, rcond=None)[0]
        b, A = coef[0], coef[1:].T
    law = LinearMixingLaw(A, b)
    law.r2_ = _group_r2(L_next, law.predict(P))
    return law


def mixing_law_similarity(A_hat, A_star) -> float:
    """Parameter fidelity of an estimated mixing matrix (the paper's analysis).

    ``0.5 * cos(colsum(A_hat), colsum(A_star)) + 0.5 * spearman(colsum(A_hat), colsum(A_star))``:
    1 for matrices whose column sums agree up to a positive scale.

    >>> mixing_law_similarity([[1.0, 0.0], [0.5, 2.0]], [[2.0, 0.0], [1.0, 4.0]])
    1.0
    """
    from scipy.stats import spearmanr

    A_hat = check_matrix(A_hat, "A_hat")
    A_star = check_matrix(A_star, "A_star", shape=A_hat.shape)
    u, v = A_hat.sum(axis=0), A_star.sum(axis=0)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    cos = float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else 0.0
    rho = spearmanr(u, v).statistic if u.size > 1 and np.ptp(u) > 0 and np.ptp(v) > 0 else 0.0
    return round(0.5 * cos + 0.5 * float(rho), 12)
