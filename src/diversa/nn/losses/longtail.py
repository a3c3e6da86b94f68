"""Class-prior losses of multi-expert long-tailed learning: SADE's skill-diverse experts and MDCS.

Every loss here trains expert ``k`` of a multi-expert network (logits ``(E, B, C)``) with
cross-entropy on prior-adjusted logits ``v_k + o_k``: the offset ``o_k (C,)`` decides which class
distribution the expert's raw logits fit. ``o = 0`` is softmax CE (fits the training prior),
``o = log pi`` balanced softmax (fits a uniform prior; the logit-adjusted loss of Menon et al.
with tau = 1), ``o = lambda log pi`` makes the raw logits fit ``pi^(1 - lambda)``.

* SADE (Zhang, Hooi, Hong, Feng, arXiv:2107.09249, spec ``ensemble.md#sade``):
  :class:`SkillDiverseExpertLoss`, three experts with offsets ``0`` (forward), ``log pi``
  (uniform) and ``log pi - lam log pibar`` (backward), where ``pibar`` is :func:`inverse_prior`.
* MDCS (Zhao, Wen et al., arXiv:2308.09922, spec ``ensemble.md#mdcs``): :class:`DiversityLoss`
  (DL, offsets ``lambda_k log n`` with ``lambdas = (-0.5, 1, 2.5)``: head-, balanced- and
  tail-focused experts) and :class:`MDCSLoss`, DL on a weak and a strong view plus consistency
  self-distillation (CS): each expert's weak-view prediction, detached, teaches its strong-view
  prediction by KL divergence, only on the instances the teacher classifies correctly
  (confident instance sampling, CIS).

Expert terms are summed (as both papers' code does); every CE is a batch mean. Class counts must
be positive: a class absent from training has no prior (``log 0``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["DiversityLoss", "MDCSLoss", "SkillDiverseExpertLoss", "consistency_self_distillation",
           "diversity_offsets", "expert_cross_entropy", "inverse_prior", "posthoc_logit_adjustment",
           "prior_adjusted_cross_entropy", "sade_offsets"]

#: Added inside every log of a prior (as both papers' code does).
EPS = 1e-9


def _counts(class_counts) -> Tensor:
    counts = torch.as_tensor(class_counts, dtype=torch.float64)
    if counts.ndim != 1 or counts.numel() < 2:
        raise ValueError(f"class_counts must be a 1-d sequence of at least two counts, got shape {tuple(counts.shape)}.")
    if not torch.isfinite(counts).all():
        raise ValueError("class_counts must be finite.")
    absent = torch.nonzero(counts <= 0).flatten().tolist()
    if absent:
        raise ValueError(f"class_counts must be positive: class(es) {absent} are absent from training, so their "
                         "prior is log 0 (drop them from the label set or give them at least one example).")
    return counts


def inverse_prior(prior) -> Tensor:
    """SADE's inverse prior ``pibar (C,)``: the values of ``prior`` flipped by rank.

    The class of ascending rank ``r`` (a stable sort, so ties keep their order) gets the ``r``-th
    largest value, so the rarest class becomes the most frequent; a permutation of ``prior``'s
    values, summing to the same total. Applying it twice returns ``prior`` when its values are
    distinct.
    """
    p = torch.as_tensor(prior, dtype=torch.float64)
    if p.ndim != 1:
        raise ValueError(f"prior must be 1-d, got shape {tuple(p.shape)}.")
    ascending = torch.sort(p, stable=True).indices
    flipped = torch.empty_like(p)
    flipped[ascending] = torch.sort(p, descending=True, stable=True).values
    return flipped


def sade_offsets(class_counts, lam: float = 2.0) -> Tensor:
    """Offsets ``(3, C)`` of SADE's forward, uniform and backward experts: ``0``, ``log pi``, ``log pi - lam log pibar``."""
    lam = _finite(lam, "lam")
    pi = _counts(class_counts)
    pi = pi / pi.sum()
    log_pi = torch.log(pi + EPS)
    return torch.stack([torch.zeros_like(log_pi), log_pi, log_pi - lam * torch.log(inverse_prior(pi) + EPS)])


def diversity_offsets(class_counts, lambdas: Sequence[float] = (-0.5, 1.0, 2.5)) -> Tensor:
    """Offsets ``(E, C)`` of MDCS's diversity loss: ``lambda_k log(n + 1e-9)`` (raw counts, as the official code).

    Expert ``k``'s raw logits fit the prior ``pi^(1 - lambda_k)``: ``lambda < 0`` head-focused, ``1``
    balanced, ``> 1`` tail-focused. Counts or the normalised prior give the same loss (softmax
    is shift invariant).
    """
    lam = _lambdas(lambdas)
    return lam[:, None] * torch.log(_counts(class_counts) + EPS)[None]


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite float, got {value!r}.")
    return float(value)


def _lambdas(lambdas) -> Tensor:
    try:
        values = [_finite(v, "lambdas") for v in lambdas]
    except TypeError:
        raise TypeError(f"lambdas must be a sequence of floats, got {lambdas!r}.") from None
    if not values:
        raise ValueError("lambdas must hold one value per expert, got none.")
    return torch.tensor(values, dtype=torch.float64)


