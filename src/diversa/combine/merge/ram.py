"""RAM: Reinforced Agent Merging -- keep what one model alone changed, average what several changed.

"Reinforced Agent Merging" (arXiv:2601.13572, as mergekit cites it for its
``ram`` and ``ramplus_tl`` methods). For the task vectors
``tau_t = theta_t - theta_0`` of one tensor, an entry of ``tau_t`` *counts*
when ``|tau_t| > epsilon`` (the others are dropped); with ``c`` the number of
models that count at an entry:

- ``c = 1``: the one model's change is kept whole (plain averaging would
  dilute it by the number of models);
- ``c > 1``: the counting changes are averaged, ``sum / c``;
- ``c = 0``: the base value stays.

**RAM+ (tensor-local)** also scales each model's unique changes by
``lambda_t = 1 + r * clamp(rho_t, 0, alpha)``, where ``rho_t`` is the number of
its counting entries shared with another model over the number it holds alone
(the latter at least ``epsilon``), all within the one tensor: a model whose
changes mostly overlap others' has its rare unique ones reinforced. The merge
is ``theta_0 + tau_m``; parameter names and defaults are mergekit's
(``epsilon = 1e-5``, ``r = 0.1``, ``alpha = 0.2``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _fraction, _resolve_keys

__all__ = ["ram_merging", "ram_tensor", "ramplus_tl_merging", "ramplus_tl_tensor"]


def _non_negative(value, name: str) -> float:
    return _fraction(value, name, 0.0, math.inf, high_open=True)


def _counting(taus: Sequence[torch.Tensor], epsilon: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stacked task vectors with non-counting entries zeroed, the counting mask and the per-entry count."""
    if isinstance(taus, torch.Tensor) or len(taus) == 0:
        raise ValueError("taus must be a non-empty sequence of tensors")
    stacked = torch.stack([_f32(t) for t in taus])
    counts_mask = stacked.abs() > epsilon
    return stacked * counts_mask, counts_mask, counts_mask.sum(dim=0)


def _ram_delta(taus: Sequence[torch.Tensor], epsilon: float, unique_scale: torch.Tensor | None) -> torch.Tensor:
    kept, counts_mask, count = _counting(taus, epsilon)
    unique, shared = count == 1, count > 1
    if unique_scale is not None:
        kept_unique = kept * unique_scale.reshape((-1,) + (1,) * (kept.dim() - 1))
    else:
        kept_unique = kept
    return (kept_unique * unique + kept * shared / count.clamp(min=1)).sum(dim=0)


def ram_tensor(taus: Sequence[torch.Tensor], epsilon: float = 1e-5) -> torch.Tensor:
    """The RAM merged delta of one tensor's task vectors ``taus`` (float32, their shape)."""
    return _ram_delta(taus, _non_negative(epsilon, "epsilon"), None)


def _reinforcement(taus: Sequence[torch.Tensor], r: float, alpha: float, epsilon: float) -> torch.Tensor:
    """RAM+'s per-model scale ``1 + r clamp(shared / max(unique, epsilon), 0, alpha)`` of unique changes."""
    _, counts_mask, count = _counting(taus, epsilon)
    flat = counts_mask.reshape(len(taus), -1)
    shared = (flat & (count > 1).reshape(1, -1)).sum(dim=1)
    unique = (flat & (count == 1).reshape(1, -1)).sum(dim=1)
    rho = shared / unique.clamp(min=epsilon)
    return 1.0 + r * rho.clamp(0.0, alpha)


def ramplus_tl_tensor(taus: Sequence[torch.Tensor], r: float = 0.1, alpha: float = 0.2,
                      epsilon: float = 1e-5) -> torch.Tensor:
    """The RAM+ (tensor-local) merged delta of one tensor's task vectors ``taus`` (float32, their shape)."""
    r, alpha = _non_negative(r, "r"), _non_negative(alpha, "alpha")
    epsilon = _non_negative(epsilon, "epsilon")
    return _ram_delta(taus, epsilon, _reinforcement(taus, r, alpha, epsilon))


def _merge(base, models, keys, delta, name: str) -> StateDict:
    if base is None:
        raise ValueError(f"base must be given for {name}")
    if isinstance(models, Mapping) or not isinstance(models, Sequence) or len(models) == 0:
        raise ValueError(f"models must hold at least one model besides the base for {name}")
    keys = _resolve_keys(base, models, keys)
    merged = {}
    for key in keys:
        b = _f32(base[key])
        merged[key] = b + delta([_f32(m[key]) - b for m in models])
    return _assemble(base, merged)


def ram_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                epsilon: float = 1e-5, keys: Sequence[str] | None = None) -> StateDict:
    """RAM of ``models`` onto ``base`` (mergekit's ``ram``); changes of at most ``epsilon`` are dropped."""
    epsilon = _non_negative(epsilon, "epsilon")
    return _merge(base, models, keys, lambda taus: ram_tensor(taus, epsilon), "RAM")


def ramplus_tl_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                       r: float = 0.1, alpha: float = 0.2, epsilon: float = 1e-5,
                       keys: Sequence[str] | None = None) -> StateDict:
    """RAM+ with tensor-local overlap ratios of ``models`` onto ``base`` (mergekit's ``ramplus_tl``)."""
    r, alpha = _non_negative(r, "r"), _non_negative(alpha, "alpha")
    epsilon = _non_negative(epsilon, "epsilon")
    return _merge(base, models, keys, lambda taus: ramplus_tl_tensor(taus, r, alpha, epsilon), "RAM+")
