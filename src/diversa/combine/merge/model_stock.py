"""Model Stock: interpolate between the fine-tuned average and the base by the models' angle.

Jang, Yun, Han, "Model Stock: All we need is just a few fine-tuned models",
ECCV 2024, arXiv:2403.19522. With N fine-tuned models ``w_i`` of base ``w_0``,
the offsets ``w_i - w_0`` meet at an angle whose mean cosine ``cos theta``
(over every pair) sets the interpolation ratio
``t = N cos theta / (1 + (N - 1) cos theta)`` and the merge is
``t * mean_i(w_i) + (1 - t) * w_0``. As in mergekit's ``model_stock``, the
angle is taken per tensor (flattened), or per row of the last dimension with
``filter_wise=True``; a pair with a (near-)zero offset counts with norm
product ``1e-6``, and where ``1 + (N - 1) cos theta`` is (near) zero the base
is kept (t = 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _f32, _resolve_keys

__all__ = ["model_stock", "model_stock_tensor"]


def model_stock_tensor(base: torch.Tensor, tensors: Sequence[torch.Tensor], filter_wise: bool = False) -> torch.Tensor:
    """Model Stock of one tensor: ``tensors`` (N >= 2) merged onto ``base`` (float32, ``base``'s shape)."""
    if not isinstance(filter_wise, bool):
        raise TypeError(f"filter_wise must be true or false, got {filter_wise!r}")
    if isinstance(tensors, torch.Tensor) or len(tensors) < 2:
        raise ValueError("Model Stock needs at least two fine-tuned models besides the base (the angle between "
                         "their offsets)")
    w0 = _f32(base)
    shape = w0.shape
    if filter_wise:
        w0 = w0.reshape(1, -1) if w0.dim() <= 1 else w0
    else:
        w0 = w0.reshape(-1)
    ws = [_f32(w).reshape(w0.shape) for w in tensors]
    offsets = [w - w0 for w in ws]
    norms = [torch.linalg.vector_norm(o, dim=-1) for o in offsets]
    cosines = []
    for i in range(len(offsets)):
        for j in range(i + 1, len(offsets)):
            dot = (offsets[i] * offsets[j]).sum(dim=-1)
            cosines.append((dot / (norms[i] * norms[j]).clamp(min=1e-6)).clamp(-1.0, 1.0))
    cos = torch.stack(cosines).mean(dim=0).unsqueeze(-1)
    n = len(ws)
    denominator = 1.0 + (n - 1) * cos
    singular = denominator.abs() < 1e-6
    t = torch.where(singular, 0.0, n * cos / torch.where(singular, 1.0, denominator))
    average = torch.stack(ws).mean(dim=0)
    return (t * average + (1.0 - t) * w0).reshape(shape)


def model_stock(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                filter_wise: bool = False, keys: Sequence[str] | None = None) -> StateDict:
    """Model Stock of ``models`` (at least two) onto ``base``, per tensor (or per row with ``filter_wise``)."""
    if base is None:
        raise ValueError("base must be given for Model Stock")
    keys = _resolve_keys(base, models, keys)
    if len(models) < 2:
        raise ValueError(f"models must hold at least two fine-tuned models for Model Stock, got {len(models)}")
    merged = {key: model_stock_tensor(base[key], [m[key] for m in models], filter_wise) for key in keys}
    return _assemble(base, merged)