def _check_logits(expert_logits: Tensor, target: Tensor, rows_per_target: int = 1) -> None:
    if not isinstance(expert_logits, Tensor) or expert_logits.ndim != 3:
        raise ValueError("expert_logits must be a tensor of shape (E, B, C).")
    if not isinstance(target, Tensor) or target.ndim != 1 or target.dtype.is_floating_point:
        raise ValueError("target must be a 1-d tensor of class indices.")
    if expert_logits.shape[1] != rows_per_target * target.shape[0]:
        raise ValueError(f"expert_logits has {expert_logits.shape[1]} rows per expert; expected "
                         f"{rows_per_target} x len(target) = {rows_per_target * target.shape[0]}"
                         + (" (the [weak; strong] halves of a batch)" if rows_per_target == 2 else "") + ".")
    C = expert_logits.shape[2]
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= C):
        raise ValueError(f"target must hold class indices in [0, {C}).")


def _check_offsets(offsets: Tensor, expert_logits: Tensor) -> Tensor:
    if offsets.shape != (expert_logits.shape[0], expert_logits.shape[2]):
        raise ValueError(f"the loss has {offsets.shape[0]} experts over {offsets.shape[1]} classes but expert_logits "
                         f"has shape {tuple(expert_logits.shape)} (E, B, C).")
    return offsets.to(expert_logits.dtype)


def expert_cross_entropy(adjusted_logits: Tensor, target: Tensor) -> Tensor:
    """Per-expert mean cross-entropy ``(E,)`` of logits ``(E, B, C)`` against ``target (B,)`` (one fused call)."""
    E, B, C = adjusted_logits.shape
    rows = nn.functional.cross_entropy(adjusted_logits.reshape(E * B, C), target.repeat(E), reduction="none")
    return rows.reshape(E, B).mean(dim=1)


def prior_adjusted_cross_entropy(expert_logits: Tensor, target: Tensor, offsets: Tensor) -> Tensor:
    """``sum_k CE(v_k + o_k, y)`` for expert logits ``(E, B, C)``, targets ``(B,)``, offsets ``(E, C)`` (scalar)."""
    _check_logits(expert_logits, target)
    offsets = _check_offsets(torch.as_tensor(offsets), expert_logits)
    return expert_cross_entropy(expert_logits + offsets[:, None, :], target).sum()


def posthoc_logit_adjustment(logits: Tensor, class_counts, tau: float = 1.0) -> Tensor:
    """Post-hoc logit adjustment ``logits - tau log pi`` (Menon et al., arXiv:2007.07314), last axis = classes.

    Turns a softmax-CE model (which fits the training prior) into a balanced-prior classifier
    without retraining; ``tau = 1`` is the Bayes-optimal choice for the balanced error.
    """
    tau = _finite(tau, "tau")
    pi = _counts(class_counts)
    log_pi = torch.log(pi / pi.sum() + EPS).to(logits.dtype)
    if logits.shape[-1] != log_pi.shape[0]:
        raise ValueError(f"logits have {logits.shape[-1]} classes but class_counts has {log_pi.shape[0]}.")
    return logits - tau * log_pi


class SkillDiverseExpertLoss(nn.Module):
    """SADE's skill-diverse loss ``CE(v1, y) + CE(v2 + log pi, y) + CE(v3 + log pi - lam log pibar, y)``.

    ``forward(expert_logits (3, B, C), target (B,))`` -> scalar; ``last_terms`` holds the three
    detached expert terms of the last call. ``lam = 0`` makes the backward expert a second
    balanced-softmax expert.
    """

    def __init__(self, class_counts, lam: float = 2.0):
        super().__init__()
        self.lam = _finite(lam, "lam")
        self.register_buffer("offsets", sade_offsets(class_counts, self.lam).float())
        self.last_terms: Tensor | None = None

    def forward(self, expert_logits: Tensor, target: Tensor) -> Tensor:
        _check_logits(expert_logits, target)
        offsets = _check_offsets(self.offsets, expert_logits)
        terms = expert_cross_entropy(expert_logits + offsets[:, None, :], target)
        self.last_terms = terms.detach()
        return terms.sum()

    def extra_repr(self) -> str:
        return f"lam={self.lam}"


class DiversityLoss(nn.Module):
    """MDCS's diversity loss ``sum_k CE(v_k + lambda_k log n, y)``: ``forward(expert_logits (E, B, C), target (B,))``.

    ``lambdas = (0,) * E`` is the plain CE ensemble, ``(1,) * E`` balanced softmax for every expert.
    """

    def __init__(self, class_counts, lambdas: Sequence[float] = (-0.5, 1.0, 2.5)):
        super().__init__()
        self.lambdas = tuple(float(v) for v in _lambdas(lambdas))
        self.register_buffer("offsets", diversity_offsets(class_counts, self.lambdas).float())

    def forward(self, expert_logits: Tensor, target: Tensor) -> Tensor:
        return prior_adjusted_cross_entropy(expert_logits, target, self.offsets)

    def extra_repr(self) -> str:
        return f"lambdas={self.lambdas}"


