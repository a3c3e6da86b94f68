"""DARE: drop task-vector entries at random and rescale the survivors.

Yu, Yu, Yu, Huang, Li, "Language Models are Super Mario: Absorbing
Abilities from Homologous Models as a Free Lunch", ICML 2024,
arXiv:2311.03099. Spec ``merge.md`` 2.4.

``tau~_t = m_t * tau_t`` rescaled, ``m_t ~ Bernoulli(density)`` i.i.d., with
``density = 1 - drop_rate``. Rescaling options:

* ``rescale="inverse"`` (paper, peft): divide by ``density`` (unbiased);
* ``rescale="l1"`` (mergekit's ``dare_*`` with ``rescale: true``): multiply by
  ``||tau||_1 / ||m * tau||_1`` (skipped when either is below 1e-7);
* ``rescale="none"``: keep the masked entries as they are.

The dropped vectors are combined by Task Arithmetic (``combine="task_arithmetic"``,
peft/mergekit ``dare_linear``) or by TIES sign election and disjoint merge
(``combine="ties"``, ``dare_ties``; DARE replaces TIES' trim).

Randomness: with an integer ``random_state`` every (key, model) pair draws
from its own ``torch.Generator`` seeded from the state, the key name and the
model index, so a merge streamed one tensor at a time draws exactly what a
whole-state-dict call draws. With ``random_state=None`` the masks come from
torch's *global* generator, one ``torch.bernoulli`` call per model and key
(keys outer in the given order, models inner), which is bit-identical to peft's
``dare_linear``/``dare_ties`` and mergekit under the same ``torch.manual_seed``
(the documented exception to diversa's no-global-RNG rule). A density of 1
draws nothing, as in both libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.keys import (
    StateDict,
    _assemble,
    _choice,
    _f32,
    _fraction,
    _key_seed,
    _resolve_keys,
    _weights,
)
from diversa.combine.merge.ties import disjoint_merge

__all__ = ["combine_deltas", "dare", "dare_merging", "dare_tensor", "l1_rescale"]

_RESCALES = ("inverse", "l1", "none")


def dare_tensor(tau: torch.Tensor, density: float, rescale: str = "inverse",
                generator: torch.Generator | None = None) -> torch.Tensor:
    """One DARE draw of ``tau``: Bernoulli(``density``) mask, then rescaling (float32 result).

    ``generator=None`` draws from torch's global generator (peft-compatible).
    """
    density = _fraction(density, "density", low_open=True)
    _choice(rescale, "rescale", _RESCALES)
    tau = _f32(tau)
    if density >= 1.0:
        return tau.clone()
    mask = torch.bernoulli(torch.full_like(tau, density), generator=generator)
    masked = tau * mask
    if rescale == "inverse":
        return masked / density
    if rescale == "l1":
        return l1_rescale(tau, masked)
    return masked


def l1_rescale(tau: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """``masked * ||tau||_1 / ||masked||_1`` (mergekit's ``rescale: true``), ``masked`` itself when either
    norm is below 1e-7. Shared by DARE, DELLA and Model Breadcrumbs."""
    before, after = tau.abs().sum(), masked.abs().sum()
    if before < 1e-7 or after < 1e-7:
        return masked
    return masked * (before / after)


def check_sparse_merge(base, combine: str, scaling, method: str) -> None:
    """The arguments every sparsify-then-combine merge (DARE, DELLA, Model Breadcrumbs) shares."""
    if base is None:
        raise ValueError(f"base must be given for {method}")
    _choice(combine, "combine", ("task_arithmetic", "ties"))
    if isinstance(scaling, bool) or not isinstance(scaling, (int, float)):
        raise TypeError(f"scaling must be a number, got {scaling!r}")


def combine_deltas(sparse: Sequence[torch.Tensor], weights: Sequence[float], combine: str, normalize: bool,
                   sign_method: str = "sum", zero_sign: str = "positive", convention: str = "mergekit",
                   ) -> torch.Tensor:
    """The merged delta ``tau_m`` of sparsified task tensors: Task Arithmetic or TIES' disjoint merge.

    ``combine="task_arithmetic"``: ``sum_t w_t tau~_t`` (divided by ``sum_t w_t``
    when ``normalize``; a sum of about zero raises ``ValueError``).
    ``combine="ties"``: sign election and disjoint merge
    (:func:`~diversa.combine.merge.ties.disjoint_merge`). Shared by DARE, DELLA
    and Model Breadcrumbs, which differ only in how they sparsify.
    """
    _choice(combine, "combine", ("task_arithmetic", "ties"))
    if combine == "ties":
        return disjoint_merge(sparse, weights, sign_method=sign_method, zero_sign=zero_sign, convention=convention,
                              normalize=normalize)
    if normalize and abs(sum(weights)) < 1e-8:
        raise ValueError(f"weights sum to {sum(weights)}; cannot normalize")
    tau_m = sum(wt * x for wt, x in zip(weights, sparse))
    return tau_m / sum(weights) if normalize else tau_m


def _generator(random_state, key: str, index: int) -> torch.Generator | None:
    if random_state is None:
        return None
    if isinstance(random_state, bool) or not isinstance(random_state, int):
        raise TypeError(f"random_state must be an int or None, got {random_state!r}")
    return torch.Generator().manual_seed(_key_seed(random_state, key, index))


def dare(tv: Mapping[str, torch.Tensor], drop_rate: float = 0.9, rescale: str = "inverse",
         skip_1d: bool = False, random_state: int | None = None) -> StateDict:
    """DARE applied to one task vector ``tv`` (float32 result, same keys).

    ``skip_1d=True`` leaves 1-D tensors (biases, norms) unmasked, as
    Twin-Merging's implementation does.
    """
    if not isinstance(tv, Mapping):
        raise TypeError(f"tv must be a state dict, got {type(tv).__name__}")
    drop_rate = _fraction(drop_rate, "drop_rate", high_open=True)
    out = {}
    for key in tv:
        if skip_1d and tv[key].dim() <= 1:
            out[key] = _f32(tv[key]).clone()
        else:
            out[key] = dare_tensor(tv[key], 1.0 - drop_rate, rescale, _generator(random_state, key, 0))
    return out


def dare_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                 drop_rate: float | Sequence[float] = 0.9, combine: str = "task_arithmetic",
                 scaling: float = 1.0, weights: Sequence[float] | None = None, rescale: str = "inverse",
                 skip_1d: bool = False, sign_method: str = "sum", zero_sign: str = "positive",
                 convention: str = "peft", normalize: bool | None = None, random_state: int | None = None,
                 keys: Sequence[str] | None = None) -> StateDict:
    """DARE then Task Arithmetic or TIES: ``theta_0 + scaling * tau_m``.

    ``combine="task_arithmetic"``: ``tau_m = sum_t w_t tau~_t`` (divided by
    ``sum_t w_t`` when ``normalize``). ``combine="ties"``: TIES sign election and
    disjoint merge on ``tau~_t`` with the given ``convention`` (see
    :mod:`diversa.combine.merge.ties`). ``normalize=None`` takes the library
    default: peft divides TIES merges by the agreeing count and never divides
    linear ones; mergekit's ``dare_linear``/``dare_ties`` do not normalize.
    ``drop_rate`` (removed fraction, in [0, 1)) may be given per model.
    """
    check_sparse_merge(base, combine, scaling, "DARE merging")
    _choice(convention, "convention", ("peft", "mergekit"))
    _choice(rescale, "rescale", _RESCALES)
    keys = _resolve_keys(base, models, keys)
    drops = _weights(drop_rate, len(models), "drop_rate")
    for d in drops:
        _fraction(d, "drop_rate", high_open=True)
    w = _weights(weights, len(models), "weights")
    if normalize is None:
        normalize = combine == "ties" and convention == "peft"
    if combine == "task_arithmetic" and normalize and abs(sum(w)) < 1e-8:
        raise ValueError(f"weights sum to {sum(w)}; cannot normalize")
    merged = {}
    for key in keys:
        b = _f32(base[key])
        dropped = []
        for t, (m, d) in enumerate(zip(models, drops)):
            tau = _f32(m[key]) - b
            if skip_1d and tau.dim() <= 1:
                dropped.append(tau)
            else:
                dropped.append(dare_tensor(tau, 1.0 - d, rescale, _generator(random_state, key, t)))
        tau_m = combine_deltas(dropped, w, combine, normalize, sign_method, zero_sign, convention)
        merged[key] = b + float(scaling) * tau_m
    return _assemble(base, merged)
