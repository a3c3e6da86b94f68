"""Self-adjusting Dice loss (DSC) for data-imbalanced classification and tagging.

Li, Sun, Meng, Liang, Wu, Li, "Dice Loss for Data-imbalanced NLP Tasks",
ACL 2020, arXiv:1911.02855. Official code: ShannonAI/dice_loss_for_NLP.

Cross-entropy weights every example equally, so in tagging tasks where easy
negatives outnumber positives by 5:1 to 170:1 training is accuracy-oriented
while the evaluation is F1-oriented. The paper trains on a soft Sørensen-Dice
coefficient instead (the F1 of soft predictions) and multiplies each
probability by a self-adjusting factor ``(1 - p)^alpha`` that shrinks the
weight of examples already predicted confidently, as focal loss does.

With ``p`` the probability of the positive class, ``y`` in {0, 1}, smoothing
``gamma`` (``smooth``) and ``s = 2`` if ``square_denominator`` else ``1``::

    q = (1 - p)^alpha * p                                   (self-adjusted probability)
    per example:  1 - (2 q y + gamma) / (q^s + y^s + gamma)
    per batch:    1 - (2 sum q y + gamma) / (sum q^s + sum y^s + gamma)

For a positive example the per-example loss is smallest at ``p = 1/(1+alpha)``
(0.990 for the default ``alpha = 0.01``): a large ``alpha`` pushes positives
towards the 0.5 decision threshold, which is why the official scripts keep it
small. With ``alpha = 0``, ``gamma = 0`` and hard predictions the batch form is
exactly ``1 - F1`` of the batch.

Conventions (spec ``tabular.md#dice-loss``; official-code behaviour unless said):

* Defaults follow every official script: ``smooth=1``, ``alpha=0.01``,
  ``square_denominator=True`` (the paper's table writes ``s = 1``; the code
  always runs ``--dice_square``).
* Binary inputs (one logit per example, sigmoid) use the set-level form by
  default (``reduction="auto"`` -> ``"batch"``), with every unmasked position
  of a tagging batch flattened into one set, as the official MRC-NER and
  paraphrase code does. Multi-class inputs (softmax over ``C`` logits) use
  one-vs-rest per-example losses summed over classes and averaged over
  examples (``"auto"`` -> ``"example"``).
* RESOLUTION: with ``s = 1`` the official multi-class path mixes a per-example
  numerator with a batch-total denominator; here the per-example formula is
  used for both ``s``.
* RESOLUTION: the official NER code passes no mask (padding counts as
  negatives); here masked positions (``mask`` = 0 or ``target ==
  ignore_index``) are removed from every sum and from the mean's count, and
  receive exactly zero gradient whatever their logits.
* OHEM (``ohem_ratio > 0``, off by default as in every script but SQuAD's):
  per class, all positives and only the ``floor(ohem_ratio * #positives)``
  unmasked negatives with the highest probability of that class take part.
  This is the spec's rule; the official code's thresholding has off-by-one and
  operator-precedence slips that are not reproduced.
* ``"sum"`` and ``"none"`` reductions (per-example losses, summed or returned
  in the target's shape with 0 at masked positions) are additions for
  ``torch.nn.functional``-style use.
* Numerics: with logits, ``q`` is computed in log space
  (``exp(log p + alpha log(1-p))``), so saturated logits (``+-100`` in
  float32) give the exact limit and finite gradients; the naive form rounds
  ``1 - p`` to 0 there. With ``with_logits=False`` the probabilities are used
  as given, and ``p = 1`` with ``alpha > 0`` has an infinite derivative.
  ``smooth=0`` divides by zero when a set (or example) has no positive and no
  predicted mass.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DiceLoss", "dice_loss", "soft_f1"]

#: Reductions of :func:`dice_loss`; "auto" is "batch" for binary inputs, "example" for multi-class ones.
DICE_REDUCTIONS = ("auto", "batch", "example", "sum", "none")


class _Flat(NamedTuple):
    """Inputs of a Dice-family loss laid out as (examples, classes)."""

    prob: Tensor        # (M, K) probability (self-adjusted when alpha > 0) of each column's class
    raw_prob: Tensor    # (M, K) plain probability, detached use only (OHEM ranking)
    onehot: Tensor      # (M, K) 0/1 targets, float
    keep: Tensor        # (M,) bool, unmasked examples
    example_shape: torch.Size
    multiclass: bool


def check_nonnegative(value, name: str) -> float:
    """``value`` as a finite float >= 0, or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}.")
    return value


def check_flag(value, name: str) -> bool:
    """``value`` as a bool, or a TypeError naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return value


def check_reduction(reduction, allowed: tuple[str, ...]) -> str:
    """``reduction`` if it is one of ``allowed``, else a ValueError naming it."""
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}.")
    return reduction


def check_ignore_index(ignore_index) -> int:
    """``ignore_index`` as an int, or a TypeError naming it."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}.")
    return ignore_index


