"""Tversky loss: a Dice loss that weights false positives and false negatives differently.

Li, Sun, Meng, Liang, Wu, Li, "Dice Loss for Data-imbalanced NLP Tasks",
ACL 2020, arXiv:1911.02855 (the Tversky-index loss "TL" of its loss table and
its FP/FN trade-off ablation); the index itself is Tversky's (1977), first
used as a segmentation loss by Salehi et al. (2017).

The Dice coefficient counts false positives and false negatives equally
(``2TP / (2TP + FP + FN)``). The Tversky index ``TP / (TP + a FP + b FN)``
weights them with ``a`` (``fp_weight``) and ``b`` (``fn_weight``); on soft
predictions, with smoothing ``gamma`` (``smooth``)::

    per example:  1 - (p y + gamma) / (p y + a p (1-y) + b (1-p) y + gamma)
    per batch:    1 - (sum p y + gamma) / (sum p y + a sum p(1-y) + b sum (1-p) y + gamma)

With ``a = b = 1/2`` the index equals the Dice coefficient: the per-example
loss is the (non-squared, ``alpha = 0``) Dice loss with smoothing ``2 gamma``,
identical to it when ``gamma = 0``. The paper's ablation sets ``b = 1 - a``
and finds the best ``a`` dataset dependent (about 0.6 on OntoNotes4, 0.4 on
QuoRef).

Conventions shared with :mod:`diversa.nn.losses.dice`: binary inputs (one
logit per position, sigmoid) and multi-class inputs (softmax over the last
dimension, one-vs-rest per class, summed over classes); tagging inputs
``(B, L[, C])`` flattened; ``mask`` and ``ignore_index`` remove positions
from every sum and count and give them zero gradient. The paper's loss table
applies no self-adjusting factor to the Tversky loss, so there is none here.
The default ``reduction="example"`` is the spec's; the official repository
has no Tversky implementation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from diversa.nn.losses.dice import (
    check_flag,
    check_ignore_index,
    check_nonnegative,
    check_reduction,
    flatten_inputs,
    reduce_per_example,
)

__all__ = ["TverskyLoss", "tversky_loss"]

#: Reductions of :func:`tversky_loss`.
TVERSKY_REDUCTIONS = ("example", "batch", "sum", "none")


def tversky_loss(
    logits: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    *,
    fp_weight: float = 0.5,
    fn_weight: float = 0.5,
    smooth: float = 1.0,
    with_logits: bool = True,
    reduction: str = "example",
    ignore_index: int = -100,
) -> Tensor:
    """Tversky-index loss (TL) of Li et al. (ACL 2020, arXiv:1911.02855).

    See the module docstring for the formula.

    Parameters
    ----------
    logits : float tensor. Binary: any shape (one logit per position) or
        ``(*, 1)``; multi-class: ``(*, C)``, ``C >= 2``. Probabilities in
        [0, 1] when ``with_logits=False``.
    target : binary: 0/1 labels of the logits' shape (or without the trailing
        1); multi-class: integer class indices of shape ``(*)``.
    mask : optional 0/1 tensor of the target's shape; 0 removes a position.
    fp_weight : weight ``a`` of false positives (>= 0).
    fn_weight : weight ``b`` of false negatives (>= 0).
    smooth : smoothing ``gamma`` (>= 0).
    with_logits : whether ``logits`` are logits (True) or probabilities.
    reduction : ``"example"`` (mean of per-example losses, summed over classes
        for multi-class inputs), ``"batch"`` (set-level index over all unmasked
        positions, per class, summed over classes), ``"sum"`` or ``"none"``.
    ignore_index : target value that marks a position to ignore.

    Returns
    -------
    loss : scalar tensor, or per-example losses of the target's shape for
        ``reduction="none"``.

    Examples
    --------
    >>> y = torch.tensor([1, 1, 0, 0])
    >>> p = torch.tensor([1., 0., 1., 0.])                   # TP = FN = FP = 1
    >>> tversky_loss(p, y, fp_weight=0.3, fn_weight=0.7, smooth=0.0, with_logits=False, reduction="batch")
    tensor(0.5000)
    """
    a = check_nonnegative(fp_weight, "fp_weight")
    b = check_nonnegative(fn_weight, "fn_weight")
    smooth = check_nonnegative(smooth, "smooth")
    check_flag(with_logits, "with_logits")
    check_reduction(reduction, TVERSKY_REDUCTIONS)
    ignore_index = check_ignore_index(ignore_index)
    flat = flatten_inputs(logits, target, mask, ignore_index=ignore_index, with_logits=with_logits, alpha=0.0)
    active = flat.keep.reshape(-1, 1).expand_as(flat.onehot)
    zero = torch.zeros((), dtype=flat.prob.dtype, device=flat.prob.device)
    p, y = torch.where(active, flat.prob, zero), torch.where(active, flat.onehot, zero)
    true_pos, false_pos, false_neg = p * y, p * (1 - y), (1 - p) * y
    if reduction == "batch":
        tp = true_pos.sum(0)
        index = (tp + smooth) / (tp + a * false_pos.sum(0) + b * false_neg.sum(0) + smooth)
        return (1 - index).sum()
    denominator = torch.where(active, true_pos + a * false_pos + b * false_neg + smooth, torch.ones_like(p))
    elementwise = torch.where(active, 1 - (true_pos + smooth) / denominator, zero)
    return reduce_per_example(elementwise, flat, reduction)


class TverskyLoss(torch.nn.Module):
    """Tversky-index loss (TL) of Li et al. (ACL 2020, arXiv:1911.02855) as a module.

    ``TverskyLoss(...)(logits, target, mask=None)`` equals
    :func:`tversky_loss` with the module's settings.

    Examples
    --------
    >>> criterion = TverskyLoss(fp_weight=0.3, fn_weight=0.7)
    >>> logits = torch.zeros(4, 3, requires_grad=True)      # 4 examples, 3 classes
    >>> criterion(logits, torch.tensor([0, 2, 1, 2])).backward()
    >>> logits.grad.shape
    torch.Size([4, 3])
    """

    def __init__(self, fp_weight: float = 0.5, fn_weight: float = 0.5, smooth: float = 1.0,
                 with_logits: bool = True, reduction: str = "example", ignore_index: int = -100) -> None:
        super().__init__()
        self.fp_weight = check_nonnegative(fp_weight, "fp_weight")
        self.fn_weight = check_nonnegative(fn_weight, "fn_weight")
        self.smooth = check_nonnegative(smooth, "smooth")
        self.with_logits = check_flag(with_logits, "with_logits")
        self.reduction = check_reduction(reduction, TVERSKY_REDUCTIONS)
        self.ignore_index = check_ignore_index(ignore_index)

    def forward(self, logits: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return tversky_loss(logits, target, mask, fp_weight=self.fp_weight, fn_weight=self.fn_weight,
                            smooth=self.smooth, with_logits=self.with_logits, reduction=self.reduction,
                            ignore_index=self.ignore_index)

    def extra_repr(self) -> str:
        return (f"fp_weight={self.fp_weight}, fn_weight={self.fn_weight}, smooth={self.smooth}, "
                f"with_logits={self.with_logits}, reduction={self.reduction!r}, ignore_index={self.ignore_index}")
