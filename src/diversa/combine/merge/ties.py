"""TIES-Merging: trim, elect sign, disjoint merge.

Yadav, Tam, Choshen, Raffel, Bansal, "TIES-Merging: Resolving Interference
When Merging Models", NeurIPS 2023, arXiv:2306.01708. Spec ``merge.md`` 2.3.

1. Trim: keep exactly the ``floor(density * n)`` largest-magnitude entries of
   each task vector (as peft's ``topk``; found by selection, ties at the
   threshold kept in index order); ``scope="tensor"`` trims each tensor
   (peft, mergekit), ``scope="global"`` trims the whole flattened task vector
   (keys concatenated in sorted order; the official code, PCB and
   Twin-Merging repositories).
2. Elect a sign per entry: ``sign_method="sum"`` (peft ``"total"``) takes the
   sign of the summed trimmed vectors, ``"count"`` (peft ``"frequency"``) the
   sign of the summed signs. A zero goes to +1 (``zero_sign="positive"``, peft
   and mergekit) or to the sign of the summed elected signs over the scope
   (``"majority"``, the official TIES code).
3. Disjoint merge: average the trimmed entries whose sign agrees with the
   elected one.
4. ``theta = theta_0 + scaling * tau_m``.

Per-model ``weights`` follow one of two conventions, which differ (spec 2.3):

* ``convention="peft"``: signs are elected from the *unweighted* trimmed
  vectors; ``tau_m = sum_{agree} w_t tau_t / max(#agree, 1)``. When
  ``floor(density * n) == 0`` peft keeps nothing.
* ``convention="mergekit"``: signs are elected from the *weighted* vectors
  ``w_t tau_t`` (and agreement is judged on their signs);
  ``tau_m = sum_{agree} w_t tau_t / sum_{agree} w_t`` (divisor 0 -> 1), as
  mergekit's ``ties`` with ``normalize: true``. When ``floor(density * n) == 0``
  and ``density > 0`` one entry is kept (with a warning), as mergekit's
  ``sparsify.magnitude`` does (``k = max(1, int(density * numel))``; nothing
  is kept at ``density <= 0``).

With unit weights both equal the paper's definition. ``normalize=False`` skips
the division (mergekit's ``normalize: false``; for peft the plain sum).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _choice, _f32, _fraction, _resolve_keys, _weights

__all__ = ["disjoint_merge", "elect_sign", "magnitude_trim", "ties_merging", "ties_tensor"]

_SIGN_ALIASES = {"sum": "sum", "total": "sum", "count": "count", "frequency": "count"}


def magnitude_trim(tau: torch.Tensor, density: float, convention: str = "mergekit") -> torch.Tensor:
    """``tau`` with all but its ``floor(density * numel)`` largest-magnitude entries set to zero.

    ``density >= 1`` returns ``tau`` unchanged; when the kept count rounds to 0
    with ``density > 0``, mergekit's convention keeps one entry and peft's none.
    Returns a new float32 tensor of ``tau``'s shape.
    """
    density = _fraction(density, "density")
    _choice(convention, "convention", ("peft", "mergekit"))
    tau = _f32(tau)
    if density >= 1.0:
        return tau.clone()
    n = tau.numel()
    k = int(density * n)
    if k == 0 and density > 0 and n > 0 and convention == "mergekit":
        warnings.warn(f"density {density} keeps no entry of a tensor of {n} entries; keeping 1 "
                      "(mergekit convention)", RuntimeWarning, stacklevel=2)
        k = 1
    flat = tau.reshape(-1)
    if k <= 0:
        return torch.zeros_like(tau)
    if k >= n:
        return tau.clone()
    # The k-th largest magnitude by selection (O(n), ~3x faster than topk on large tensors); among entries
    # tied with it, the first ones in index order are kept, so exactly k survive.
    magnitude = flat.abs()
    threshold = torch.kthvalue(magnitude, n - k + 1).values
    keep = magnitude >= threshold
    extra = int(keep.sum()) - k
    if extra > 0:  # drop the last tied entries
        keep[torch.nonzero(magnitude == threshold).reshape(-1)[-extra:]] = False
    return torch.where(keep, flat, torch.zeros_like(flat)).reshape(tau.shape)


def elect_sign(stacked: torch.Tensor, sign_method: str = "sum", zero_sign: str = "positive") -> torch.Tensor:
    """Elected sign (+1/-1) per entry of ``stacked`` (tasks on dim 0), shape ``stacked.shape[1:]``."""
    method = _SIGN_ALIASES.get(sign_method)
    if method is None:
        raise ValueError(f"sign_method must be one of {sorted(_SIGN_ALIASES)}, got {sign_method!r}")
    _choice(zero_sign, "zero_sign", ("positive", "majority"))
    total = stacked.sum(dim=0) if method == "sum" else stacked.sign().sum(dim=0)
    gamma = total.sign()
    if zero_sign == "positive":
        return torch.where(gamma >= 0, 1.0, -1.0)
    majority = 1.0 if gamma.sum() >= 0 else -1.0
    return torch.where(gamma == 0, torch.tensor(majority), gamma)


def disjoint_merge(trimmed: Sequence[torch.Tensor], weights: Sequence[float] | torch.Tensor | None = None,
                   sign_method: str = "sum", zero_sign: str = "positive", convention: str = "peft",
                   normalize: bool = True) -> torch.Tensor:
    """TIES steps 2-3 on already sparsified task tensors: the merged delta ``tau_m``.

    Shared by TIES (after magnitude trimming) and DARE-TIES (after random
    dropping). See the module docstring for the two weight conventions.
    """
    _choice(convention, "convention", ("peft", "mergekit"))
    if isinstance(trimmed, torch.Tensor) or len(trimmed) == 0:
        raise ValueError("trimmed must be a non-empty sequence of tensors")
    stacked = torch.stack([_f32(t) for t in trimmed], dim=0)
    return _merge_stacked(stacked, _weights(weights, len(trimmed), "weights"), sign_method, zero_sign, convention,
                          normalize)


def _merge_stacked(stacked: torch.Tensor, weights: list[float], sign_method: str, zero_sign: str,
                   convention: str, normalize: bool) -> torch.Tensor:
    """Sign election and disjoint merge of ``stacked`` (tasks on dim 0), overwriting ``stacked``.

    Works in place so that a streamed merge holds about one stacked copy of
    the tensor: ``sign(x) == gamma`` is tested as ``x * gamma > 0`` on the
    stack multiplied by gamma and back (exact, gamma being +-1).
    """
    w = torch.tensor(weights, dtype=torch.float32).reshape((-1,) + (1,) * (stacked.dim() - 1))
    if convention == "mergekit":
        stacked.mul_(w)  # signs are elected on, and agreement judged by, the weighted vectors
    gamma = elect_sign(stacked, sign_method, zero_sign)
    stacked.mul_(gamma)
    agree = stacked > 0
    stacked.mul_(gamma)
    del gamma
    if convention == "peft":
        stacked.mul_(w)
    stacked.mul_(agree)
    merged = stacked.sum(dim=0)
    if normalize:
        if convention == "peft":
            merged.div_(agree.sum(dim=0, dtype=torch.float32).clamp_(min=1.0))
        else:
            divisor = torch.zeros_like(merged)
            for t, wt in enumerate(weights):
                divisor.add_(agree[t], alpha=wt)
            merged.div_(divisor.masked_fill_(divisor == 0, 1.0))
    return merged


def ties_tensor(taus: Sequence[torch.Tensor], weights: Sequence[float] | torch.Tensor | None = None,
                density: float | Sequence[float] = 0.2, sign_method: str = "sum", convention: str = "peft",
                zero_sign: str = "positive", normalize: bool = True) -> torch.Tensor:
    """The TIES merged delta ``tau_m`` of one tensor's task vectors (no scaling, no base).

    ``taus``: T tensors of one shape; ``density``: kept fraction, one value or
    one per task. Returns a float32 tensor of that shape.
    """
    if isinstance(taus, torch.Tensor) or len(taus) == 0:
        raise ValueError("taus must be a non-empty sequence of tensors")
    return _ties_delta(lambda t: taus[t], len(taus), tuple(taus[0].shape), weights, density, sign_method,
                       convention, zero_sign, normalize)


def _ties_delta(delta_of, n: int, shape, weights, density, sign_method, convention, zero_sign, normalize):
    """``tau_m`` from ``delta_of(t)`` (computed one task at a time, trimmed straight into one stack)."""
    _choice(convention, "convention", ("peft", "mergekit"))
    dens = _weights(density, n, "density")
    for d in dens:
        _fraction(d, "density")
    w = _weights(weights, n, "weights")
    stacked = torch.empty((n,) + tuple(shape), dtype=torch.float32)
    for t in range(n):
        delta = delta_of(t)
        if tuple(delta.shape) != tuple(shape):
            raise ValueError(f"taus[{t}] has shape {tuple(delta.shape)}, expected {tuple(shape)}")
        stacked[t] = magnitude_trim(delta, dens[t], convention)
        del delta
    return _merge_stacked(stacked, w, sign_method, zero_sign, convention, normalize)


def ties_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                 density: float | Sequence[float] = 0.2, scaling: float = 1.0, scope: str = "tensor",
                 sign_method: str = "sum", zero_sign: str = "positive",
                 weights: Sequence[float] | None = None, convention: str = "peft", normalize: bool = True,
                 keys: Sequence[str] | None = None) -> StateDict:
    """TIES-Merging of ``models`` onto ``base``: ``theta_0 + scaling * tau_m``.

    ``density`` is the kept fraction k (paper default 0.2, one value or one per
    model); ``scaling`` is lambda (paper grid 0.8-2.2 on validation).
    """
    if base is None:
        raise ValueError("base must be given for TIES-Merging")
    _choice(scope, "scope", ("tensor", "global"))
    if isinstance(scaling, bool) or not isinstance(scaling, (int, float)):
        raise TypeError(f"scaling must be a number, got {scaling!r}")
    keys = _resolve_keys(base, models, keys)
    dens = _weights(density, len(models), "density")
    for d in dens:
        _fraction(d, "density")
    w = _weights(weights, len(models), "weights")
    merged = {}
    if scope == "tensor":
        for key in keys:
            b = _f32(base[key])
            tau_m = _ties_delta(lambda t, key=key, b=b: _f32(models[t][key]) - b, len(models), b.shape, w, dens,
                                sign_method, convention, zero_sign, normalize)
            merged[key] = tau_m.mul_(float(scaling)).add_(b)
            del tau_m
    elif keys:
        order = sorted(keys)
        flat = [torch.cat([(_f32(m[k]) - _f32(base[k])).reshape(-1) for k in order]) for m in models]
        tau_m = ties_tensor(flat, w, dens, sign_method=sign_method, convention=convention, zero_sign=zero_sign,
                            normalize=normalize)
        start = 0
        for key in order:
            n = base[key].numel()
            merged[key] = _f32(base[key]) + float(scaling) * tau_m[start:start + n].reshape(base[key].shape)
            start += n
    return _assemble(base, merged)