def _layout(logits: Tensor, target: Tensor) -> tuple[bool, int]:
    """Whether the inputs are multi-class, and the number of columns K."""
    if target.shape == logits.shape:
        return False, 1
    if logits.dim() >= 1 and target.shape == logits.shape[:-1]:
        n_classes = logits.shape[-1]
        if n_classes == 1:
            return False, 1
        if n_classes == 0:
            raise ValueError("logits must have at least one class along the last dimension, got 0.")
        return True, n_classes
    raise ValueError(
        f"target must have the shape of logits (binary: one logit per position) or of logits without its "
        f"last (class) dimension (multi-class), got target {tuple(target.shape)} for logits {tuple(logits.shape)}."
    )


def _log_one_minus_softmax(logits: Tensor, log_prob: Tensor) -> Tensor:
    """``log(1 - softmax(logits))`` accurate also where one class has probability ~1.

    Only the largest class can have ``p > 1/2``; for it ``1 - p`` is the total
    mass of the other classes, computed by a log-sum-exp that excludes it. The
    other classes use ``log1p(-p)``, accurate for ``p <= 1/2``. The ``where``
    guards keep the unused branch finite so that no NaN leaks into gradients.
    """
    is_top = F.one_hot(logits.argmax(-1), logits.shape[-1]).bool()
    others = torch.where(is_top, torch.full_like(logits, -math.inf), logits)
    top_rest = torch.logsumexp(others, -1, keepdim=True) - torch.logsumexp(logits, -1, keepdim=True)
    prob_safe = torch.where(is_top, torch.zeros_like(log_prob), log_prob.exp())
    return torch.where(is_top, top_rest.expand_as(logits), torch.log1p(-prob_safe))


