"""PCB-Merging: per-parameter coefficients from intra- and inter-task competition.

Du, Lee, Li, Jiang, Guo, Hu, Zhang, Li, Liu, "Parameter Competition Balancing
for Model Merging", NeurIPS 2024, arXiv:2410.02396 (official code:
``duguodong7/pcb-merging``). Spec ``merge.md`` section 4.

With ``T`` the (n tasks x d entries) matrix of flattened task vectors:

1. ``A = rowclamp(|T|, c, c)`` clips each task's magnitudes to its [c, 1 - c]
   quantiles; ``T_c = sign(T) * A`` are the vectors that get merged.
2. Intra-balancing ``exp(n * rownorm(A)^2)`` (the paper's softmax without its
   per-row denominator, which cancels in step 5, as in the released code).
3. Inter-balancing ``tanh(T * sum_j T_j)`` (``inter="raw"``, NLP code) or
   ``tanh(T * sum_j sign(T_j) rownorm(A)_j)`` (``inter="normalized"``, vision code).
4. ``beta = intra * inter``; 5. drop: ``s = rownorm(rowclamp(beta, 1 - r, 0))``
   zeroes all but (slightly fewer than) the top ``r`` fraction of each row;
6. rescale: ``tau_m = sum_i s_i T_c,i / max(sum_i s_i, 1e-12)``;
7. ``theta = theta_0 + lambda * tau_m`` (optionally per-task ``lambda_i`` inside
   the sum, the ES variant's parametrization).

The released code, not the paper's formulas, is implemented (it produced the
reported numbers). The official code flattens the whole model
(``scope="global"``, default); ``scope="tensor"`` applies the same steps to
each tensor separately, which is what the streaming engine uses (quantiles
over the whole model cannot be taken one tensor at a time) -- a diversa
extension, not the paper's setting. The evolution-strategy search of per-task
lambdas (nevergrad) is not included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import StateDict, _assemble, _choice, _f32, _fraction, _resolve_keys, _weights

__all__ = ["pcb_merging", "pcb_scores", "rowclamp", "rownorm"]


def rowclamp(X: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Clip each row of ``X`` (n x d) into [sorted[floor(d lo)], sorted[floor(d (1 - hi)) - 1]].

    The upper index follows the official code, so with ``hi > 0`` the bound is
    at least the second-largest value even for tiny ``hi`` (a known quirk).
    """
    d = X.shape[1]
    k_lo = int(d * lo) + 1
    k_hi = int(d * (1 - hi))
    if k_hi == 0:  # the official ``sorted[-1]`` wraps to the maximum
        k_hi = d
    lower = torch.kthvalue(X, min(k_lo, d), dim=1, keepdim=True).values
    upper = torch.kthvalue(X, k_hi, dim=1, keepdim=True).values
    return torch.maximum(torch.minimum(X, upper), lower)


def rownorm(X: torch.Tensor) -> torch.Tensor:
    """Min-max normalization of each row to [0, 1] (a constant row becomes zeros)."""
    lo = X.min(dim=1, keepdim=True).values
    span = X.max(dim=1, keepdim=True).values - lo
    safe = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, (X - lo) / safe, torch.zeros_like(X))


def pcb_scores(T: torch.Tensor, pcb_ratio: float = 0.1, clamp_ratio: float = 0.01,
               inter: str = "raw") -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped task vectors ``T_c`` and PCB coefficients ``s`` in [0, 1], both (n x d).

    ``pcb_ratio``: fraction kept per task (0.1 for T5 in the paper's code);
    ``clamp_ratio``: outlier clipping quantile (0.01 in the NLP and vision code).
    """
    if not isinstance(T, torch.Tensor) or T.dim() != 2:
        raise ValueError("T must be a 2-D tensor (tasks x entries)")
    n = T.shape[0]
    if n < 2:
        raise ValueError(f"PCB needs at least 2 task vectors, got {n}")
    r = _fraction(pcb_ratio, "pcb_ratio", low_open=True)
    c = _fraction(clamp_ratio, "clamp_ratio", 0.0, 0.5, high_open=True)
    _choice(inter, "inter", ("raw", "normalized"))
    T = _f32(T)
    A = rowclamp(T.abs(), c, c) if c > 0 else T.abs()
    T_c = T.sign() * A
    normed = rownorm(A)
    intra = torch.exp(n * normed.square())
    if inter == "raw":
        agree = T.sum(dim=0, keepdim=True)
    else:
        agree = (T.sign() * normed).sum(dim=0, keepdim=True)
    beta = intra * torch.tanh(T * agree)
    s = rownorm(rowclamp(beta, 1.0 - r, 0.0))
    return T_c, s


def _pcb_delta(T, r, c, inter, lams):
    T_c, s = pcb_scores(T, r, c, inter)
    lam = torch.tensor(lams, dtype=torch.float32).reshape(-1, 1)
    return (lam * s * T_c).sum(dim=0) / s.sum(dim=0).clamp(min=1e-12)


def pcb_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                pcb_ratio: float = 0.1, clamp_ratio: float = 0.01, scaling: float = 1.0, inter: str = "raw",
                task_scalings: Sequence[float] | None = None, scope: str = "global",
                keys: Sequence[str] | None = None) -> StateDict:
    """PCB-Merging of ``models`` onto ``base``: ``theta_0 + scaling * tau_m``.

    ``scaling`` is lambda (the paper's NLP scripts grid 0.8-2.2 on validation);
    ``task_scalings`` are the per-task lambda_i of the ES variant (default 1).
    ``scope="global"`` flattens the merged keys in sorted order (official code).
    """
    if base is None:
        raise ValueError("base must be given for PCB-Merging")
    _choice(scope, "scope", ("global", "tensor"))
    if isinstance(scaling, bool) or not isinstance(scaling, (int, float)):
        raise TypeError(f"scaling must be a number, got {scaling!r}")
    keys = _resolve_keys(base, models, keys)
    if len(models) < 2:
        raise ValueError(f"PCB-Merging needs at least 2 models, got {len(models)}")
    lams = _weights(task_scalings, len(models), "task_scalings")
    merged = {}
    if scope == "tensor":
        for key in keys:
            b = _f32(base[key])
            T = torch.stack([(_f32(m[key]) - b).reshape(-1) for m in models])
            merged[key] = b + float(scaling) * _pcb_delta(T, pcb_ratio, clamp_ratio, inter, lams).reshape(b.shape)
    elif keys:
        order = sorted(keys)
        T = torch.stack([torch.cat([(_f32(m[k]) - _f32(base[k])).reshape(-1) for k in order]) for m in models])
        tau_m = _pcb_delta(T, pcb_ratio, clamp_ratio, inter, lams)
        start = 0
        for key in order:
            size = base[key].numel()
            merged[key] = _f32(base[key]) + float(scaling) * tau_m[start:start + size].reshape(base[key].shape)
            start += size
    return _assemble(base, merged)