def consistency_self_distillation(adjusted_logits: Tensor, target: Tensor, temperature: float = 1.0,
                                  confident_sampling: bool = True) -> tuple[Tensor, Tensor]:
    """MDCS's consistency self-distillation over ``[weak; strong]`` rows: ``(loss, n_selected (E,))``.

    ``adjusted_logits (E, 2B, C)``: the first ``B`` rows are the weak (teacher) view, the last
    ``B`` the strong (student) view of the same images. Per expert, teacher ``t =
    softmax(u_weak / T)`` (no gradient), student ``log_softmax(u_strong / T)``, and
    ``KL(t || s) * T^2`` averaged over the selected rows (``batchmean``): with
    ``confident_sampling`` only rows whose teacher argmax equals ``target (B,)``, otherwise all.
    An expert with no selected row contributes 0. Returns the sum over experts.
    """
    _check_logits(adjusted_logits, target, rows_per_target=2)
    T = _finite(temperature, "temperature")
    if T <= 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}.")
    B = target.shape[0]
    teacher = torch.softmax(adjusted_logits[:, :B].detach() / T, dim=-1)
    student = torch.log_softmax(adjusted_logits[:, B:] / T, dim=-1)
    if confident_sampling:
        selected = teacher.argmax(-1) == target[None]
    else:
        selected = torch.ones(teacher.shape[:2], dtype=torch.bool)
    # KL(t || s) per row (kl_div takes 0 log 0 = 0); "batchmean" over each expert's selected rows
    per_row = nn.functional.kl_div(student, teacher, reduction="none").sum(-1) * (T * T)
    n_selected = selected.sum(dim=1)
    loss = (torch.where(selected, per_row, 0.0).sum(dim=1) / n_selected.clamp(min=1)).sum()
    return loss, n_selected


class MDCSLoss(nn.Module):
    """MDCS's loss ``L_DL + kd_weight * min(epoch / warmup_epochs, 1) * L_CS``.

    ``forward(expert_logits (E, 2B, C), target (B,), epoch)``: rows ``[:B]`` are the weak view,
    ``[B:]`` the strong view of the same images. ``L_DL`` is the diversity loss on both views
    (``ce_on_strong=False``, a labelled deviation, keeps it on the weak view only), ``L_CS``
    :func:`consistency_self_distillation` on the prior-adjusted logits. ``last_terms`` holds the
    detached ``dl``, ``cs`` and per-expert ``n_selected`` of the last call. ``lambdas = 0`` and
    ``kd_weight = 0`` give the plain CE ensemble on both views.
    """

    def __init__(self, class_counts, lambdas: Sequence[float] = (-0.5, 1.0, 2.5), kd_weight: float = 0.6,
                 warmup_epochs: int = 20, temperature: float = 1.0, confident_sampling: bool = True,
                 ce_on_strong: bool = True):
        super().__init__()
        self.diversity = DiversityLoss(class_counts, lambdas)
        self.kd_weight = _finite(kd_weight, "kd_weight")
        if self.kd_weight < 0:
            raise ValueError(f"kd_weight must be >= 0, got {kd_weight!r}.")
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, numbers.Integral) or warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be an int >= 0, got {warmup_epochs!r}.")
        self.warmup_epochs = int(warmup_epochs)
        self.temperature = _finite(temperature, "temperature")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}.")
        self.confident_sampling, self.ce_on_strong = bool(confident_sampling), bool(ce_on_strong)
        self.last_terms: dict[str, Tensor] = {}

    def ramp(self, epoch: float) -> float:
        """Warm-up factor of the distillation term: ``min(epoch / warmup_epochs, 1)`` (1 without warm-up)."""
        return 1.0 if self.warmup_epochs == 0 else min(float(epoch) / self.warmup_epochs, 1.0)

    def forward(self, expert_logits: Tensor, target: Tensor, epoch: float = 0) -> Tensor:
        _check_logits(expert_logits, target, rows_per_target=2)
        offsets = _check_offsets(self.diversity.offsets, expert_logits)
        adjusted = expert_logits + offsets[:, None, :]
        B = target.shape[0]
        if self.ce_on_strong:
            rows, labels = adjusted, torch.cat([target, target])
        else:
            rows, labels = adjusted[:, :B], target
        dl = expert_cross_entropy(rows, labels).sum()
        weight = self.kd_weight * self.ramp(epoch)
        if weight == 0:
            cs, n_selected = dl.new_zeros(()), torch.zeros(adjusted.shape[0], dtype=torch.long)
            total = dl
        else:
            cs, n_selected = consistency_self_distillation(adjusted, target, self.temperature,
                                                           self.confident_sampling)
            total = dl + weight * cs
        self.last_terms = {"dl": dl.detach(), "cs": cs.detach(), "n_selected": n_selected}
        return total

    def extra_repr(self) -> str:
        return (f"lambdas={self.diversity.lambdas}, kd_weight={self.kd_weight}, warmup_epochs={self.warmup_epochs}, "
                f"confident_sampling={self.confident_sampling}, ce_on_strong={self.ce_on_strong}")
