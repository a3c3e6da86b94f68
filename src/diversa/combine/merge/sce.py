"""SCE: select, calculate, erase -- variance-selected, energy-weighted, sign-agreeing task vectors.

Wan, Zhong, Yang, Quan, Huang, Bi, Shi, "FuseChat: Knowledge Fusion of Chat
Models" (FuseChat-2.0's merging step), arXiv:2408.07990. For the task vectors
``tau_t = theta_t - theta_0`` of one tensor:

1. **Select**: keep the ``select_topk`` fraction of entries whose variance
   across the models is largest (of the entries with non-zero variance; the
   others are zeroed in every task vector);
2. **Calculate**: weight task t by ``eta_t = mean(tau_t^2) / sum_s mean(tau_s^2)``
   (uniform when every task vector is about zero);
3. **Erase**: keep, per entry, the task vectors whose sign agrees with the
   sign of ``sum_t tau_t`` (TIES' election, :func:`~diversa.combine.merge.ties.elect_sign`),
   and average them with weights eta: ``sum_t eta_t m_t tau_t / max(sum_t eta_t m_t, 1e-6)``.

The merge is ``theta_0 + tau_m``. This follows mergekit's ``sce``, whose
parameter name (``select_topk``, default 1: no selection) it keeps; entries
tied at the selection threshold are ranked as ``torch.topk`` ranks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _fraction, _resolve_keys
from diversa.combine.merge.ties import elect_sign

__all__ = ["sce_merging", "sce_tensor"]


def sce_tensor(taus: Sequence[torch.Tensor], select_topk: float = 1.0) -> torch.Tensor:
    """The SCE merged delta of one tensor's task vectors ``taus`` (float32, their shape)."""
    select_topk = _fraction(select_topk, "select_topk")
    if isinstance(taus, torch.Tensor) or len(taus) == 0:
        raise ValueError("taus must be a non-empty sequence of tensors")
    stacked = torch.stack([_f32(t) for t in taus])
    if select_topk < 1.0:
        variance = stacked.var(dim=0, unbiased=False).reshape(-1)
        k = int(int(torch.count_nonzero(variance)) * select_topk)
        keep = torch.zeros_like(variance)
        if k > 0:
            keep[torch.topk(variance, k).indices] = 1.0
        stacked = stacked * keep.reshape(stacked.shape[1:])
    energy = stacked.square().reshape(len(taus), -1).mean(dim=1)
    total = float(energy.sum())
    eta = torch.full_like(energy, 1.0 / len(taus)) if abs(total) < 1e-6 else energy / total
    agree = stacked * elect_sign(stacked, "sum", "positive") > 0
    weights = eta.reshape((-1,) + (1,) * (stacked.dim() - 1)) * agree
    return (stacked * weights).sum(dim=0) / weights.sum(dim=0).clamp(min=1e-6)


def sce_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                select_topk: float = 1.0, keys: Sequence[str] | None = None) -> StateDict:
    """SCE of ``models`` onto ``base``: ``theta_0 + tau_m`` per tensor; ``select_topk`` in [0, 1]."""
    if base is None:
        raise ValueError("base must be given for SCE")
    select_topk = _fraction(select_topk, "select_topk")
    keys = _resolve_keys(base, models, keys)
    merged = {}
    for key in keys:
        b = _f32(base[key])
        merged[key] = b + sce_tensor([_f32(m[key]) - b for m in models], select_topk)
    return _assemble(base, merged)
