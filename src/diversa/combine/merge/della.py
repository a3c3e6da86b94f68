"""DELLA: drop task-vector entries at random with probabilities ranked by magnitude (MAGPRUNE).

Deep, Bhardwaj, Majumder, Poria, "DELLA-Merging: Reducing Interference in
Model Merging through Magnitude-Based Sampling", arXiv:2406.11617. Where DARE
keeps every entry with the same probability, MAGPRUNE ranks the entries of
each row by magnitude and keeps the entry of normalized rank
``r in [0, 1]`` (0: smallest) with probability
``p = (density - epsilon) + 2 epsilon r``, so the mean keep rate is
``density`` and large entries survive more often. The kept entries are
rescaled -- by ``1 / p`` each in the paper (``rescale="inverse"``), by the
vector's L1 norm in mergekit (``rescale="l1"``, mergekit's ``rescale: true``,
the YAML default) -- and the vectors are combined by TIES' sign election and
disjoint merge (``della``) or Task Arithmetic (``della_linear``)
(:func:`~diversa.combine.merge.dare.combine_deltas`).

As in mergekit: ranks run along dimension 1 (each row of a matrix; a 1-D
tensor is one row), ``density >= 1`` keeps everything, ``density <= 0``
nothing, and ``density +- epsilon`` must lie in (0, 1) otherwise. A row of one
entry has no rank: it is kept with probability ``density``. Randomness as in
:mod:`diversa.combine.merge.dare`: an integer ``random_state`` gives each
(tensor, model) its own generator; ``None`` draws from torch's global
generator, one ``torch.bernoulli`` call per model and tensor, as mergekit does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from diversa.combine.merge.dare import _generator, check_sparse_merge, combine_deltas, l1_rescale
from diversa.combine.merge.keys import StateDict, _assemble, _choice, _f32, _fraction, _resolve_keys, _weights

__all__ = ["della_merging", "della_tensor", "magprune_probabilities"]

_RESCALES = ("inverse", "l1", "none")


def _check(density: float, epsilon: float) -> tuple[float, float]:
    density = _fraction(density, "density")
    epsilon = _fraction(epsilon, "epsilon")
    if 0.0 < density < 1.0 and not (0.0 < density - epsilon and density + epsilon < 1.0):
        raise ValueError(f"epsilon must leave density +- epsilon inside (0, 1); got density {density}, "
                         f"epsilon {epsilon}")
    return density, epsilon


def magprune_probabilities(tau: torch.Tensor, density: float, epsilon: float = 0.15) -> torch.Tensor:
    """MAGPRUNE keep probabilities of ``tau``'s entries, ranked along dimension 1 (float32, ``tau``'s shape
    with a 1-D tensor taken as one row)."""
    density, epsilon = _check(density, epsilon)
    x = _f32(tau)
    rows = x.unsqueeze(0) if x.dim() < 2 else x
    m = rows.shape[1]
    order = torch.argsort(rows.abs(), dim=1, stable=True)
    ranks = torch.empty_like(rows)
    positions = torch.arange(m, dtype=torch.float32).reshape((1, m) + (1,) * (rows.dim() - 2)).expand_as(rows)
    ranks.scatter_(1, order, positions.contiguous())
    normalized = ranks / (m - 1) if m > 1 else torch.full_like(rows, 0.5)
    return ((density - epsilon) + 2.0 * epsilon * normalized).reshape(x.shape)


def della_tensor(tau: torch.Tensor, density: float, epsilon: float = 0.15, rescale: str = "l1",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """One MAGPRUNE draw of ``tau`` (float32); ``generator=None`` draws from torch's global generator."""
    density, epsilon = _check(density, epsilon)
    _choice(rescale, "rescale", _RESCALES)
    tau = _f32(tau)
    if density >= 1.0:
        return tau.clone()
    if density <= 0.0:
        return torch.zeros_like(tau)
    probs = magprune_probabilities(tau, density, epsilon)
    shape = tau.unsqueeze(0).shape if tau.dim() < 2 else tau.shape
    mask = torch.bernoulli(probs.reshape(shape), generator=generator).reshape(tau.shape)
    masked = tau * mask
    if rescale == "inverse":
        return masked / probs
    if rescale == "l1":
        return l1_rescale(tau, masked)
    return masked


def della_merging(base: Mapping[str, torch.Tensor], models: Sequence[Mapping[str, torch.Tensor]],
                  density: float | Sequence[float] = 1.0, epsilon: float | Sequence[float] = 0.15,
                  combine: str = "ties", scaling: float = 1.0, weights: Sequence[float] | None = None,
                  rescale: str = "l1", normalize: bool = True, sign_method: str = "sum",
                  zero_sign: str = "positive", random_state: int | None = None,
                  keys: Sequence[str] | None = None) -> StateDict:
    """DELLA of ``models`` onto ``base``: ``theta_0 + scaling * tau_m``.

    ``density`` (mean keep rate) and ``epsilon`` (half the spread of the keep
    probabilities) are one value or one per model; mergekit's defaults (1.0,
    0.15) drop nothing until a density is set. ``combine="ties"`` is mergekit's
    ``della`` (``normalize`` true by default), ``"task_arithmetic"`` its
    ``della_linear`` (set ``normalize=False`` for mergekit's default there).
    """
    check_sparse_merge(base, combine, scaling, "DELLA")
    _choice(rescale, "rescale", _RESCALES)
    keys = _resolve_keys(base, models, keys)
    dens = _weights(density, len(models), "density")
    eps = _weights(epsilon, len(models), "epsilon")
    for d, e in zip(dens, eps):
        _check(d, e)
    w = _weights(weights, len(models), "weights")
    merged = {}
    for key in keys:
        b = _f32(base[key])
        sparse = [della_tensor(_f32(m[key]) - b, d, e, rescale, _generator(random_state, key, t))
                  for t, (m, d, e) in enumerate(zip(models, dens, eps))]
        merged[key] = b + float(scaling) * combine_deltas(sparse, w, combine, normalize, sign_method, zero_sign)
    return _assemble(base, merged)
