"""Linear interpolation between two models.

``alpha * a + (1 - alpha) * b`` on every shared floating key; the path of
linear-mode-connectivity studies (Frankle et al., "Linear Mode Connectivity
and the Lottery Ticket Hypothesis", ICML 2020, arXiv:1912.05671) and the last
step of ReCUT's two-model merge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys

__all__ = ["linear_interpolation"]


def linear_interpolation(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], alpha: float = 0.5,
                         keys: Sequence[str] | None = None) -> StateDict:
    """``alpha * a + (1 - alpha) * b`` on the merged keys; other keys from ``a``.

    ``alpha`` outside [0, 1] extrapolates along the line and is allowed.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"alpha must be a number, got {alpha!r}")
    keys = _resolve_keys(None, [a, b], keys)
    alpha = float(alpha)
    merged = {k: alpha * _f32(a[k]) + (1.0 - alpha) * _f32(b[k]) for k in keys}
    return _assemble(a, merged)
