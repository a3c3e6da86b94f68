"""Diversity-weighted training objective of a deep ensemble (the gamma objective).

Abe, Buchanan, Pleiss, Cunningham, "Pathologies of Predictive Diversity in Deep Ensembles",
arXiv:2302.00704 (TMLR 2024), spec ``ensemble.md#pathologies``, Algorithm step 5.

For a convex loss the ensemble's loss splits exactly into the mean member loss minus a diversity
term (a Jensen gap). With member probabilities ``f_m = softmax(z_m)``, ``fbar = mean_m f_m``
(probability averaging) and label ``y``, one joint model of ``M`` members minimises, averaged
over the batch,

    L_gamma = mean_m loss(f_m) - gamma DIV

* ``loss="ce"``, ``measure="jensen_gap"``: ``DIV_CE = mean_m log(fbar_y / f_{m,y})``, so that
  ``L_gamma = (1 - gamma) mean_m CE(f_m) + gamma CE(fbar)``;
* ``loss="brier"``, ``measure="jensen_gap"``: ``DIV_Brier = mean_m ||f_m - fbar||^2`` (the
  Krogh-Vedelsby ambiguity), so that ``L_gamma = (1 - gamma) mean_m Brier(f_m) + gamma
  Brier(fbar)``;
* ``measure="js_uniform"`` (``H(fbar) - mean_m H(f_m)``) or ``"variance"`` (the Brier ambiguity)
  with either loss: the alternative regularisers of the authors' code.

``gamma = 0`` trains every member on its own loss (a standard deep ensemble: no gradient flows
between members), ``gamma = 1`` trains the ensemble's loss jointly, ``gamma > 0`` encourages
diversity and ``gamma < 0`` discourages it. The authors' code writes the same family as
``CE(fbar) + gamma_code (mean CE - CE(fbar))``: ``gamma = 1 - gamma_code``. With cross-entropy and
``gamma > 1`` the objective is unbounded below (one member can send ``f_{m,y} -> 0`` while the
ensemble stays near ``log M``): allowed, with log-probabilities clamped at ``log(eps)`` and a
warning.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["DiversityRegularizedEnsembleLoss", "EnsembleLossTerms", "diversity_regularized_loss",
           "ensemble_loss_terms"]

_LOSSES = ("ce", "brier")
_MEASURES = ("jensen_gap", "js_uniform", "variance")


class EnsembleLossTerms(NamedTuple):
    """Batch means of the decomposition ``ensemble_loss = mean_member_loss - diversity`` (for
    ``measure="jensen_gap"``; other measures are not a decomposition of the ensemble loss)."""

    mean_member_loss: Tensor
    ensemble_loss: Tensor
    diversity: Tensor


def _check(member_logits: Tensor, target: Tensor, loss: str, measure: str) -> None:
    if not isinstance(member_logits, Tensor) or member_logits.ndim != 3:
        raise ValueError("member_logits must be a tensor of shape (M, B, C).")
    if not isinstance(target, Tensor) or target.shape != member_logits.shape[1:2]:
        raise ValueError(f"target must be a tensor of shape ({member_logits.shape[1]},), got "
                         f"{tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__}.")
    if target.dtype.is_floating_point or target.numel() and (target.min() < 0 or target.max() >= member_logits.shape[2]):
        raise ValueError(f"target must hold class indices in [0, {member_logits.shape[2]}).")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}.")
    if measure not in _MEASURES:
        raise ValueError(f"measure must be one of {_MEASURES}, got {measure!r}.")


def _log_probs(member_logits: Tensor, eps: float | None) -> Tensor:
    logp = torch.log_softmax(member_logits, dim=-1)
    return logp if eps is None else logp.clamp(min=math.log(eps))


def ensemble_loss_terms(member_logits: Tensor, target: Tensor, loss: str = "ce", measure: str = "jensen_gap",
                        eps: float | None = None) -> EnsembleLossTerms:
    """Mean member loss, ensemble loss and diversity of member logits ``(M, B, C)`` for ``target (B,)``.

    Batch means, differentiable. ``eps`` clamps log-probabilities at ``log(eps)`` (None: no clamp).
    """
    _check(member_logits, target, loss, measure)
    logp = _log_probs(member_logits, eps)                                  # (M, B, C)
    M = logp.shape[0]
    rows = torch.arange(logp.shape[1], device=logp.device)
    log_fbar = torch.logsumexp(logp, dim=0) - math.log(M)                  # (B, C)
    if loss == "ce":
        member = -logp[:, rows, target].mean()
        ensemble = -log_fbar[rows, target].mean()
    else:
        onehot = nn.functional.one_hot(target, logp.shape[2]).to(logp.dtype)
        probs = logp.exp()
        member = ((probs - onehot) ** 2).sum(-1).mean()
        ensemble = ((probs.mean(0) - onehot) ** 2).sum(-1).mean()
    if measure == "jensen_gap":
        diversity = member - ensemble
    elif measure == "variance":
        probs = logp.exp()
        diversity = ((probs - probs.mean(0)) ** 2).sum(-1).mean()
    else:   # js_uniform: entropy of the mean minus the mean entropy
        probs = logp.exp()
        diversity = (-(log_fbar.exp() * log_fbar).sum(-1) + (probs * logp).sum(-1).mean(0)).mean()
    return EnsembleLossTerms(member, ensemble, diversity)


def _check_gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not math.isfinite(gamma):
        raise ValueError(f"gamma must be a finite float, got {gamma!r}.")
    return float(gamma)


def diversity_regularized_loss(member_logits: Tensor, target: Tensor, gamma: float = 0.0, loss: str = "ce",
                               measure: str = "jensen_gap", eps: float = 1e-12) -> Tensor:
    """``L_gamma = mean_m loss(f_m) - gamma DIV`` (scalar) for member logits ``(M, B, C)``, ``target (B,)``.

    See the module docstring; log-probabilities are clamped at ``log(eps)`` only when the
    objective is unbounded (cross-entropy, ``gamma > 1``), with a warning.
    """
    gamma = _check_gamma(gamma)
    unbounded = loss == "ce" and gamma > 1
    if unbounded:
        warnings.warn(f"gamma={gamma} > 1 with cross-entropy: the objective is unbounded below; "
                      f"log-probabilities are clamped at log({eps}).", UserWarning, stacklevel=2)
    terms = ensemble_loss_terms(member_logits, target, loss, measure, eps if unbounded else None)
    if measure == "jensen_gap":
        # the same family written without cancellation: (1 - gamma) member loss + gamma ensemble loss
        return (1.0 - gamma) * terms.mean_member_loss + gamma * terms.ensemble_loss
    return terms.mean_member_loss - gamma * terms.diversity


class DiversityRegularizedEnsembleLoss(nn.Module):
    """:func:`diversity_regularized_loss` as a module: ``forward(member_logits (M, B, C), target (B,))``.

    Parameters: ``gamma`` (0 independent members, 1 joint ensemble loss, > 0 more diversity),
    ``loss`` ("ce" or "brier"), ``measure`` ("jensen_gap", "js_uniform", "variance"), ``eps``.
    Log the decomposition with :func:`ensemble_loss_terms`.
    """

    def __init__(self, gamma: float = 0.0, loss: str = "ce", measure: str = "jensen_gap", eps: float = 1e-12):
        super().__init__()
        self.gamma = _check_gamma(gamma)
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}.")
        if measure not in _MEASURES:
            raise ValueError(f"measure must be one of {_MEASURES}, got {measure!r}.")
        if not 0 < eps < 1:
            raise ValueError(f"eps must lie in (0, 1), got {eps!r}.")
        self.loss, self.measure, self.eps = loss, measure, float(eps)

    def forward(self, member_logits: Tensor, target: Tensor) -> Tensor:
        return diversity_regularized_loss(member_logits, target, self.gamma, self.loss, self.measure, self.eps)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, loss={self.loss!r}, measure={self.measure!r}"
