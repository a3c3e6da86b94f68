"""NearSwap: take the other model's value only where it lies near the base's.

mergekit's ``nearswap`` method (by its contributor "alchemonaut", first used
for https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001; Goddard et
al., "Arcee's MergeKit: A Toolkit for Merging Large Language Models",
arXiv:2403.13257). Per entry, with base value ``a`` and the other model's
``b``, the weight of ``b`` is ``w = clamp(t / max(|a - b|, 1e-6), 0, 1)``: an
entry within ``t`` of the base is swapped for the model's value entirely,
entries further away move toward it by ``t`` in absolute terms
(``w (b - a)`` has magnitude ``t``). The merge is ``w b + (1 - w) a``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys

__all__ = ["nearswap", "nearswap_tensor"]


def _t(t) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise ValueError(f"t must be a non-negative number (the distance within which values are swapped), "
                         f"got {t!r}")
    return float(t)


def nearswap_tensor(t: float, base: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """NearSwap of one tensor: ``w other + (1 - w) base`` with ``w = clamp(t / |base - other|, 0, 1)`` (float32)."""
    t = _t(t)
    a, b = _f32(base), _f32(other)
    if a.shape != b.shape:
        raise ValueError(f"base and other have different shapes {tuple(a.shape)} and {tuple(b.shape)}")
    weight = (t / (a - b).abs().clamp(min=1e-6)).clamp(0.0, 1.0)
    return weight * b + (1.0 - weight) * a


def nearswap(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]], t: float,
             keys: Sequence[str] | None = None) -> StateDict:
    """NearSwap of the one model of ``models`` into ``base`` with distance ``t`` (mergekit's ``nearswap``)."""
    if base is None:
        raise ValueError("base must be given for NearSwap")
    if isinstance(models, Mapping) or not isinstance(models, Sequence) or len(models) != 1:
        raise ValueError("models must hold exactly one model besides the base for NearSwap")
    t = _t(t)
    keys = _resolve_keys(base, models, keys)
    return _assemble(base, {key: nearswap_tensor(t, base[key], models[0][key]) for key in keys})
