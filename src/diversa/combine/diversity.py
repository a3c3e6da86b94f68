"""Predictive-diversity diagnostics of probability-averaging ensembles (pure numpy).

Abe, Buchanan, Pleiss, Cunningham, "Pathologies of Predictive Diversity in Deep Ensembles",
arXiv:2302.00704 (TMLR 2024), spec ``ensemble.md#pathologies``, Algorithm steps 1-4, following
the measures of the authors' research code (cellistigs/ensemble_attention ``metrics.py``).

Member probabilities ``probs (M, n, C)``, ensemble ``fbar = mean_m f_m``, labels ``y (n,)``:

* cross-entropy (exact): ``CE(fbar) = mean_m CE(f_m) - DIV_CE`` with
  ``DIV_CE = mean_m log(fbar_y / f_{m,y})`` (the Jensen gap, = KL(uniform || q), ``q_m`` the share
  of true-label mass carried by member m);
* Brier (exact, Krogh-Vedelsby ambiguity): ``||fbar - e_y||^2 = mean_m ||f_m - e_y||^2 - DIV_B``
  with ``DIV_B = mean_m ||f_m - fbar||^2`` (label-free);
* 0-1 loss (no identity): ``gap_01 = mean_m err_m - err(argmax fbar)``, reported as
  "diversity" of the 0-1 decomposition (it may be negative);
* pairwise disagreement, disagreement matrix, JS-uniform ``H(fbar) - mean_m H(f_m)``, JS-avg
  (leave-one-out), DKL-avg, Ortega variance of the true-class probability (without the h_max
  factor, as in the authors' code), ensemble improvement rate.

Probabilities are clipped to ``[1e-12, 1]`` before ``log``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Decomposition",
    "ambiguity",
    "disagreement_matrix",
    "diversity_report",
    "dkl_avg",
    "ensemble_decomposition",
    "ensemble_improvement_rate",
    "jensen_gap_ce",
    "js_divergence_avg",
    "js_divergence_uniform",
    "ortega_variance",
    "pairwise_disagreement",
]

_EPS = 1e-12


@dataclass(frozen=True)
class Decomposition:
    """``ensemble_loss = mean_member_loss - diversity`` (exact for "ce" and "brier")."""

    ensemble_loss: float
    mean_member_loss: float
    diversity: float
    per_sample_diversity: np.ndarray  # (n,)


def _check_probs(probs, name="probs") -> np.ndarray:
    P = np.asarray(probs, dtype=float)
    if P.ndim != 3:
        raise ValueError(f"{name} must have shape (M, n, C), got {P.shape}.")
    if P.shape[0] < 1 or P.shape[1] < 1 or P.shape[2] < 2:
        raise ValueError(f"{name} needs M >= 1, n >= 1 and C >= 2, got {P.shape}.")
    if not np.all(np.isfinite(P)) or np.any(P < 0):
        raise ValueError(f"{name} must be finite and non-negative.")
    if not np.allclose(P.sum(axis=2), 1.0, atol=1e-4):
        raise ValueError(f"{name} rows must sum to 1 (apply softmax to logits first).")
    return P


def _check_y(y, P) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (P.shape[1],):
        raise ValueError(f"y must have shape ({P.shape[1]},), got {y.shape}.")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= P.shape[2]:
        raise ValueError(f"y must hold integer class indices in [0, {P.shape[2]}).")
    return y.astype(np.int64)


def _log(p):
    return np.log(np.clip(p, _EPS, 1.0))


def _true_prob(P, y):
    return P[:, np.arange(P.shape[1]), y]  # (M, n)


def jensen_gap_ce(probs, y) -> np.ndarray:
    """Per-sample ``DIV_CE = mean_m log(fbar_y / f_{m,y})`` (>= 0), shape (n,)."""
    P = _check_probs(probs)
    y = _check_y(y, P)
    fy = _true_prob(P, y)
    return np.mean(_log(fy.mean(axis=0))[None, :] - _log(fy), axis=0)


def ambiguity(probs) -> np.ndarray:
    """Per-sample Brier diversity ``mean_m ||f_m - fbar||^2 = sum_c Var_m f_{m,c}``, shape (n,)."""
    P = _check_probs(probs)
    return np.sum(P.var(axis=0), axis=1)


def ensemble_decomposition(probs, y, loss: str = "ce") -> Decomposition:
    """Ensemble loss, mean member loss and diversity (means over samples)."""
    P = _check_probs(probs)
    y = _check_y(y, P)
    fbar = P.mean(axis=0)
    n = P.shape[1]
    if loss == "ce":
        ens = -_log(fbar[np.arange(n), y])
        mem = -_log(_true_prob(P, y)).mean(axis=0)
        div = mem - ens
    elif loss == "brier":
        onehot = np.eye(P.shape[2])[y]
        ens = np.sum((fbar - onehot) ** 2, axis=1)
        mem = np.sum((P - onehot[None]) ** 2, axis=2).mean(axis=0)
        div = np.sum((P - fbar[None]) ** 2, axis=2).mean(axis=0)
    elif loss == "zero_one":
        ens = (fbar.argmax(axis=1) != y).astype(float)
        mem = (P.argmax(axis=2) != y[None]).mean(axis=0)
        div = mem - ens
    else:
        raise ValueError(f"loss must be 'ce', 'brier' or 'zero_one', got {loss!r}.")
    return Decomposition(float(ens.mean()), float(mem.mean()), float(div.mean()), div)


def _labels_of(probs_or_labels) -> np.ndarray:
    A = np.asarray(probs_or_labels)
    if A.ndim == 3:
        return _check_probs(A).argmax(axis=2)
    if A.ndim == 2:
        return A
    raise ValueError(f"probs_or_labels must be (M, n, C) probabilities or (M, n) labels, got shape {A.shape}.")


def disagreement_matrix(probs_or_labels) -> np.ndarray:
    """``(M, M)`` fraction of samples on which members m and k predict different labels."""
    L = _labels_of(probs_or_labels)
    return (L[:, None, :] != L[None, :, :]).mean(axis=2)


def pairwise_disagreement(probs_or_labels) -> float:
    """Mean disagreement over member pairs ``m < k`` (0 for a single member), in [0, 1]."""
    D = disagreement_matrix(probs_or_labels)
    M = D.shape[0]
    return 0.0 if M < 2 else float(D[np.triu_indices(M, 1)].mean())


def _entropy(p):
    return -np.sum(p * _log(p), axis=-1)


def js_divergence_uniform(probs) -> np.ndarray:
    """Generalised Jensen-Shannon divergence ``H(fbar) - mean_m H(f_m)`` (>= 0, <= log M), (n,)."""
    P = _check_probs(probs)
    return _entropy(P.mean(axis=0)) - _entropy(P).mean(axis=0)


def _kl(a, b):
    return np.sum(np.where(a > 0, a * (_log(a) - _log(b)), 0.0), axis=-1)


def js_divergence_avg(probs) -> np.ndarray:
    """``mean_m JS(f_m || leave-one-out average)``; 0 for a single member, (n,)."""
    P = _check_probs(probs)
    M = P.shape[0]
    if M < 2:
        return np.zeros(P.shape[1])
    loo = (P.sum(axis=0, keepdims=True) - P) / (M - 1)
    mid = 0.5 * (P + loo)
    return np.mean(0.5 * _kl(P, mid) + 0.5 * _kl(loo, mid), axis=0)


def dkl_avg(probs) -> np.ndarray:
    """``mean_m KL(fbar || f_m)`` (>= 0), (n,)."""
    P = _check_probs(probs)
    return np.mean(_kl(P.mean(axis=0)[None], P), axis=0)


def ortega_variance(probs, y) -> np.ndarray:
    """Variance over members of ``f_{m,y} / max_m f_{m,y}`` (authors' code, no h_max factor), (n,)."""
    P = _check_probs(probs)
    y = _check_y(y, P)
    fy = _true_prob(P, y)
    r = fy / np.maximum(fy.max(axis=0, keepdims=True), _EPS)
    return np.mean(r ** 2, axis=0) - np.mean(r, axis=0) ** 2


def ensemble_improvement_rate(probs, y) -> float:
    """``(mean_m err_m - err(ensemble)) / mean_m err_m`` (NaN when members never err)."""
    d = ensemble_decomposition(probs, y, "zero_one")
    return float(d.diversity / d.mean_member_loss) if d.mean_member_loss > 0 else float("nan")


def diversity_report(probs, y) -> dict:
    """All decompositions and diversity measures as a flat dict of floats."""
    out = {}
    for loss in ("ce", "brier", "zero_one"):
        d = ensemble_decomposition(probs, y, loss)
        out.update({f"{loss}_ensemble": d.ensemble_loss, f"{loss}_mean_member": d.mean_member_loss,
                    f"{loss}_diversity": d.diversity})
    dis = pairwise_disagreement(probs)
    out.update(disagreement=dis,
               disagreement_error_ratio=dis / out["zero_one_mean_member"] if out["zero_one_mean_member"] > 0
               else float("nan"),
               ensemble_improvement_rate=ensemble_improvement_rate(probs, y),
               js_uniform=float(js_divergence_uniform(probs).mean()), js_avg=float(js_divergence_avg(probs).mean()),
               dkl_avg=float(dkl_avg(probs).mean()), ortega_variance=float(ortega_variance(probs, y).mean()))
    return out