def flatten_inputs(logits, target, mask, *, ignore_index: int, with_logits: bool, alpha: float) -> _Flat:
    """Validate and flatten Dice-family inputs (shared by the Dice and Tversky losses).

    Binary: ``logits`` of any shape with ``target`` of the same shape, or
    ``logits`` ``(*, 1)`` with ``target`` ``(*)``. Multi-class: ``logits``
    ``(*, C)``, ``C >= 2``, with integer ``target`` ``(*)``. ``mask`` (0/1,
    target's shape) and ``target == ignore_index`` remove positions; removed
    positions are never read (their logits are replaced by 0 before any
    arithmetic, so their gradient is exactly zero even for non-finite values).
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}.")
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}.")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}.")
    multiclass, n_cols = _layout(logits, target)
    if target.is_complex():
        raise TypeError(f"target must be an integer, bool or floating tensor, got dtype {target.dtype}.")
    if multiclass and (target.is_floating_point() or target.dtype == torch.bool):
        raise TypeError(f"target must be an integer tensor of class indices for multi-class logits, "
                        f"got dtype {target.dtype}.")
    example_shape = target.shape
    target = target.to(logits.device).reshape(-1)
    keep = target != ignore_index
    if mask is not None:
        if not isinstance(mask, Tensor):
            raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}.")
        if mask.shape != example_shape:
            raise ValueError(f"mask must have the shape of target {tuple(example_shape)}, got {tuple(mask.shape)}.")
        if mask.is_complex():
            raise TypeError(f"mask must be a bool, integer or floating tensor, got dtype {mask.dtype}.")
        mask = mask.to(logits.device).reshape(-1)
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must contain only 0/1 (or False/True) values.")
        keep = keep & (mask == 1)
    kept_target = target[keep]
    if multiclass:
        if kept_target.numel() and (int(kept_target.min()) < 0 or int(kept_target.max()) >= n_cols):
            raise ValueError(f"target class indices must lie in [0, {n_cols - 1}] (or equal ignore_index="
                             f"{ignore_index}), got values from {int(kept_target.min())} to {int(kept_target.max())}.")
        labels = torch.where(keep, target, torch.zeros_like(target)).long()
        onehot = F.one_hot(labels, n_cols).to(logits.dtype)
    else:
        if not bool(((kept_target == 0) | (kept_target == 1)).all()):
            raise ValueError(f"target must contain only 0/1 labels for binary logits (or ignore_index="
                             f"{ignore_index}), got values {torch.unique(kept_target)[:10].tolist()}.")
        onehot = torch.where(keep, target, torch.zeros_like(target)).to(logits.dtype).reshape(-1, 1)
    keep_cols = keep.reshape(-1, 1)
    values = torch.where(keep_cols, logits.reshape(-1, n_cols), torch.zeros((), dtype=logits.dtype,
                                                                           device=logits.device))
    if with_logits:
        if multiclass:
            log_prob = torch.log_softmax(values, -1)
            log_rest = _log_one_minus_softmax(values, log_prob) if alpha > 0 else None
        else:
            log_prob, log_rest = F.logsigmoid(values), F.logsigmoid(-values)
        prob = torch.exp(log_prob + alpha * log_rest) if alpha > 0 else log_prob.exp()
        raw_prob = log_prob.detach().exp()
    else:
        kept_values = values[keep]
        if kept_values.numel() and not bool(((kept_values >= 0) & (kept_values <= 1)).all()):
            raise ValueError("logits must be probabilities in [0, 1] when with_logits=False.")
        prob = values * (1 - values) ** alpha if alpha > 0 else values
        raw_prob = values.detach()
    return _Flat(prob, raw_prob, onehot, keep, example_shape, multiclass)


def ohem_keep(flat: _Flat, ratio: float) -> Tensor:
    """(M, K) bool: the elements that take part under online hard example mining.

    Per column, all unmasked positives and the ``floor(ratio * #positives)``
    unmasked negatives with the highest probability of that column's class.
    """
    keep = flat.keep.reshape(-1, 1).expand_as(flat.onehot)
    if ratio <= 0:
        return keep
    positive = keep & (flat.onehot == 1)
    negative = keep & (flat.onehot == 0)
    chosen = positive.clone()
    for col in range(flat.onehot.shape[1]):
        n_keep = min(math.floor(ratio * int(positive[:, col].sum())), int(negative[:, col].sum()))
        if n_keep > 0:
            scores = torch.where(negative[:, col], flat.raw_prob[:, col], torch.full_like(flat.raw_prob[:, col], -1.0))
            chosen[scores.topk(n_keep).indices, col] = True
    return chosen


def reduce_per_example(elementwise: Tensor, flat: _Flat, reduction: str) -> Tensor:
    """Sum (M, K) per-element losses over classes, then reduce over unmasked examples.

    ``"example"`` is the mean over unmasked examples (0 when none is left),
    ``"sum"`` their sum, ``"none"`` the per-example losses in the target's
    shape with 0 at masked positions.
    """
    per_example = elementwise.sum(-1)
    if reduction == "none":
        return per_example.reshape(flat.example_shape)
    total = per_example.sum()
    if reduction == "sum":
        return total
    return total / max(int(flat.keep.sum()), 1)


def dice_loss(
    logits: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    *,
    alpha: float = 0.01,
    smooth: float = 1.0,
    square_denominator: bool = True,
    with_logits: bool = True,
    reduction: str = "auto",
    ohem_ratio: float = 0.0,
    ignore_index: int = -100,
) -> Tensor:
    """Self-adjusting Dice loss (DSC) of Li et al. (ACL 2020, arXiv:1911.02855).

    See the module docstring for the formula and conventions.

    Parameters
    ----------
    logits : float tensor. Binary: any shape (one logit per position, sigmoid),
        or ``(*, 1)``. Multi-class: ``(*, C)`` with ``C >= 2`` (softmax over
        the last dimension). Tagging: ``(B, L)``, ``(B, L, 1)`` or ``(B, L, C)``.
        With ``with_logits=False``, probabilities in [0, 1] instead.
    target : binary: 0/1 labels (bool, integer or float) of the logits' shape
        (or without the trailing 1); multi-class: integer class indices of
        shape ``(*)``.
    mask : optional 0/1 tensor of the target's shape; 0 removes a position
        (padding). Positions with ``target == ignore_index`` are removed too.
    alpha : exponent of the self-adjusting factor ``(1 - p)^alpha`` (>= 0;
        0 gives the plain Dice loss).
    smooth : smoothing ``gamma`` added to numerator and denominator (>= 0).
    square_denominator : ``s = 2`` (official code) if True, ``s = 1`` (the
        paper's table) if False.
    with_logits : whether ``logits`` are logits (True) or probabilities.
    reduction : ``"auto"`` (``"batch"`` for binary, ``"example"`` for
        multi-class inputs), ``"batch"`` (set-level Dice over all unmasked
        positions; summed over classes for multi-class inputs), ``"example"``
        (mean of per-example losses), ``"sum"`` or ``"none"``.
    ohem_ratio : online hard example mining; 0 disables it (default).
    ignore_index : target value that marks a position to ignore.

    Returns
    -------
    loss : scalar tensor, or per-example losses of the target's shape for
        ``reduction="none"``.

    Examples
    --------
    >>> y = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    >>> p = torch.tensor([1., 1., 0., 1., 0., 0., 1., 1.])
    >>> dice_loss(p, y, alpha=0.0, smooth=0.0, with_logits=False, reduction="batch")  # 1 - F1
    tensor(0.3333)
    """
    alpha = check_nonnegative(alpha, "alpha")
    smooth = check_nonnegative(smooth, "smooth")
    ohem_ratio = check_nonnegative(ohem_ratio, "ohem_ratio")
    square = check_flag(square_denominator, "square_denominator")
    check_flag(with_logits, "with_logits")
    check_reduction(reduction, DICE_REDUCTIONS)
    ignore_index = check_ignore_index(ignore_index)
    flat = flatten_inputs(logits, target, mask, ignore_index=ignore_index, with_logits=with_logits, alpha=alpha)
    if reduction == "auto":
        reduction = "example" if flat.multiclass else "batch"
    active = ohem_keep(flat, ohem_ratio)
    zero = torch.zeros((), dtype=flat.prob.dtype, device=flat.prob.device)
    q, y = torch.where(active, flat.prob, zero), torch.where(active, flat.onehot, zero)
    # y is 0/1, so y^s = y for both exponents.
    q_pow = q * q if square else q
    if reduction == "batch":
        dice = (2 * (q * y).sum(0) + smooth) / (q_pow.sum(0) + y.sum(0) + smooth)
        return (1 - dice).sum()
    # Inactive elements get denominator 1 so that smooth=0 cannot produce 0/0 there.
    denominator = torch.where(active, q_pow + y + smooth, torch.ones_like(q))
    elementwise = torch.where(active, 1 - (2 * q * y + smooth) / denominator, zero)
    return reduce_per_example(elementwise, flat, reduction)


def soft_f1(prob: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Soft F1 (Sørensen-Dice coefficient) ``2 sum p y / (sum p + sum y)`` of a set.

    With hard 0/1 predictions this is the F1 score of the positive class; the
    Dice loss of Li et al. (arXiv:1911.02855) with ``alpha = 0``,
    ``smooth = 0``, ``s = 1`` and batch reduction is ``1 - soft_f1``.

    Parameters
    ----------
    prob : probabilities of the positive class, any shape.
    target : 0/1 labels of the same shape.
    mask : optional 0/1 tensor of the same shape; 0 removes a position.

    Returns
    -------
    f1 : scalar tensor (NaN when there is neither a positive nor predicted mass).
    """
    flat = flatten_inputs(prob, target, mask, ignore_index=-100, with_logits=False, alpha=0.0)
    keep = flat.keep.to(flat.prob.dtype).reshape(-1, 1)
    p, y = flat.prob * keep, flat.onehot * keep
    return 2 * (p * y).sum() / (p.sum() + y.sum())


class DiceLoss(torch.nn.Module):
    """Self-adjusting Dice loss (DSC) of Li et al. (ACL 2020, arXiv:1911.02855) as a module.

    ``DiceLoss(...)(logits, target, mask=None)`` equals
    :func:`dice_loss` with the module's settings; see there and the module
    docstring for shapes, reductions and conventions. Defaults are the
    official scripts': ``alpha=0.01``, ``smooth=1``, squared denominator.

    Examples
    --------
    >>> criterion = DiceLoss()
    >>> logits = torch.zeros(2, 5, requires_grad=True)          # (batch, length) binary tagging
    >>> target = torch.tensor([[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]])
    >>> criterion(logits, target).backward()
    >>> bool(logits.grad[0, 1] < 0 < logits.grad[0, 0])        # raise positives, lower negatives
    True
    """

    def __init__(self, alpha: float = 0.01, smooth: float = 1.0, square_denominator: bool = True,
                 with_logits: bool = True, reduction: str = "auto", ohem_ratio: float = 0.0,
                 ignore_index: int = -100) -> None:
        super().__init__()
        self.alpha = check_nonnegative(alpha, "alpha")
        self.smooth = check_nonnegative(smooth, "smooth")
        self.square_denominator = check_flag(square_denominator, "square_denominator")
        self.with_logits = check_flag(with_logits, "with_logits")
        self.reduction = check_reduction(reduction, DICE_REDUCTIONS)
        self.ohem_ratio = check_nonnegative(ohem_ratio, "ohem_ratio")
        self.ignore_index = check_ignore_index(ignore_index)

    def forward(self, logits: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return dice_loss(logits, target, mask, alpha=self.alpha, smooth=self.smooth,
                         square_denominator=self.square_denominator, with_logits=self.with_logits,
                         reduction=self.reduction, ohem_ratio=self.ohem_ratio, ignore_index=self.ignore_index)

    def extra_repr(self) -> str:
        return (f"alpha={self.alpha}, smooth={self.smooth}, square_denominator={self.square_denominator}, "
                f"with_logits={self.with_logits}, reduction={self.reduction!r}, ohem_ratio={self.ohem_ratio}, "
                f"ignore_index={self.ignore_index}")
