"""Direct Preference Optimization loss.

Rafailov, Sharma, Mitchell, Ermon, Manning, Finn, "Direct Preference
Optimization: Your Language Model is Secretly a Reward Model", NeurIPS 2023,
arXiv:2305.18290; the loss ReCUT trains its two models with (arXiv:2506.10822,
spec ``merge.md`` 7 step 3; TRL's ``loss_type="sigmoid"``):

``L = -log sigmoid(beta [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])``

on sequence log-probabilities summed over response tokens. With the policy
equal to the reference the loss is ``log 2``; its gradient raises the chosen
response's log-probability relative to the rejected one's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["dpo_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, beta: float = 0.1, reduction: str = "mean") -> torch.Tensor:
    """DPO (sigmoid) loss of paired sequence log-probabilities, each ``[B]``.

    ``policy_*``: ``log pi(y|x)`` of the trained policy (with gradient);
    ``reference_*``: of the frozen reference. ``reduction``: ``"mean"``
    (default), ``"sum"`` or ``"none"`` (per pair, ``[B]``).
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
        raise ValueError(f"beta must be a positive number, got {beta!r}.")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
    shapes = {tuple(t.shape) for t in (policy_chosen, policy_rejected, reference_chosen, reference_rejected)}
    if len(shapes) != 1:
        raise ValueError(f"the four log-probability tensors must have one shape, got {sorted(shapes)}.")
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    losses = -F.logsigmoid(beta * margin)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
